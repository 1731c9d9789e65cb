/*
 * checkuser.c: the --check-user=NAME helper mode (spec 1).  Reports what
 * a login of NAME would see: the passwd entry (never its hash, only
 * whether it is locked and its scheme), the identity the session would
 * take, the Maildir path, the message count and octets, how many sizes
 * are cached (spec 6), and the health of the UID state file and its lock,
 * and the policy of spec 4.2 and 4.3 (nologin, allow_nets, LOGIN-DELAY
 * with the next login allowed, EXPIRE with what the next QUIT removes).
 *
 * An administrator runs it, often as root, so it is strictly read-only:
 * it does not create the Maildir, move new/ to cur/, write the state file
 * or take its lock.  maildir_open() does all of these, which is why this
 * file lists the Maildir itself, with storage's read-only parts: the
 * state file through uidmap_load() and each size through
 * maildir_msg_size(), the rule a login uses; running it as root leaves
 * no root-owned file in a user's Maildir.  Like the session it trusts
 * nothing it reads: entries are opened with O_NOFOLLOW, only regular
 * files count, sums are checked, and text from the passwd file is
 * printed with control bytes escaped.
 */
#include <arpa/inet.h>
#include <sys/socket.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "auth.h"
#include "checkuser.h"
#include "config.h"
#include "maildir.h"
#include "passwd.h"
#include "policy.h"
#include "util.h"

#define CHECK_OK	0	/* a login would work */
#define CHECK_FAIL	1	/* a login would fail */
#define MAX_PATH	4096

/* What the scan of new/ and cur/ found. */
struct tally {
	uint64_t	 count;		/* regular, non-dot files */
	uint64_t	 cur, new;
	uint64_t	 octets;	/* exact CRLF sizes (spec 6) */
	uint64_t	 from_w;	/* size from ",W=" in the name */
	uint64_t	 from_state;	/* size cached in the state file */
	uint64_t	 unreadable;	/* no size: the file cannot be read */
	bool		 overflow;
	uint32_t	 expire_days;	/* spec 4.3: the user's EXPIRE */
	uint64_t	 now;
	uint64_t	 retrieved;	/* with a first retrieval ("@retr") */
	uint64_t	 expiring;	/* removed by the next QUIT */
};

/* Prints s with control bytes written as \xNN. */
static void
print_safe_raw(const char *s)
{
	unsigned char	c;

	for (; (c = (unsigned char)*s) != '\0'; s++) {
		if (c < 0x20 || c == 0x7f)
			printf("\\x%02x", c);
		else
			putchar(c);
	}
}

/* Prints "label: s" with control bytes written as \xNN. */
static void
print_safe(const char *label, const char *s)
{
	printf("%s: ", label);
	print_safe_raw(s);
	putchar('\n');
}

static bool
hash_locked(const char *h)
{
	return h[0] == '\0' || h[0] == '!' || h[0] == '*';
}

/* The crypt scheme of a hash, for the report; the hash is never shown. */
static const char *
hash_scheme(const char *h)
{
	static const struct {
		const char	*prefix;
		const char	*name;
	} schemes[] = {
		{ "$y$", "yescrypt" }, { "$7$", "scrypt" },
		{ "$2b$", "bcrypt" }, { "$2y$", "bcrypt" },
		{ "$6$", "sha512crypt" }, { "$5$", "sha256crypt" },
		{ NULL, NULL }
	};
	size_t	i;

	for (i = 0; schemes[i].prefix != NULL; i++)
		if (strncmp(h, schemes[i].prefix,
		    strlen(schemes[i].prefix)) == 0)
			return schemes[i].name;
	return "other crypt(3) scheme";
}

/* Counts one message file: its size from W=, the state file, or reading. */
static void
tally_msg(int dirfd, const char *file, const struct uidmap *m,
    struct tally *t)
{
	const struct uidmap_entry	*e;
	enum maildir_size_from		 from;
	char				 base[NAME_MAX + 1];
	uint64_t			 size;

