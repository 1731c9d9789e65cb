/*
 * auth.c: the passwd file, password verification, SASL PLAIN decoding and
 * the privilege drop (spec 4).
 *
 * This code runs before authentication, usually as the service account and
 * sometimes as root (passwd files that name uids).  It trusts neither the
 * client nor the passwd file: lines are bounded (AUTH_MAX_LINE), every
 * field is checked, a bad line is logged by number (never its hash) and
 * skipped, and the file is opened with O_NOFOLLOW and read fresh by every
 * process.  Passwords and decoded SASL blobs are cleared with
 * explicit_bzero() on every path.  An unknown user, a locked account and a
 * password that can never match still pay for one crypt_r() call, so the
 * answer time does not tell them apart from a wrong password.
 *
 * One deliberate exception to style 3.2: cost_hash below is file-scope
 * mutable state.  auth_lookup() keeps the first usable hash of the passwd
 * file there, and auth_verify(NULL) then runs crypt_r() at that hash's
 * cost.  With a fixed dummy alone, an unknown user would answer 15 times
 * faster than a known one in a $y$ file (spec 4: the same cost).
 *
 * Nothing here writes protocol replies; results go back to session.c.
 * auth_become_user() is the only function that changes credentials.
 */
/* GNU: setresuid(), setresgid(), getresuid(), getresgid(). */
#define _GNU_SOURCE
#include <sys/types.h>
#include <sys/stat.h>

#include <crypt.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "auth.h"
#include "log.h"
#include "sasl.h"
#include "util.h"

#define AUTH_MAX_LINE	8192	/* one passwd line incl. LF; longer: bad */

/*
 * The hash verified for unknown users and accounts without a usable hash:
 * SHA-512 crypt with the default 5000 rounds, the cost of the passwd
 * lines the test suite and `openssl passwd -6` write.  The password behind
 * it was random and thrown away.
 */
static const char dummy_hash[] =
    "$6$CgecjuvYFJSMK3z$rdtaYRP5hqRzqddVe9Fpxly7SYQe/9fYCkQt9P9O4iwi6KGN"
    "mrnfNSKNUodKRC8Ha7l17hZ.J9PxHm8FWwHQK/";

/* The first usable hash auth_lookup() saw; empty: use dummy_hash. */
static char cost_hash[AUTH_MAX_HASH];

/*
 * The shape (iterations, salt length) of the first SCRAM keys of each hash
 * in the passwd file, for sasl.c's decoy: file-scope for the same reason
 * as cost_hash.  A fixed shape would tell an unknown name from a real one
 * wherever the real keys were made with another count.
 */
static struct {
	bool		set;
	uint32_t	iter;
	size_t		salt_len;
} scram_shape[SCRAM_NHASH];
static bool shapes_complete;	/* the whole file was read: nothing more */

static void
note_shapes(const struct passwd_entry *e)
{
	int h;

	for (h = 0; h < SCRAM_NHASH; h++)
		if (e->scram[h].set && !scram_shape[h].set) {
			scram_shape[h].set = true;
			scram_shape[h].iter = e->scram[h].iter;
			scram_shape[h].salt_len = e->scram[h].salt_len;
		}
}


const char auth_err_authzid[] = "authorization identity differs";

/* A passwd file read one bounded line at a time. */
struct lreader {
	int		 fd;
	bool		 eof;
	size_t		 off;		/* start of unread data in buf */
	size_t		 len;		/* end of data in buf */
	unsigned long	 lineno;
	char		 buf[AUTH_MAX_LINE];
};

enum { LR_EOF, LR_LINE, LR_TOOLONG, LR_ERROR };