	(void)strlcpy_(base, file, sizeof(base));
	base[strcspn(base, ":")] = '\0';
	e = uidmap_find(m, base);
	if (e != NULL && e->retr != 0) {
		t->retrieved++;
		if (policy_expired(e->retr, t->expire_days, t->now))
			t->expiring++;
	}
	/* spec 6: as a login sizes it (maildir.h). */
	if (maildir_msg_size(dirfd, file, e, &size, &from) == -1) {
		t->unreadable++;
		return;
	}
	if (from == SIZE_FROM_NAME)
		t->from_w++;
	else if (from == SIZE_FROM_STATE)
		t->from_state++;
	if (__builtin_add_overflow(t->octets, size, &t->octets))
		t->overflow = true;
}

/* Scans new/ or cur/ of the Maildir; returns -1 when it cannot be read. */
static int
scan_dir(int mdfd, const char *sub, const struct uidmap *m,
    struct tally *t, uint64_t *count_out)
{
	struct dirent	*de;
	struct stat	 sb;
	uint64_t	 count = 0;
	DIR		*d;
	int		 fd;

	fd = openat(mdfd, sub, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC);
	if (fd == -1)
		return -1;
	if ((d = fdopendir(fd)) == NULL) {
		(void)close(fd);
		return -1;
	}
	errno = 0;
	while ((de = readdir(d)) != NULL) {
		/* spec 5: dotfiles and anything but regular files are ignored. */
		if (de->d_name[0] == '.' ||
		    fstatat(fd, de->d_name, &sb, AT_SYMLINK_NOFOLLOW) == -1 ||
		    !S_ISREG(sb.st_mode))
			continue;
		count++;
		tally_msg(fd, de->d_name, m, t);
	}
	(void)closedir(d);
	t->count += count;
	*count_out = count;
	return 0;
}

/* The lock of the state file: absent, held, or stale (spec 6). */
static void
report_lock(int mdfd)
{
	struct stat	sb;
	time_t		age;

	if (fstatat(mdfd, UIDMAP_LOCK, &sb, AT_SYMLINK_NOFOLLOW) == -1) {
		printf("uid-lock: %s\n", errno == ENOENT ? "free" :
		    strerror(errno));
		return;
	}
	age = time(NULL) - sb.st_mtime;
	if (age > UIDMAP_LOCK_STALE)
		printf("uid-lock: stale (%lld s old; the next login removes "
		    "it)\n", (long long)age);
	else
		printf("uid-lock: held (%lld s old; a login is updating the "
		    "state file)\n", (long long)age);
}

/* The UID state file; returns false when a login could not use it. */
static bool
report_state(const struct config *cfg, int mdfd, struct uidmap *m)
{
	if (uidmap_load(mdfd, cfg->uidl_import, m) == -1) {
		printf("uid-state: unreadable: %s\n", strerror(errno));
		printf("problem: the UID state file cannot be read\n");
		return false;
	}
	switch (m->status) {
	case UIDMAP_OK:
		printf("uid-state: ok (%zu entries, next UID %llu)\n",
		    m->count, (unsigned long long)m->next);
		break;
	case UIDMAP_MISSING:
		printf("uid-state: missing (the first login writes it)\n");
		if (m->imported > 0)
			printf("uid-import: %zu UIDLs from %s (the first login "
			    "keeps them for good)\n", m->imported, m->source);
		else if (cfg->uidl_import == UIDMAP_IMPORT_FILENAME)
			printf("uid-import: base names (the first login keeps "
			    "them for good)\n");
		break;
	case UIDMAP_CORRUPT:
		printf("uid-state: corrupt: %s (the next login rebuilds it "
		    "with UIDs from %llu)\n", m->why != NULL ? m->why : "?",
		    (unsigned long long)m->next);
		break;
	}
	report_lock(mdfd);
	return true;
}

/* spec 4.3: LOGIN-DELAY and EXPIRE as they apply to this user. */
static void
report_policy(const struct policy *p)
{
	if (p->login_delay == 0)
		printf("login-delay: off\n");
	else
		printf("login-delay: %u s (%s)\n", (unsigned int)p->login_delay,
		    p->user_delay ? "per user" : "setting");
	if (p->expire_days == EXPIRE_NEVER)
		printf("expire: never\n");
	else
		printf("expire: %u days (%s)\n", (unsigned int)p->expire_days,
		    p->user_expire ? "per user" : "setting");
}

/* spec 4.3: the last login the state file keeps, and the next allowed. */
static void
report_delay(const struct policy *p, const struct uidmap *m, uint64_t now)
{
	char		 when[64];
	struct tm	 tm;
	time_t		 t;
	uint64_t	 last = m->status == UIDMAP_OK ? m->last_login : 0;

	if (p->login_delay == 0)
		return;
	if (last == 0) {
		printf("last-login: not recorded; next login allowed now\n");
		return;
	}
	t = (time_t)last;
	if (gmtime_r(&t, &tm) == NULL ||
	    strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S UTC", &tm) == 0)
		(void)strlcpy_(when, "?", sizeof(when));
	if (last > now || now - last >= p->login_delay)
		printf("last-login: %s (%llu s ago); next login allowed now\n",
		    when, (unsigned long long)(last > now ? 0 : now - last));
	else
		printf("last-login: %s (%llu s ago); next login allowed in "
		    "%llu s\n", when, (unsigned long long)(now - last),
		    (unsigned long long)(last + p->login_delay - now));
}

/* Reports the messages of an open Maildir; returns false on a problem. */
static bool
report_messages(int mdfd, const struct uidmap *m, const struct policy *p)
{
	struct tally	t;
	bool		ok = true;

	memset(&t, 0, sizeof(t));
	t.expire_days = p->expire_days;
	t.now = (uint64_t)time(NULL);
	report_delay(p, m, t.now);
	if (scan_dir(mdfd, "new", m, &t, &t.new) == -1 && errno != ENOENT) {
		printf("problem: cannot read new/: %s\n", strerror(errno));
		ok = false;
	}
	if (scan_dir(mdfd, "cur", m, &t, &t.cur) == -1 && errno != ENOENT) {
		printf("problem: cannot read cur/: %s\n", strerror(errno));
		ok = false;
	}
	printf("messages: %llu (%llu in cur/, %llu in new/)\n",
	    (unsigned long long)t.count, (unsigned long long)t.cur,
	    (unsigned long long)t.new);
	if (t.overflow)
		printf("octets: too large to count\n");
	else
		printf("octets: %llu%s\n", (unsigned long long)t.octets,
		    t.unreadable > 0 ? " (readable messages only)" : "");
	printf("sizes-cached: %llu of %llu (%llu from ,W= names, %llu in the "
	    "state file)\n", (unsigned long long)(t.from_w + t.from_state),
	    (unsigned long long)t.count, (unsigned long long)t.from_w,
	    (unsigned long long)t.from_state);
	if (t.expire_days != EXPIRE_NEVER)
		printf("expire-next-quit: %llu of %llu messages (%llu "
		    "retrieved)%s\n", (unsigned long long)t.expiring,
		    (unsigned long long)t.count,
		    (unsigned long long)t.retrieved, t.expire_days == 0 ?
		    ", and every message that session retrieves" : "");
	if (t.unreadable > 0) {
		printf("problem: %llu messages cannot be read\n",
		    (unsigned long long)t.unreadable);
		ok = false;
	}
	return ok;
}

/*
 * spec 9: whether the login, as e's uid and gid when it runs as root
 * (otherwise as this process), may create an entry in directory sb.
 * Supplementary groups are not counted: the login drops them.
 */
static bool
can_create(const struct stat *sb, const char *dir,
    const struct passwd_entry *e)
{
	uid_t	uid = e->has_uid ? e->uid : geteuid();
	gid_t	gid = e->has_gid ? e->gid : getegid();

	if (geteuid() != 0)
		return faccessat(AT_FDCWD, dir, W_OK | X_OK, AT_EACCESS) == 0;
	if (uid == 0)
		return true;
	if (sb->st_uid == uid)
		return (sb->st_mode & 0300) == 0300;
	if (sb->st_gid == gid)
		return (sb->st_mode & 0030) == 0030;
	return (sb->st_mode & 0003) == 0003;
}

/* Opens the Maildir read-only and reports it; false on a problem. */
static bool
report_maildir(const struct config *cfg, const struct policy *p,
    const char *path, const struct passwd_entry *e)
{
	struct uidmap	 m;
	struct stat	 sb;
	char		 parent[MAX_PATH];
	bool		 ok;
	int		 fd;

	fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd == -1 && errno == ENOENT) {
		(void)strlcpy_(parent, path, sizeof(parent));
		if (strrchr(parent, '/') != NULL)
			*strrchr(parent, '/') = '\0';
		if (parent[0] != '\0' && (stat(parent, &sb) == -1 ||
		    !S_ISDIR(sb.st_mode))) {
			printf("maildir-state: missing, and so is its parent "
			    "directory\n");
			printf("problem: the login cannot create the Maildir\n");
			return false;
		}
		if (parent[0] != '\0' && !can_create(&sb, parent, e)) {
			printf("maildir-state: missing, and its parent directory "
			    "is not writable by the login's user\n");
			printf("problem: the login cannot create the Maildir "
			    "(it would answer [SYS/TEMP])\n");
			return false;
		}
		printf("maildir-state: missing (the first login creates it)\n");
		printf("messages: 0\n");
		return true;
	}
	if (fd == -1 || fstat(fd, &sb) == -1) {
		printf("maildir-state: cannot open: %s\n", strerror(errno));
		printf("problem: the login would answer [SYS/TEMP]\n");
		if (fd != -1)
			(void)close(fd);
		return false;
	}
	printf("maildir-state: exists (owner uid %lu gid %lu, mode %04o)\n",
	    (unsigned long)sb.st_uid, (unsigned long)sb.st_gid,
	    (unsigned int)(sb.st_mode & 07777));
	printf("uidl: %s\n", cfg->uidl == UIDL_COUNTER ? "counter" :
	    "filename");
	ok = report_state(cfg, fd, &m);
	if (!report_messages(fd, &m, p))
		ok = false;
	/* spec 6, C0009: the UIDLs clients will see, before a migration. */
	if (checkuser_uidl_preview(fd, cfg->uidl == UIDL_COUNTER,
	    (enum uidmap_import)cfg->uidl_import, stdout) == -1) {
		printf("problem: cannot list the UIDLs: %s\n", strerror(errno));
		ok = false;
	}
	uidmap_free(&m);
	(void)close(fd);
	return ok;
}