static int
lr_open(struct lreader *r, const char *file)
{
	struct stat	st;

	memset(r, 0, sizeof(*r));
	r->fd = open(file, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
	if (r->fd == -1)
		return -1;
	if (fstat(r->fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		if (fstat(r->fd, &st) == 0)
			errno = EINVAL;		/* not a regular file */
		(void)close(r->fd);
		return -1;
	}
	return 0;
}

/*
 * Gives the next line in *line_out and *len_out, valid until the next call.
 * A line longer than the buffer is consumed and reported as LR_TOOLONG.
 */
static int
lr_next(struct lreader *r, char **line_out, size_t *len_out)
{
	char	*nl, *start;
	ssize_t	 n;
	bool	 toolong = false;

	for (;;) {
		start = r->buf + r->off;
		nl = memchr(start, '\n', r->len - r->off);
		if (nl == NULL && r->eof && r->off < r->len)
			nl = r->buf + r->len;	/* last line without LF */
		if (nl != NULL) {
			r->off = (size_t)(nl - r->buf) + (nl < r->buf + r->len);
			r->lineno++;
			*line_out = start;
			*len_out = (size_t)(nl - start);
			return toolong ? LR_TOOLONG : LR_LINE;
		}
		if (r->eof) {
			if (toolong)
				r->lineno++;
			return toolong ? LR_TOOLONG : LR_EOF;
		}
		memmove(r->buf, start, r->len - r->off);
		r->len -= r->off;
		r->off = 0;
		if (r->len == sizeof(r->buf)) {
			toolong = true;		/* discard up to the LF */
			r->len = 0;
		}
		n = read(r->fd, r->buf + r->len, sizeof(r->buf) - r->len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			return LR_ERROR;
		if (n == 0)
			r->eof = true;
		r->len += (size_t)n;
	}
}

static void
log_bad_line(const char *file, unsigned long lineno, const char *why)
{
	log_warnx("%s: line %lu: %s; line skipped", file, lineno, why);
}

int
auth_lookup(const char *file, const char *name, struct passwd_entry *out)
{
	struct lreader		*r;
	struct passwd_entry	*e;
	const char		*why;
	char			*line;
	size_t			 len;
	int			 rv = -1, err = ENOENT, k;

	if (!auth_valid_username(name, strlen(name))) {
		errno = ENOENT;
		return -1;
	}
	if ((r = malloc(sizeof(*r))) == NULL)
		return -1;
	if ((e = malloc(sizeof(*e))) == NULL) {
		free(r);
		return -1;
	}
	if (lr_open(r, file) == -1) {
		/*
		 * spec 9: a server fault, logged with the real errno; the
		 * caller gets EIO for a missing file so that it does not
		 * read as "no such user".
		 */
		err = errno == ENOENT ? EIO : errno;
		log_event(EVENT_ERROR, "cannot read the passwd file %s: %s",
		    file, strerror(errno));
		goto done;
	}
	while ((k = lr_next(r, &line, &len)) != LR_EOF) {
		if (k == LR_ERROR) {
			err = errno == ENOENT ? EIO : errno;
			log_event(EVENT_ERROR, "cannot read the passwd file "
			    "%s: %s", file, strerror(errno));
			break;
		}
		if (k == LR_TOOLONG) {
			log_bad_line(file, r->lineno, "line too long");
			continue;
		}
		switch (auth_parse_line(line, len, e, &why)) {
		case -1:
			log_bad_line(file, r->lineno, why);
			break;
		case 1:
			if (cost_hash[0] == '\0' && !auth_hash_locked(e->hash))
				(void)strlcpy_(cost_hash, e->hash,
				    sizeof(cost_hash));
			note_shapes(e);
			if (strcmp(e->name, name) != 0)
				break;
			*out = *e;
			rv = 0;
			goto close;
		}
	}
	shapes_complete = k == LR_EOF;
close:
	(void)close(r->fd);
done:
	explicit_bzero(r, sizeof(*r));
	explicit_bzero(e, sizeof(*e));
	free(r);
	free(e);
	if (rv == -1)
		errno = err;
	return rv;
}

bool
auth_scram_shape(const char *file, enum scram_hash h, uint32_t *iter_out,
    size_t *salt_len_out)
{
	struct lreader		*r;
	struct passwd_entry	*e;
	const char		*why;
	char			*line;
	size_t			 len;
	int			 k;

	if (!scram_shape[h].set && !shapes_complete &&
	    (r = malloc(sizeof(*r))) != NULL) {
		if ((e = malloc(sizeof(*e))) != NULL && lr_open(r, file) == 0) {
			while (!scram_shape[h].set &&
			    (k = lr_next(r, &line, &len)) != LR_EOF &&
			    k != LR_ERROR)
				if (k == LR_LINE &&
				    auth_parse_line(line, len, e, &why) == 1)
					note_shapes(e);
			(void)close(r->fd);
		}
		explicit_bzero(r, sizeof(*r));
		if (e != NULL)
			explicit_bzero(e, sizeof(*e));
		free(r);
		free(e);
	}
	if (!scram_shape[h].set)
		return false;
	*iter_out = scram_shape[h].iter;
	*salt_len_out = scram_shape[h].salt_len;
	return true;
}

int
auth_check_file(const char *file)
{
	struct lreader		*r;
	struct passwd_entry	*e;
	const char		*why;
	char			*line;
	size_t			 len;
	int			 bad = 0, k;

	if ((r = malloc(sizeof(*r))) == NULL)
		return -1;
	if ((e = malloc(sizeof(*e))) == NULL || lr_open(r, file) == -1) {
		log_warn("passwd file %s", file);
		free(e);
		free(r);
		return -1;
	}
	while ((k = lr_next(r, &line, &len)) != LR_EOF) {
		if (k == LR_ERROR) {
			log_warn("passwd file %s", file);
			bad = -1;
			break;
		}
		why = "line too long";
		if (k == LR_TOOLONG || auth_parse_line(line, len, e, &why) == -1) {
			log_bad_line(file, r->lineno, why);
			if (bad < INT32_MAX)
				bad++;
		}
	}
	(void)close(r->fd);
	explicit_bzero(r, sizeof(*r));
	explicit_bzero(e, sizeof(*e));
	free(r);
	free(e);
	return bad;
}

/* Compares without an early exit; the lengths of hashes are not secret. */
static bool
ct_equal(const char *a, const char *b)
{
	size_t		 alen = strlen(a), blen = strlen(b), i;
	unsigned char	 d = 0;

	if (alen != blen)
		return false;
	for (i = 0; i < alen; i++)
		d |= (unsigned char)a[i] ^ (unsigned char)b[i];
	return d == 0;
}

/* The setting crypt_r() runs with, and whether a match may succeed. */
static const char *
verify_setting(const struct passwd_entry *e, bool *usable)
{
	*usable = false;
	if (e == NULL)
		return cost_hash[0] != '\0' ? cost_hash : dummy_hash;
	if (!auth_hash_locked(e->hash)) {
		*usable = true;
		return e->hash;
	}
	/* A locked "!$6$..." still costs what its own hash costs. */
	if (e->hash[0] != '\0' && e->hash[1] == '$' &&
	    crypt_checksalt(e->hash + 1) != CRYPT_SALT_INVALID)
		return e->hash + 1;
	return cost_hash[0] != '\0' ? cost_hash : dummy_hash;
}

/* One crypt_r() of buf with setting; true if it reproduces the setting. */
static bool
crypt_matches(struct crypt_data *cd, const char *buf, const char *setting,
    bool usable)
{
	const char *res;

	res = crypt_r(buf, setting, cd);
	return usable && res != NULL && res[0] != '*' && ct_equal(res, setting);
}

bool
auth_verify(const struct passwd_entry *e, const char *pw, size_t len,
    const char **cred_out)
{
	struct crypt_data	*cd;
	const char		*setting;
	char			*buf;
	bool			 usable, open, ok = false;
	unsigned int		 i;

	if (cred_out != NULL)
		*cred_out = NULL;
	setting = verify_setting(e, &usable);
	/* A {SCRAM-*} hash field: app passwords still work (spec 4.1). */
	open = usable || (e != NULL && e->pw_scram >= 0);
	/* spec 4: a password is never cut short at a NUL. */
	if (len > MAX_PASSWORD || memchr(pw, '\0', len) != NULL) {
		usable = open = false;
		len = 0;
	}
	if ((cd = calloc(1, sizeof(*cd))) == NULL)
		return false;
	if ((buf = malloc(MAX_PASSWORD + 1)) == NULL) {
		free(cd);
		return false;
	}
	memcpy(buf, pw, len);
	buf[len] = '\0';
	/* spec 4.1: a {SCRAM-SHA-*} hash field costs its own PBKDF2. */
	if (e != NULL && e->pw_scram >= 0)
		ok = sasl_scram_verify(&e->scram[e->pw_scram],
		    (enum scram_hash)e->pw_scram, buf, len) && open;
	else
		ok = crypt_matches(cd, buf, setting, usable);
	/* spec 4.2: application passwords; each costs its own crypt. */
	for (i = 0; open && !ok && i < e->napp; i++) {
		if ((ok = crypt_matches(cd, buf, e->app[i].hash, true)) &&
		    cred_out != NULL)
			*cred_out = e->app[i].label;
	}
	explicit_bzero(buf, MAX_PASSWORD + 1);
	explicit_bzero(cd, sizeof(*cd));
	free(buf);
	free(cd);
	return ok;
}

int
auth_sasl_plain(const char *b64, char *buf, size_t bufsize,
    const char **authcid_out, size_t *authcid_len_out,
    const char **passwd_out, size_t *passwd_len_out,
    const char **errstr_out)
{
	ssize_t		 n;
	char		*nul1, *nul2, *end;
	size_t		 zlen, clen, plen;

	if (bufsize == 0)
		return *errstr_out = "no room to decode", -1;
	/* "=" is the empty initial response (RFC 5034); it has no NULs. */
	if (strcmp(b64, "=") == 0)
		n = 0;
	/* One byte is kept for the terminator after the password. */
	else if ((n = b64_decode(b64, buf, bufsize - 1)) == -1) {
		*errstr_out = "invalid base64";
		goto bad;
	}
	end = buf + n;
	*end = '\0';
	if ((nul1 = memchr(buf, '\0', (size_t)n)) == NULL ||
	    (nul2 = memchr(nul1 + 1, '\0', (size_t)(end - nul1 - 1))) == NULL ||
	    memchr(nul2 + 1, '\0', (size_t)(end - nul2 - 1)) != NULL) {
		*errstr_out = "PLAIN message needs exactly two NUL separators";
		goto bad;
	}
	zlen = (size_t)(nul1 - buf);
	clen = (size_t)(nul2 - nul1 - 1);
	plen = (size_t)(end - nul2 - 1);
	if (clen == 0 || plen == 0) {
		*errstr_out = "empty authentication identity or password";
		goto bad;
	}
	if (zlen != 0 && (zlen != clen || memcmp(buf, nul1 + 1, clen) != 0)) {
		/* The authcid stays, at buf, for the log; the rest goes. */
		*errstr_out = auth_err_authzid;
		memmove(buf, nul1 + 1, clen);
		explicit_bzero(buf + clen, bufsize - clen);
		*authcid_out = buf;
		*authcid_len_out = clen;
		return -1;
	}
	*authcid_out = nul1 + 1;
	*authcid_len_out = clen;
	*passwd_out = nul2 + 1;
	*passwd_len_out = plen;
	return 0;
bad:
	explicit_bzero(buf, bufsize);
	return -1;
}

/* style 3.8: one function, nothing else, checked after the fact. */
int
auth_become_user(const struct passwd_entry *e, const char **errstr_out)
{
	uid_t	ru, eu, su;
	gid_t	rg, eg, sg, gid = e->gid;

	if (geteuid() != 0 || (!e->has_uid && !e->has_gid))
		return 0;
	if (e->has_uid != e->has_gid)
		return *errstr_out = "uid and gid must be set together", -1;
	if (e->uid == 0 || e->gid == 0)
		return *errstr_out = "refusing to run as uid or gid 0", -1;
	if (setgroups(1, &gid) == -1)
		return *errstr_out = "setgroups failed", -1;
	if (setresgid(gid, gid, gid) == -1)
		return *errstr_out = "setresgid failed", -1;
	if (setresuid(e->uid, e->uid, e->uid) == -1)
		return *errstr_out = "setresuid failed", -1;
	/* Dovecot's check: root must be out of reach now. */
	if (setuid(0) != -1)
		return *errstr_out = "root could be regained", -1;
	if (getresuid(&ru, &eu, &su) == -1 || getresgid(&rg, &eg, &sg) == -1)
		return *errstr_out = "cannot read back the identity", -1;
	if (ru != e->uid || eu != e->uid || su != e->uid ||
	    rg != gid || eg != gid || sg != gid ||
	    getuid() != e->uid || geteuid() != e->uid ||
	    getgid() != gid || getegid() != gid)
		return *errstr_out = "identity differs after the switch", -1;
	return 0;
}

int
auth_hash_password(const char *pw, char *out, size_t outsize)
{
	struct crypt_data	*cd;
	char			 salt[CRYPT_GENSALT_OUTPUT_SIZE];
	const char		*res;
	int			 rv = -1;

	if (strlen(pw) > MAX_PASSWORD) {
		errno = EINVAL;
		return -1;
	}
	if (crypt_gensalt_rn("$y$", 0, NULL, 0, salt, sizeof(salt)) == NULL)
		return -1;
	if ((cd = calloc(1, sizeof(*cd))) == NULL)
		return -1;
	res = crypt_rn(pw, salt, cd, (int)sizeof(*cd));
	if (res != NULL && res[0] == '$' && strlen(res) < outsize) {
		(void)strlcpy_(out, res, outsize);
		rv = 0;
	} else if (res != NULL)
		errno = EINVAL;
	explicit_bzero(cd, sizeof(*cd));
	free(cd);
	return rv;
}