/* One allow_nets entry as text ("192.0.2.0/24"). */
static void
print_net(const struct net_prefix *n)
{
	char	 a[INET6_ADDRSTRLEN];

	if (inet_ntop(n->family, n->addr, a, sizeof(a)) == NULL)
		(void)strlcpy_(a, "?", sizeof(a));
	printf(" %s/%u", a, n->bits);
}

/* spec 4.2: nologin and allow_nets; false when no login can work. */
static bool
report_access(const struct passwd_entry *e)
{
	unsigned int	 i;

	if (e->nologin) {
		printf("nologin: yes (reply: -ERR [AUTH] ");
		print_safe_raw(e->reason[0] != '\0' ? e->reason :
		    "Account disabled");
		printf(")\n");
		printf("problem: nologin: the account cannot log in\n");
	} else
		printf("nologin: no\n");
	printf("allow-nets:");
	if (e->nnets == 0)
		printf(" any");
	for (i = 0; i < e->nnets; i++)
		print_net(&e->nets[i]);
	putchar('\n');
	return !e->nologin;
}

/* The passwd entry, without its hash; returns false on a problem. */
static bool
report_entry(const struct passwd_entry *e)
{
	bool	ok = true;

	if (e->pw_scram >= 0)
		printf("account: enabled ({SCRAM-SHA-%s} hash field)\n",
		    e->pw_scram == SCRAM_SHA_1 ? "1" : "256");
	else if (hash_locked(e->hash)) {
		printf("account: locked (the hash field is empty or starts "
		    "with ! or *)\n");
		printf("problem: a locked account never authenticates\n");
		ok = false;
	} else
		printf("account: enabled (%s hash)\n", hash_scheme(e->hash));
	if (!e->has_uid && !e->has_gid)
		printf("identity: the handler's own (empty uid and gid)\n");
	else {
		printf("identity: uid %s%lu, gid %s%lu (when the handler "
		    "runs as root)\n", e->has_uid ? "" : "own ",
		    (unsigned long)(e->has_uid ? e->uid : geteuid()),
		    e->has_gid ? "" : "own ",
		    (unsigned long)(e->has_gid ? e->gid : getegid()));
		if (e->has_uid && e->uid == 0) {
			printf("problem: uid 0 is refused at login\n");
			ok = false;
		}
	}
	print_safe("home", e->home);
	return report_access(e) && ok;
}

/*
 * spec 4.1: which of the configured mechanisms this user's credentials
 * allow (USER/PASS, PLAIN, LOGIN: a usable hash field or app passwords;
 * SCRAM: keys for the hash; NTLM: ntlm=; GSSAPI: a keytab).  Where each
 * is offered still depends on the connection (plaintext-auth, TLS).
 */
static void
report_mechs(const struct config *cfg, const struct passwd_entry *e)
{
	bool	 pw = !hash_locked(e->hash) || e->pw_scram >= 0, can;
	const char *n;
	int	 m;

	printf("mechanisms:");
	if (pw)
		printf(" USER");
	for (m = 0; pw && m < MECH_COUNT; m++) {
		if ((cfg->auth_mechs & MECH_BIT(m)) == 0)
			continue;
		switch (m) {
		case MECH_SCRAM_SHA_1:
		case MECH_SCRAM_SHA_1_PLUS:
			can = e->scram[SCRAM_SHA_1].set;
			break;
		case MECH_SCRAM_SHA_256:
		case MECH_SCRAM_SHA_256_PLUS:
			can = e->scram[SCRAM_SHA_256].set;
			break;
		case MECH_GSSAPI:
			can = cfg->gssapi_keytab != NULL;
			break;
		case MECH_NTLM:
			can = e->has_ntlm;
			break;
		default:
			can = true;
		}
		if (!can)
			continue;
		putchar(' ');
		for (n = config_mech_name((enum auth_mech)m); *n != '\0'; n++)
			putchar(*n >= 'a' && *n <= 'z' ? *n - 'a' + 'A' : *n);
	}
	printf("%s\n", pw ? "" : " none (locked account)");
}

int
checkuser_run(const struct config *cfg, const char *name)
{
	struct passwd_entry	e;
	struct policy		p;
	char			path[MAX_PATH];
	bool			ok;

	print_safe("user", name);
	print_safe("passwd-file", cfg->passwd_file);
	if (!auth_valid_username(name, strlen(name))) {
		printf("account: not a valid user name (spec 4)\n");
		printf("result: a login would fail\n");
		return CHECK_FAIL;
	}
	if (auth_lookup(cfg->passwd_file, name, &e) == -1) {
		if (errno != ENOENT) {
			struct stat	sb;
			int		err = errno;

			/* auth_lookup() gives EIO for a missing file. */
			if (stat(cfg->passwd_file, &sb) == -1)
				err = errno;
			printf("problem: cannot read the passwd file: %s\n",
			    strerror(err));
			return EXIT_CONFIG;
		}
		printf("account: no such user\n");
		printf("result: a login would fail\n");
		return CHECK_FAIL;
	}
	ok = report_entry(&e);
	report_mechs(cfg, &e);
	policy_init(&p, cfg, &e);
	report_policy(&p);
	if (maildir_expand_path(cfg->maildir, name, e.home, path,
	    sizeof(path)) == -1) {
		printf("maildir: cannot expand \"%s\" (empty home field?)\n",
		    cfg->maildir);
		printf("problem: no Maildir path\n");
		ok = false;
	} else {
		print_safe("maildir", path);
		if (!report_maildir(cfg, &p, path, &e))
			ok = false;
	}
	explicit_bzero(&e, sizeof(e));
	printf("result: a login would %s\n", ok ? "work" : "fail");
	return ok ? CHECK_OK : CHECK_FAIL;
}
