/*
 * maildir.c: the snapshot of a user's Maildir (SPEC 5, 6): new/ to cur/,
 * the listing of cur/, exact CRLF sizes (",W=" field, the size cache in
 * the state file, or one read), RETR/TOP streaming with the RFC 1939
 * transform, and UPDATE.  UIDs, the state file and UIDL strings are
 * uidmap.c's.
 *
 * It runs as the user after the privilege drop and trusts nothing in the
 * Maildir: entries are checked to be regular files (d_type, or fstatat
 * without following links), messages are opened with O_NOFOLLOW and
 * fstat-checked, and file names are only compared, never used as paths
 * beyond one component.  It writes no protocol replies; streaming formats
 * into the io output buffer it is handed.
 *
 * A login to a Maildir whose cur/ has not changed since the state file
 * recorded it (uidmap.h, cur=) reads the Maildir (for UPDATE lists), new/
 * and the state file, and takes the snapshot from the records: it lists
 * no cur/ and touches no message.  Otherwise cur/ is listed and matched
 * against the records in one pass; a message whose whole file name is
 * the recorded one takes the cached size without a stat (uidmap.h), a
 * renamed one is statted, and only messages without a usable record are
 * read, once: openat, fstat, reads up to st_size, close.  Such a login
 * takes no lock and writes nothing when every message had its record.
 * Otherwise uidmap_update() numbers new arrivals under the lock.  When
 * that fails the login goes on: messages without a stored UID get a
 * temporary UIDL that can never equal a counter UID (a client may fetch
 * such a message twice, but never skips one).
 *
 * UPDATE is crash-safe: the marked base names go to an intent list that
 * is durable before the first unlink and removed after the last one, and
 * the next login of the user finishes a list that a dead session left.
 * Only names on complete lines of a well-formed list are acted on, and
 * only files with exactly such a base name are removed.
 */
#define _GNU_SOURCE		/* renameat2() and RENAME_NOREPLACE */

#include <sys/stat.h>
#include <sys/types.h>
#include <sys/vfs.h>

#include <linux/magic.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#ifdef POP3_FAULT_INJECTION
#include <signal.h>
#endif

#include "io.h"
#include "log.h"
#include "maildir.h"
#include "uidmap.h"
#include "util.h"

#define CHUNK		(64 * 1024)	/* SPEC 5: fixed read size */
#define STREAM_ROOM	256		/* see stream_chunk() */
#define MAX_MSGS	4000000		/* a larger cur/ fails the login */
#define LIST_NAME	128		/* pop3-handler-update.<host>.<pid> */
#define LIST_LINE	512		/* a base name is at most NAME_MAX */
#define LIST_HOST	64		/* host part of the list's name */

#ifdef POP3_FAULT_INJECTION
/*
 * Test builds only (make build-fault/pop3-handler): POP3_FAULT=<point>
 * kills the process at that point of UPDATE, as a crash or kill -9 would.
 */
static void
fault_point(const char *point)
{
	const char	*f = getenv("POP3_FAULT");

	if (f != NULL && strcmp(f, point) == 0)
		(void)raise(SIGKILL);
}
#else
#define fault_point(p)	do { } while (0)
#endif

struct snap_priv {
	struct snapshot	 pub;		/* first member: callers see this */
	int		 curfd;
	int		 newfd;
};

struct scan {
	struct uidmap_msg	*e;
	size_t		 n, cap;
	char		*arena;
	size_t		 alen, acap;
	bool		 stable;	/* cur/ unchanged while listed */
	bool		 had_cur;	/* cur/ had entries before new/ moved */
	bool		 exact;		/* listing == records (match_cache) */
	uint64_t	 cur_mtime;	/* uidmap.h cur=: complete at this */
};

struct dirindex {
	char		**names;
	size_t		  n;
};

static void	recover_updates(struct snap_priv *);

static uint64_t
mtime_ns(const struct stat *st)
{
	/* Only compared for equality; unsigned wrap-around is harmless. */
	return (uint64_t)st->st_mtim.tv_sec * 1000000000u +
	    (uint64_t)st->st_mtim.tv_nsec;
}

/* Compares file names by base name: ':' ends a name like NUL. */
static int
basecmp(const char *a, const char *b)
{
	int	 ca, cb;

	for (;; a++, b++) {
		ca = *a == ':' ? 0 : (unsigned char)*a;
		cb = *b == ':' ? 0 : (unsigned char)*b;
		if (ca != cb || ca == 0)
			return ca - cb;
	}
}

static int
cmp_listing(const void *a, const void *b)
{
	const struct uidmap_msg	*x = a, *y = b;
	int			 c;

	if ((c = strcmp(x->name, y->name)) != 0)
		return c;
	return strcmp(x->file, y->file);
}

/* Counter order: stored UIDs ascending, then unstored in delivery order. */
static int
cmp_uid(const void *a, const void *b)
{
	const struct uidmap_msg	*x = a, *y = b;

	if (x->uid == 0 || y->uid == 0) {
		if (x->uid != y->uid)
			return x->uid == 0 ? 1 : -1;
		return uidmap_cmp_delivery(a, b);
	}
	return x->uid < y->uid ? -1 : x->uid > y->uid;
}

/*
 * Opens a message: O_NOFOLLOW, and O_NONBLOCK so a fifo put in its place
 * cannot block.  A symlink or anything but a regular file is no message
 * any more: errno ENOENT, as for a removed one (C0004).  O_NONBLOCK stays
 * set: it has no effect on a regular file (open(2)), so clearing it
 * would only cost a system call per RETR.
 */
static int
open_msg(int dfd, const char *file)
{
	struct stat	 st;
	int		 fd, saved;

	fd = openat(dfd, file,
	    O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	if (fd == -1) {
		if (errno == ELOOP)
			errno = ENOENT;
		return -1;
	}
	if (fstat(fd, &st) == -1)
		goto fail;
	if (!S_ISREG(st.st_mode)) {
		errno = ENOENT;
		goto fail;
	}
	return fd;
 fail:
	saved = errno;
	(void)close(fd);
	errno = saved;
	return -1;
}

/* A fresh DIR on dfd, positioned at its start. */
static DIR *
open_dir(int dfd)
{
	DIR	*d;
	int	 fd;

	if ((fd = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		return NULL;
	if ((d = fdopendir(fd)) == NULL)
		(void)close(fd);
	return d;
}

static int
open_sub(int dirfd, const char *sub, bool need)
{
	int	 fd;

	fd = openat(dirfd, sub, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC);
	if (fd == -1 && errno == ENOENT) {
		if (mkdirat(dirfd, sub, 0700) == -1 && errno != EEXIST)
			return need ? -1 : -2;
		fd = openat(dirfd, sub, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
		    O_CLOEXEC);
	}
	if (fd == -1 && !need)
		return -2;
	return fd;
}

/* SPEC 4, 5: the Maildir and cur/ must open; new/ and tmp/ are optional. */
static int
open_dirs(struct snap_priv *sp, const char *path, const char **errstr_out)
{
	int	 fd;

	if (mkdir(path, 0700) == -1 && errno != EEXIST) {
		*errstr_out = "cannot create the Maildir";
		return -1;
	}
	sp->pub.dirfd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC);
	if (sp->pub.dirfd == -1) {
		*errstr_out = "cannot open the Maildir";
		return -1;
	}
	if ((sp->curfd = open_sub(sp->pub.dirfd, "cur", true)) == -1) {
		*errstr_out = "cannot open cur/";
		return -1;
	}
	sp->newfd = open_sub(sp->pub.dirfd, "new", false);
	if ((fd = open_sub(sp->pub.dirfd, "tmp", false)) >= 0)
		(void)close(fd);
	return 0;
}

static bool
is_reg(int dfd, const struct dirent *d)
{
	struct stat	 st;

	if (d->d_type == DT_REG)
		return true;
	if (d->d_type != DT_UNKNOWN)
		return false;
	return fstatat(dfd, d->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	    S_ISREG(st.st_mode);
}

/* True when dfd holds a message (a regular non-dot file). */
static bool
dir_has_msgs(int dfd)
{
	struct dirent	*d;
	DIR		*dir;
	bool		 found = false;

	if ((dir = open_dir(dfd)) == NULL)
		return true;	/* unknown: assume used, rebuild safely */
	while (!found && (d = readdir(dir)) != NULL)
		found = d->d_name[0] != '.' && is_reg(dfd, d);
	(void)closedir(dir);
	return found;
}

/* SPEC 5: every regular non-dot file of new/ moves to cur/ with ":2,". */
static void
move_new(struct snap_priv *sp)
{
	struct dirent	*d;
	DIR		*dir;
	char		 to[512];
	int		 r;

	if (sp->newfd < 0 || (dir = open_dir(sp->newfd)) == NULL)
		return;
	while ((d = readdir(dir)) != NULL) {
		if (d->d_name[0] == '.' || !is_reg(sp->newfd, d))
			continue;
		r = snprintf(to, sizeof(to), "%s%s", d->d_name,
		    strchr(d->d_name, ':') != NULL ? "" : ":2,");
		if (r < 0 || (size_t)r >= sizeof(to))
			continue;
		if (renameat2(sp->newfd, d->d_name, sp->curfd, to,
		    RENAME_NOREPLACE) == 0 || errno == ENOENT)
			continue;
		if (errno == EINVAL || errno == ENOSYS) {
			/* No RENAME_NOREPLACE (NFS): check, then rename. */
			if (faccessat(sp->curfd, to, F_OK,
			    AT_SYMLINK_NOFOLLOW) == -1 && errno == ENOENT &&
			    renameat(sp->newfd, d->d_name, sp->curfd, to) == 0)
				continue;
		}
		log_warn("cannot move new/%s to cur/", d->d_name);
	}
	(void)closedir(dir);
}

/*
 * Appends one listed file; stats it only when d_type does not say it is
 * a regular file (match_cache() stats what the size cache cannot vouch
 * for).
 */
static int
add_ent(int curfd, struct scan *sc, const struct dirent *d)
{
	struct stat		 st;
	struct uidmap_msg	 e;
	const char		*colon;
	size_t			 nlen, blen, need;
	void			*p;

	nlen = strlen(d->d_name);
	colon = strchr(d->d_name, ':');
	blen = colon != NULL ? (size_t)(colon - d->d_name) : nlen;
	if (blen == 0 || memchr(d->d_name, '\n', nlen) != NULL)
		return 0;	/* no base name, or unstorable: ignored */
	memset(&e, 0, sizeof(e));
	e.sized = uidmap_name_wsize(d->d_name, &e.size);
	if (d->d_type == DT_UNKNOWN) {
		if (fstatat(curfd, d->d_name, &st, AT_SYMLINK_NOFOLLOW) == -1)
			return 0;	/* gone meanwhile */
		if (!S_ISREG(st.st_mode))
			return 0;
		e.statted = true;
		e.rawsize = (uint64_t)st.st_size;
		e.mtime = mtime_ns(&st);
	}
	if (sc->n == sc->cap) {
		if (sc->n >= MAX_MSGS)
			return -1;
		sc->cap = sc->cap == 0 ? 1024 : sc->cap * 2;
		if ((p = reallocarray(sc->e, sc->cap, sizeof(*sc->e))) == NULL)
			return -1;
		sc->e = p;
	}
	need = blen + 1 + nlen + 1;
	if (need > sc->acap - sc->alen) {
		sc->acap = sc->acap == 0 ? 65536 : sc->acap * 2;
		if (sc->acap < sc->alen + need)
			sc->acap = sc->alen + need;
		if ((p = realloc(sc->arena, sc->acap)) == NULL)
			return -1;
		sc->arena = p;
	}
	e.off = sc->alen;
	memcpy(sc->arena + sc->alen, d->d_name, blen);
	sc->arena[sc->alen + blen] = '\0';
	memcpy(sc->arena + sc->alen + blen + 1, d->d_name, nlen + 1);
	sc->alen += need;
	e.tkey = uidmap_name_time(d->d_name);
	sc->e[sc->n++] = e;
	return 0;
}

/*
 * True for a local file system: its timestamps come from this host's
 * coarse real-time clock.  NFS and the rest are judged by age instead.
 */
static bool
local_fs(int fd)
{
	struct statfs	 sf;

	if (fstatfs(fd, &sf) == -1)
		return false;
	switch ((unsigned long)sf.f_type) {
	case EXT4_SUPER_MAGIC:
	case XFS_SUPER_MAGIC:
	case BTRFS_SUPER_MAGIC:
	case TMPFS_MAGIC:
	case F2FS_SUPER_MAGIC:
		return true;
	default:
		return false;
	}
}

/*
 * The coarse real-time clock (what stamps a directory's mtime) once it
 * has passed m: waits a clock tick at most (bounded at about 20 ms) when
 * cur/ changed in this tick, as it did when new/ was just moved.  The
 * result may not exceed m if the clock is stepped back.
 */
static uint64_t
coarse_after(uint64_t m)
{
	struct timespec	 ts, ms = { 0, 1000000 };
	uint64_t	 now = 0;
	int		 i;

	for (i = 0; i < 20; i++) {
		if (clock_gettime(CLOCK_REALTIME_COARSE, &ts) == -1)
			return 0;
		now = (uint64_t)ts.tv_sec * 1000000000u +
		    (uint64_t)ts.tv_nsec;
		if (now > m)
			break;
		(void)nanosleep(&ms, NULL);
	}
	return now;
}

/*
 * SPEC 5: the listing of cur/ is the snapshot (in readdir() order; see
 * match_cache()).  "stable" records that cur/ did not change while it
 * was read and not in the two seconds before (timestamps are coarse):
 * only then may a state-file record without a file be dropped, since
 * readdir() can miss a file that is being renamed.
 */
static int
list_cur(int curfd, struct scan *sc, const char **errstr_out)
{
	struct stat	 before, after;
	struct dirent	*d;
	DIR		*dir;
	uint64_t	 t0 = 0;
	size_t		 i;
	bool		 local;

	if ((dir = open_dir(curfd)) == NULL ||
	    fstat(dirfd(dir), &before) == -1) {
		if (dir != NULL)
			(void)closedir(dir);
		*errstr_out = "cannot read cur/";
		return -1;
	}
	if ((local = local_fs(dirfd(dir))))
		t0 = coarse_after(mtime_ns(&before));
	for (errno = 0; (d = readdir(dir)) != NULL; errno = 0) {
		if (d->d_name[0] == '.' ||
		    (d->d_type != DT_REG && d->d_type != DT_UNKNOWN))
			continue;
		if (add_ent(curfd, sc, d) == -1) {
			(void)closedir(dir);
			*errstr_out = sc->n >= MAX_MSGS ? "too many messages" :
			    "out of memory";
			return -1;
		}
	}
	if (errno != 0 || fstat(dirfd(dir), &after) == -1) {
		(void)closedir(dir);
		*errstr_out = "cannot read cur/";
		return -1;
	}
	(void)closedir(dir);
	sc->stable = before.st_mtim.tv_sec == after.st_mtim.tv_sec &&
	    before.st_mtim.tv_nsec == after.st_mtim.tv_nsec &&
	    after.st_mtim.tv_sec < time(NULL) - 1;
	/* uidmap.h cur=: no change can leave cur/ at this mtime. */
	if (mtime_ns(&before) == mtime_ns(&after) &&
	    (local ? mtime_ns(&after) < t0 : sc->stable))
		sc->cur_mtime = mtime_ns(&after);
	for (i = 0; i < sc->n; i++) {
		sc->e[i].name = sc->arena + sc->e[i].off;
		sc->e[i].file = sc->e[i].name + strlen(sc->e[i].name) + 1;
	}
	return 0;
}

/* True when file's part after ':' is the info its record keeps. */
static bool
info_eq(const char *info, const char *file)
{
	const char	*colon = strchr(file, ':');

	if (info == NULL || colon == NULL)
		return info == NULL && colon == NULL;
	return strcmp(info, colon + 1) == 0;
}

/*
 * SPEC 6: the size of a message with a record (e->old), unless ",W="
 * gave it.  The record is trusted without fstatat() when the whole file
 * name is the one recorded (uidmap.h: message files are immutable);
 * otherwise the file is statted and must still have the recorded byte
 * size and mtime, and the record is rewritten with the new name
 * (*refresh_out).  A file gone or not regular by now is skipped.
 */
static void
cache_size(int curfd, struct uidmap_msg *e, bool *refresh_out)
{
	const struct uidmap_entry	*r = e->old;
	struct stat			 st;

	e->uid = r->uid;
	if (e->sized)
		return;
	if (!e->statted && r->mtime != 0 && info_eq(r->info, e->file)) {
		e->size = r->size;
		e->rawsize = r->rawsize;
		e->mtime = r->mtime;
		e->sized = e->statted = true;
		return;
	}
	if (!e->statted) {
		if (fstatat(curfd, e->file, &st, AT_SYMLINK_NOFOLLOW) == -1 ||
		    !S_ISREG(st.st_mode)) {
			e->skip = true;
			return;
		}
		e->statted = true;
		e->rawsize = (uint64_t)st.st_size;
		e->mtime = mtime_ns(&st);
	}
	if (r->rawsize == e->rawsize && r->mtime == e->mtime) {
		e->size = r->size;
		e->sized = true;
		if (!info_eq(r->info, e->file))
			e->dirty = *refresh_out = true;
	}
}

/*
 * Takes UIDs and cached sizes from the state file read without the lock,
 * in one pass over the listing (uidmap_find() is a hash lookup), and
 * reorders sc->e: messages with a record in the file's order (ascending
 * UID, so build() needs no sort), then the others by name.  Of two files
 * with one base name the first by name is kept.  Sets *need_write_out
 * when the file needs writing for other reasons than new UIDs or sizes:
 * it is corrupt, it holds records of removed messages, or a renamed
 * message's record is to be rewritten.  Returns 0, or -1 (ENOMEM).
 */
static int
match_cache(int curfd, struct scan *sc, const struct uidmap *m,
    bool *need_write_out)
{
	struct uidmap_msg	*v, *e;
	size_t			*claim, i, j, k, nv = 0, nu;
	bool			 refresh = false;

	claim = calloc(m->count + 1, sizeof(*claim));
	v = reallocarray(NULL, sc->n + 1, sizeof(*v));
	if (claim == NULL || v == NULL) {
		free(claim);
		free(v);
		return -1;
	}
	for (i = 0; i < sc->n; i++) {
		e = &sc->e[i];
		if ((e->old = uidmap_find(m, e->name)) == NULL)
			continue;
		k = (size_t)(e->old - m->ents);
		if (claim[k] == 0 ||
		    strcmp(e->file, sc->e[claim[k] - 1].file) < 0)
			claim[k] = i + 1;
	}
	for (k = 0; k < m->count; k++)
		if (claim[k] != 0) {
			v[nv] = sc->e[claim[k] - 1];
			cache_size(curfd, &v[nv++], &refresh);
		}
	*need_write_out = m->status == UIDMAP_CORRUPT ||
	    (nv < m->count && sc->stable) || refresh;
	sc->exact = m->status == UIDMAP_OK && nv == m->count;
	for (i = 0, nu = nv; i < sc->n; i++)
		if (sc->e[i].old == NULL)
			v[nv++] = sc->e[i];
	if (nv - nu > 1)
		qsort(v + nu, nv - nu, sizeof(*v), cmp_listing);
	for (i = j = nu; i < nv; i++)
		if (j == nu || strcmp(v[j - 1].name, v[i].name) != 0)
			v[j++] = v[i];
	for (i = 0; i < nu; i++)
		if (v[i].skip || !v[i].sized)
			sc->exact = false;
	if (j > nu)
		sc->exact = false;
	free(claim);
	free(sc->e);
	sc->e = v;
	sc->n = j;
	sc->cap = sc->n + 1;
	return 0;
}

/*
 * Opens a message to size it: O_NOFOLLOW, O_NONBLOCK (a fifo put in its
 * place cannot block; a regular file ignores the flag, so it stays on),
 * and its fstat() in *st_out.  Not a regular file: errno ENOENT.
 */
static int
open_sizing(int dfd, const char *file, struct stat *st_out)
{
	int	 fd, saved;

	fd = openat(dfd, file,
	    O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	if (fd == -1) {
		if (errno == ELOOP)
			errno = ENOENT;
		return -1;
	}
	if (fstat(fd, st_out) == -1) {
		saved = errno;
		(void)close(fd);
		errno = saved;
		return -1;
	}
	if (!S_ISREG(st_out->st_mode)) {
		(void)close(fd);
		errno = ENOENT;
		return -1;
	}
	return fd;
}

/*
 * SPEC 6: the CRLF size by reading the file once through the transform.
 * Reading stops at the st_size of the open (the file is immutable), so
 * a message takes openat, fstat, one read per CHUNK, and close.
 */
static int
size_by_reading(int curfd, struct uidmap_msg *e, char *buf)
{
	struct crlf_state	 st;
	struct stat		 sb;
	uint64_t		 total = 0, got = 0;
	ssize_t			 r;
	int			 fd, saved;

	log_debug("sizing %s by reading", e->name);
	if ((fd = open_sizing(curfd, e->file, &sb)) == -1)
		return -1;
	crlf_init(&st, -1, false);
	while (got < (uint64_t)sb.st_size) {
		r = read(fd, buf, CHUNK);
		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1)
			goto fail;
		if (r == 0)
			break;
		got += (uint64_t)r;
		if (__builtin_add_overflow(total,
		    (uint64_t)crlf_feed(&st, buf, (size_t)r, NULL, NULL),
		    &total))
			goto fail;
	}
	total += (uint64_t)crlf_finish(&st, NULL, NULL);
	(void)close(fd);
	e->size = total;
	e->rawsize = got;
	e->mtime = mtime_ns(&sb);
	e->sized = e->statted = e->dirty = true;
	return 0;
 fail:
	saved = errno;
	(void)close(fd);
	errno = saved;
	return -1;
}

/*
 * Sizes what neither ",W=" nor the cache sized, leaving out what cannot be
 * read.  Sets *dirty_out when a size is new, *need_uid_out when a message
 * of the snapshot has no UID.
 */
static int
size_rest(int curfd, struct scan *sc, bool *dirty_out, bool *need_uid_out)
{
	struct uidmap_msg	*e;
	char			*buf = NULL;
	size_t			 i;

	*dirty_out = *need_uid_out = false;
	for (i = 0; i < sc->n; i++) {
		e = &sc->e[i];
		if (e->skip)
			continue;
		if (!e->sized) {
			if (buf == NULL && (buf = malloc(CHUNK)) == NULL)
				return -1;
			if (size_by_reading(curfd, e, buf) == -1) {
				if (errno != ENOENT)
					log_warn("cannot read cur/%s", e->file);
				e->skip = true;
				continue;
			}
			*dirty_out = true;
		}
		if (e->uid == 0)
			*need_uid_out = true;
	}
	free(buf);
	return 0;
}

/*
 * True when the state file's cur= (uidmap.h) is cur/'s mtime now: nothing
 * in cur/ changed since the records were its complete listing.
 */
static bool
cur_unchanged(int curfd, const struct uidmap *m)
{
	struct stat	 st;

	return m->status == UIDMAP_OK && m->cur_mtime != 0 &&
	    fstat(curfd, &st) == 0 && mtime_ns(&st) == m->cur_mtime;
}

/*
 * The listing from the records of m (cur_unchanged()): in their order,
 * which is ascending UID, each sized by its record.  Returns 0 or -1.
 */
static int
from_state(struct scan *sc, const struct uidmap *m)
{
	const struct uidmap_entry	*r;
	struct uidmap_msg		*e;
	size_t				 i, nl, il, need = 0;
	char				*p;

	for (i = 0; i < m->count; i++) {
		r = &m->ents[i];
		need += strlen(r->name) + 2 +
		    (r->info != NULL ? strlen(r->info) + 1 : 0);
	}
	if ((sc->e = calloc(m->count + 1, sizeof(*sc->e))) == NULL ||
	    (sc->arena = malloc(need + 1)) == NULL)
		return -1;
	sc->cap = m->count + 1;
	sc->acap = need + 1;
	for (i = 0, p = sc->arena; i < m->count; i++) {
		r = &m->ents[i];
		e = &sc->e[i];
		nl = strlen(r->name);
		memcpy(p, r->name, nl);
		if (r->info != NULL) {
			il = strlen(r->info);
			p[nl] = ':';
			memcpy(p + nl + 1, r->info, il);
			nl += 1 + il;
		}
		p[nl] = '\0';
		e->file = p;
		e->name = r->name;
		e->off = (size_t)(p - sc->arena);
		p += nl + 1;
		e->old = r;
		e->uid = r->uid;
		e->tkey = uidmap_name_time(r->name);
		e->size = r->size;
		e->rawsize = r->rawsize;
		e->mtime = r->mtime;
		e->sized = e->statted = true;
	}
	sc->n = m->count;
	sc->alen = (size_t)(p - sc->arena);
	return 0;
}

/* Writes the state file when needed; a failure never fails the login. */
static void
update_state(struct snap_priv *sp, struct scan *sc, const struct uidmap *m1,
    bool need_uid, enum uidl_mode mode)
{
	struct uidmap_update	 u;
	const char		*err = "unknown";

	u.msgs = sc->e;
	u.count = sc->n;
	u.before = m1;
	u.stable = sc->stable;
	u.cur_mtime = sc->cur_mtime;
	u.fresh = m1->status == UIDMAP_MISSING && !sc->had_cur;
	u.need_uid = need_uid;
	if (uidmap_update(sp->pub.dirfd, &u, &err) == 0)
		return;
	if (mode == UIDL_COUNTER && need_uid)
		log_warn("uidlist not updated (%s); new messages get "
		    "temporary UIDLs", err);
	else
		log_debug("uidlist not updated (%s)", err);
}

/* Fills the snapshot in UID order (counter) or delivery order. */
static int
build(struct snapshot *s, struct scan *sc, enum uidl_mode mode)
{
	struct uidmap_msg	*e;
	struct msg		*m;
	char			 uidl[MAX_UIDL + 1], *blk;
	size_t			 i, k, bl, fl, ul;
	int			 (*cmp)(const void *, const void *);

	for (i = k = 0; i < sc->n; i++)
		if (!sc->e[i].skip)
			sc->e[k++] = sc->e[i];
	sc->n = k;
	cmp = mode == UIDL_COUNTER ? cmp_uid : uidmap_cmp_delivery;
	/* match_cache() leaves a warm login in UID order already. */
	for (i = 1; i < sc->n && cmp(&sc->e[i - 1], &sc->e[i]) <= 0; i++)
		;
	if (i < sc->n)
		qsort(sc->e, sc->n, sizeof(*sc->e), cmp);
	if ((s->msgs = calloc(sc->n + 1, sizeof(*s->msgs))) == NULL)
		return -1;
	for (i = 0; i < sc->n; i++) {
		e = &sc->e[i];
		if (uidmap_uidl(e, mode == UIDL_COUNTER, uidl,
		    sizeof(uidl)) == -1)
			return -1;
		bl = strlen(e->name);
		fl = strlen(e->file);
		ul = strlen(uidl);
		if ((blk = malloc(bl + fl + ul + 3)) == NULL)
			return -1;
		memcpy(blk, e->name, bl + 1);
		memcpy(blk + bl + 1, e->file, fl + 1);
		memcpy(blk + bl + 1 + fl + 1, uidl, ul + 1);
		m = &s->msgs[s->count++];
		m->name = blk;
		m->file = blk + bl + 1;
		m->uidl = m->file + fl + 1;
		m->size = e->size;
		m->uid = e->uid;
		if (__builtin_add_overflow(s->total, e->size, &s->total))
			return -1;
	}
	return 0;
}

int
maildir_open(const char *path, enum uidl_mode mode, struct snapshot **out,
    const char **errstr_out)
{
	struct snap_priv	*sp;
	struct scan		 sc;
	struct uidmap		 m1;
	const char		*err = "out of memory";
	bool			 need_uid = false, need_write, dirty;

	memset(&sc, 0, sizeof(sc));
	memset(&m1, 0, sizeof(m1));
	if ((sp = calloc(1, sizeof(*sp))) == NULL) {
		*errstr_out = err;
		return -1;
	}
	sp->pub.dirfd = sp->curfd = sp->newfd = -1;
	if (open_dirs(sp, path, &err) == -1)
		goto fail;
	recover_updates(sp);
	if (uidmap_load(sp->pub.dirfd, &m1) == -1) {
		/* Not rebuilt: a passing EIO must not renumber everything. */
		err = "cannot read the UID state file";
		goto fail;
	}
	if (m1.status == UIDMAP_MISSING)
		sc.had_cur = dir_has_msgs(sp->curfd);
	move_new(sp);
	if (cur_unchanged(sp->curfd, &m1)) {
		/* uidmap.h cur=: the records are the listing. */
		err = "out of memory";
		if (from_state(&sc, &m1) == -1)
			goto fail;
	} else {
		if (list_cur(sp->curfd, &sc, &err) == -1)
			goto fail;
		err = "out of memory";
		if (match_cache(sp->curfd, &sc, &m1, &need_write) == -1 ||
		    size_rest(sp->curfd, &sc, &dirty, &need_uid) == -1)
			goto fail;
		/* Record cur= for the next login once the listing is. */
		if (sc.exact && !dirty && sc.cur_mtime != 0 &&
		    sc.cur_mtime != m1.cur_mtime)
			need_write = true;
		if (need_write || dirty || need_uid)
			update_state(sp, &sc, &m1, need_uid, mode);
	}
	if (build(&sp->pub, &sc, mode) == -1)
		goto fail;
	free(sc.e);
	free(sc.arena);
	uidmap_free(&m1);
	*out = &sp->pub;
	return 0;
 fail:
	free(sc.e);
	free(sc.arena);
	uidmap_free(&m1);
	maildir_close(&sp->pub);
	*errstr_out = err;
	return -1;
}

static int
cmp_names(const void *a, const void *b)
{
	return basecmp(*(char * const *)a, *(char * const *)b);
}

static void
index_free(struct dirindex *ix)
{
	size_t	 i;

	for (i = 0; i < ix->n; i++)
		free(ix->names[i]);
	free(ix->names);
	ix->names = NULL;
	ix->n = 0;
}

static const char *
index_find(const struct dirindex *ix, const char *base)
{
	char	**p;

	if (ix->n == 0)
		return NULL;
	p = bsearch(&base, ix->names, ix->n, sizeof(*ix->names), cmp_names);
	return p != NULL ? *p : NULL;
}

/*
 * The names of a directory sorted by base name, for renamed messages.
 * gcc 12's analyzer loses track of a pointer stored into a grown array
 * and calls it leaked; ix owns every name and index_free() releases them.
 */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wanalyzer-malloc-leak"
static int
index_dir(int dfd, struct dirindex *ix)
{
	struct dirent	*d;
	DIR		*dir;
	size_t		 cap = 0;
	char		*name;
	void		*p;

	ix->names = NULL;
	ix->n = 0;
	if (dfd < 0 || (dir = open_dir(dfd)) == NULL)
		return -1;
	while ((d = readdir(dir)) != NULL) {
		if (d->d_name[0] == '.')
			continue;
		if (ix->n == cap) {
			cap = cap == 0 ? 256 : cap * 2;
			p = reallocarray(ix->names, cap, sizeof(*ix->names));
			if (p == NULL)
				break;
			ix->names = p;
		}
		if ((name = strdup(d->d_name)) == NULL)
			break;
		ix->names[ix->n++] = name;
	}
	(void)closedir(dir);
	if (d != NULL) {
		index_free(ix);
		return -1;
	}
	if (ix->n > 1)
		qsort(ix->names, ix->n, sizeof(*ix->names), cmp_names);
	return 0;
}
#pragma GCC diagnostic pop

static bool
file_owned(const struct msg *m)
{
	return m->file != m->name + strlen(m->name) + 1;
}

/* SPEC 5 (C0004): a message renamed meanwhile is found by its base name. */
int
maildir_msg_open(struct snapshot *s, size_t i)
{
	struct snap_priv	*sp = (struct snap_priv *)s;
	struct msg		*m;
	struct dirindex		 ix;
	const char		*found;
	char			*copy;
	int			 fd, k, dfd;

	if (i >= s->count) {
		errno = EINVAL;
		return -1;
	}
	m = &s->msgs[i];
	if ((fd = open_msg(sp->curfd, m->file)) != -1 || errno != ENOENT)
		return fd;
	for (k = 0; k < 2; k++) {
		dfd = k == 0 ? sp->curfd : sp->newfd;
		if (index_dir(dfd, &ix) == -1)
			continue;
		if ((found = index_find(&ix, m->name)) == NULL) {
			index_free(&ix);
			continue;
		}
		fd = open_msg(dfd, found);
		if (fd != -1 && k == 0 && (copy = strdup(found)) != NULL) {
			if (file_owned(m))
				free(m->file);
			m->file = copy;
		}
		index_free(&ix);
		return fd;
	}
	errno = ENOENT;
	return -1;
}

/* "pop3-handler-update.<host>.<pid>": one list per process (2.1.3). */
static int
list_name(char *buf, size_t size)
{
	char	 host[256];
	size_t	 i;
	int	 r;

	if (gethostname(host, sizeof(host)) == -1)
		host[0] = '\0';
	host[LIST_HOST] = '\0';
	for (i = 0; host[i] != '\0'; i++)
		if (!((host[i] >= 'a' && host[i] <= 'z') ||
		    (host[i] >= 'A' && host[i] <= 'Z') ||
		    (host[i] >= '0' && host[i] <= '9') || host[i] == '-'))
			host[i] = '_';
	r = snprintf(buf, size, "%s.%s.%ld", MAILDIR_UPDATE_LIST,
	    host[0] != '\0' ? host : "localhost", (long)getpid());
	return r < 0 || (size_t)r >= size ? -1 : 0;
}

struct wbuf {
	int	 fd;
	size_t	 len;
	char	 buf[8192];
};

static int
wb_flush(struct wbuf *w)
{
	size_t	 off = 0;
	ssize_t	 r;

	while (off < w->len) {
		r = write(w->fd, w->buf + off, w->len - off);
		if (r == -1 && errno == EINTR)
			continue;
		if (r <= 0) {
			if (r == 0)
				errno = EIO;
			return -1;
		}
		off += (size_t)r;
	}
	w->len = 0;
	return 0;
}

static int
wb_put(struct wbuf *w, const char *p, size_t n)
{
	size_t	 k;

	while (n > 0) {
		if (w->len == sizeof(w->buf) && wb_flush(w) == -1)
			return -1;
		k = sizeof(w->buf) - w->len;
		if (k > n)
			k = n;
		memcpy(w->buf + w->len, p, k);
		w->len += k;
		p += k;
		n -= k;
	}
	return 0;
}

/*
 * SPEC 5: the intent list, complete or absent.  Written to tmp/, fsynced,
 * renamed into the Maildir, and the Maildir fsynced, all before the first
 * unlink.  Returns 0 when the list is in place, or -1 with errno and a
 * static reason in *errstr_out; no list is left behind then.
 */
static int
write_list(struct snapshot *s, unsigned int marked, const char *name,
    const char **errstr_out)
{
	struct wbuf	 w;
	char		 tmp[LIST_NAME + 8], hdr[64];
	size_t		 i;
	int		 r, saved;

	if (snprintf(tmp, sizeof(tmp), "tmp/%s", name) >= (int)sizeof(tmp)) {
		*errstr_out = "name too long";
		errno = ENAMETOOLONG;
		return -1;
	}
	w.fd = openat(s->dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC |
	    O_NOFOLLOW | O_CLOEXEC, 0600);
	if (w.fd == -1) {
		*errstr_out = "cannot create the temp file";
		return -1;
	}
	w.len = 0;
	r = snprintf(hdr, sizeof(hdr), "%s 1 %u\n", MAILDIR_UPDATE_LIST,
	    marked);
	if (r < 0 || (size_t)r >= sizeof(hdr) ||
	    wb_put(&w, hdr, (size_t)r) == -1)
		goto wfail;
	for (i = 0; i < s->count; i++)
		if (s->msgs[i].deleted &&
		    (wb_put(&w, s->msgs[i].name, strlen(s->msgs[i].name)) ==
		    -1 || wb_put(&w, "\n", 1) == -1))
			goto wfail;
	if (wb_flush(&w) == -1 || fsync(w.fd) == -1)
		goto wfail;
	if (close(w.fd) == -1) {
		w.fd = -1;
		goto wfail;
	}
	if (renameat(s->dirfd, tmp, s->dirfd, name) == -1) {
		saved = errno;
		*errstr_out = "cannot rename the temp file";
		goto fail;
	}
	if (fsync(s->dirfd) == -1 && errno != EINVAL) {
		saved = errno;
		*errstr_out = "cannot fsync the Maildir";
		(void)unlinkat(s->dirfd, name, 0);
		errno = saved;
		return -1;
	}
	return 0;
 wfail:
	saved = errno;
	if (w.fd != -1)
		(void)close(w.fd);
	*errstr_out = "cannot write the temp file";
 fail:
	(void)unlinkat(s->dirfd, tmp, 0);
	errno = saved;
	return -1;
}

/* Removes a list whose work is done; the next login redoes it if not. */
static void
remove_list(int dirfd, const char *name)
{
	if (unlinkat(dirfd, name, 0) == -1 && errno != ENOENT) {
		log_warn("cannot remove the UPDATE list %s", name);
		return;
	}
	if (fsync(dirfd) == -1 && errno != EINVAL)
		log_warn("cannot fsync the Maildir");
}

/* One marked message: 0 removed or already gone, -1 failed (logged). */
static int
remove_msg(struct snap_priv *sp, const struct msg *m, struct dirindex *ix,
    bool *indexed)
{
	const char	*found;

	if (unlinkat(sp->curfd, m->file, 0) == 0)
		return 0;
	if (errno == ENOENT) {
		/* Renamed meanwhile (flags): found by its base name. */
		if (!*indexed)
			*indexed = index_dir(sp->curfd, ix) == 0;
		found = *indexed ? index_find(ix, m->name) : NULL;
		if (found == NULL || unlinkat(sp->curfd, found, 0) == 0 ||
		    errno == ENOENT)
			return 0;
	}
	log_warn("cannot remove cur/%s", m->file);
	return -1;
}

/*
 * SPEC 5: UPDATE.  ENOENT counts as removed; unmarked files are kept.
 * Order for crash safety: list durable, unlinks, cur/ fsynced, list gone.
 */
int
maildir_update(struct snapshot *s, unsigned int *marked_out,
    unsigned int *failed_out)
{
	struct snap_priv	*sp = (struct snap_priv *)s;
	struct dirindex		 ix = { NULL, 0 };
	char			 name[LIST_NAME];
	const char		*err = "name too long";
	unsigned int		 marked = 0, failed = 0, gone = 0;
	size_t			 i;
	bool			 indexed = false, listed = false;

	for (i = 0; i < s->count; i++)
		if (s->msgs[i].deleted)
			marked++;
	*marked_out = marked;
	*failed_out = 0;
	if (marked == 0)
		return 0;
	if (list_name(name, sizeof(name)) == 0 &&
	    write_list(s, marked, name, &err) == 0)
		listed = true;
	else
		log_warn("UPDATE list not written (%s); removing the %u "
		    "marked messages without it", err, marked);
	fault_point("update-after-list");
	for (i = 0; i < s->count; i++) {
		if (!s->msgs[i].deleted)
			continue;
		if (remove_msg(sp, &s->msgs[i], &ix, &indexed) == -1) {
			failed++;
			continue;
		}
		if (gone++ == 0)
			fault_point("update-after-first-unlink");
	}
	if (indexed)
		index_free(&ix);
	/* "+OK" promises the messages are gone, on disk too. */
	if (fsync(sp->curfd) == -1 && errno != EINVAL)
		log_warn("cannot fsync cur/");
	fault_point("update-before-list-removal");
	if (listed)
		remove_list(s->dirfd, name);
	*failed_out = failed;
	return failed == 0 ? 0 : -1;
}

/*
 * SPEC 5: the line's base name, if it may be one: 1..255 octets, no NUL,
 * '/', ':' or LF, not starting with '.'.
 */
static bool
list_name_ok(const char *line, size_t len)
{
	return len > 0 && len <= 255 && line[0] != '.' &&
	    strlen(line) == len && strchr(line, '/') == NULL &&
	    strchr(line, ':') == NULL;
}

/* Header "pop3-handler-update 1 <count>": 0 and the count, or -1. */
static int
list_header(const char *line, uint64_t *count_out)
{
	static const char	 magic[] = MAILDIR_UPDATE_LIST " 1 ";

	if (strncmp(line, magic, sizeof(magic) - 1) != 0)
		return -1;
	return parse_u64(line + sizeof(magic) - 1, count_out) == NUM_OK ?
	    0 : -1;
}

/*
 * Removes the regular files of cur/ and new/ whose base name is exactly
 * base.  Adds to *removed; returns -1 when one could not be removed.
 */
static int
remove_listed(struct snap_priv *sp, const char *base,
    const struct dirindex *ix, uint64_t *removed, bool *touched)
{
	struct stat	 st;
	const char	*found;
	int		 k, dfd, rv = 0;

	for (k = 0; k < 2; k++) {
		dfd = k == 0 ? sp->curfd : sp->newfd;
		if (dfd < 0 || (found = index_find(&ix[k], base)) == NULL)
			continue;
		if (fstatat(dfd, found, &st, AT_SYMLINK_NOFOLLOW) == -1 ||
		    !S_ISREG(st.st_mode))
			continue;
		if (unlinkat(dfd, found, 0) == -1 && errno != ENOENT) {
			log_warn("cannot remove %s/%s", k == 0 ? "cur" : "new",
			    found);
			rv = -1;
			continue;
		}
		touched[k] = true;
		(*removed)++;
	}
	return rv;
}

/*
 * Finishes one list left by a dead session.  Only complete lines count: a
 * list cut short (it is renamed into place whole, so only a hand edit or
 * a damaged disk does that) loses its last, partial line, which may be a
 * prefix of an unmarked message's name.  A list without a valid header
 * removes nothing.  The list goes once all its messages are gone.
 */
static void
finish_list(struct snap_priv *sp, const char *list, const struct dirindex *ix)
{
	char		 line[LIST_LINE], buf[4096];
	uint64_t	 want = 0, seen = 0, removed = 0, bad = 0;
	size_t		 ll = 0;
	ssize_t		 r, k;
	int		 fd, failed = 0;
	bool		 header = false, toolong = false, badhdr = false;
	bool		 touched[2] = { false, false };

	if ((fd = open_msg(sp->pub.dirfd, list)) == -1) {
		if (errno != ENOENT)
			log_warn("cannot open the UPDATE list %s", list);
		return;
	}
	while (!badhdr && seen + bad < MAX_MSGS) {
		if ((r = read(fd, buf, sizeof(buf))) == -1 && errno == EINTR)
			continue;
		if (r == -1) {
			log_warn("cannot read the UPDATE list %s", list);
			(void)close(fd);
			return;
		}
		if (r == 0)
			break;
		for (k = 0; k < r && !badhdr; k++) {
			if (buf[k] != '\n') {
				if (ll < sizeof(line) - 1)
					line[ll++] = buf[k];
				else
					toolong = true;
				continue;
			}
			line[ll] = '\0';
			if (!header) {
				header = true;
				badhdr = toolong || list_header(line, &want)
				    == -1;
			} else if (toolong || !list_name_ok(line, ll))
				bad++;
			else {
				seen++;
				if (remove_listed(sp, line, ix, &removed,
				    touched) == -1)
					failed = 1;
			}
			ll = 0;
			toolong = false;
		}
	}
	(void)close(fd);
	if (!header || badhdr) {
		log_warnx("%s is not an UPDATE list; removed without acting "
		    "on it", list);
		remove_list(sp->pub.dirfd, list);
		return;
	}
	if ((touched[0] && fsync(sp->curfd) == -1 && errno != EINVAL) ||
	    (touched[1] && fsync(sp->newfd) == -1 && errno != EINVAL))
		failed = 1;
	if (ll > 0 || toolong || seen + bad != want)
		log_warnx("UPDATE list %s is damaged: %llu of %llu names "
		    "readable; only those are acted on", list,
		    (unsigned long long)seen, (unsigned long long)want);
	if (failed) {
		log_warnx("interrupted UPDATE not finished (%s kept): %llu "
		    "removed", list, (unsigned long long)removed);
		return;
	}
	log_info("finished an interrupted UPDATE (%s): %llu of %llu listed "
	    "messages removed", list, (unsigned long long)removed,
	    (unsigned long long)seen);
	remove_list(sp->pub.dirfd, list);
}

/* SPEC 5: before the listing, finish what dead sessions left undone. */
static void
recover_updates(struct snap_priv *sp)
{
	static const char	 prefix[] = MAILDIR_UPDATE_LIST ".";
	struct dirindex		 root, ix[2];
	size_t			 i;
	bool			 indexed = false;

	if (index_dir(sp->pub.dirfd, &root) == -1) {
		log_warn("cannot read the Maildir for UPDATE lists");
		return;
	}
	for (i = 0; i < root.n; i++) {
		if (strncmp(root.names[i], prefix, sizeof(prefix) - 1) != 0)
			continue;
		if (!indexed) {
			if (index_dir(sp->curfd, &ix[0]) == -1) {
				log_warn("cannot read cur/; UPDATE list %s "
				    "kept", root.names[i]);
				break;
			}
			if (index_dir(sp->newfd, &ix[1]) == -1 &&
			    sp->newfd >= 0) {
				index_free(&ix[0]);
				log_warn("cannot read new/; UPDATE list %s "
				    "kept", root.names[i]);
				break;
			}
			indexed = true;
		}
		finish_list(sp, root.names[i], ix);
	}
	if (indexed) {
		index_free(&ix[0]);
		index_free(&ix[1]);
	}
	index_free(&root);
}

void
maildir_close(struct snapshot *s)
{
	struct snap_priv	*sp = (struct snap_priv *)s;
	size_t			 i;

	if (s == NULL)
		return;
	for (i = 0; i < s->count; i++) {
		if (file_owned(&s->msgs[i]))
			free(s->msgs[i].file);
		free(s->msgs[i].name);
	}
	free(s->msgs);
	if (s->dirfd >= 0)
		(void)close(s->dirfd);
	if (sp->curfd >= 0)
		(void)close(sp->curfd);
	if (sp->newfd >= 0)
		(void)close(sp->newfd);
	free(sp);
}

/*
 * The RFC 1939 transform (SPEC 3, STYLE 3.4).  Lines end at LF; a CR just
 * before the LF belongs to the line end, so LF and CRLF both become CRLF,
 * and any other CR is an ordinary byte.  A CR that ends a chunk waits in
 * pending_cr for the next one; a CR that ends the file ends its line.
 *
 * xform() is the one implementation: it writes straight into a caller's
 * buffer (for RETR/TOP the output buffer of io.c), or only counts.  Each
 * line costs one memchr() and one memcpy(); the CR or dot it adds is
 * stored in place.  The output is bounded by the room given, so a long
 * line may be cut, but only inside its text, never between its CR and LF.
 */
void
crlf_init(struct crlf_state *st, int64_t top_lines, bool dot_stuff)
{
	memset(st, 0, sizeof(*st));
	st->bol = true;
	st->dot_stuff = dot_stuff;
	st->limited = top_lines >= 0;
	st->body_lines_left = top_lines >= 0 ? (uint64_t)top_lines : 0;
}

/* A line ended; bol still set means it was empty (the header's end). */
static void
line_done(struct crlf_state *st)
{
	if (!st->in_body) {
		if (st->bol) {
			st->in_body = true;
			if (st->limited && st->body_lines_left == 0)
				st->done = true;
		}
	} else if (st->limited && --st->body_lines_left == 0)
		st->done = true;
	st->bol = true;
}

/*
 * xform()'s common case, whole lines of the body without a TOP limit,
 * from a line start: nothing changes but the position.  Stops before a
 * line that has no LF or does not fit in out[o..room).  Returns the input
 * octets consumed and stores the new output offset in *o_out.
 */
static size_t
xform_lines(bool dot_stuff, const char *in, const char *end, char *out,
    size_t o, size_t room, size_t *o_out)
{
	const char	*p = in, *lf;
	size_t		 n, dot;

	while ((lf = memchr(p, '\n', (size_t)(end - p))) != NULL) {
		n = (size_t)(lf - p);
		if (n > 0 && lf[-1] == '\r')
			n--;
		dot = dot_stuff && *p == '.';
		if (dot + n + 2 > room - o)
			break;
		if (out != NULL) {
			out[o] = '.';	/* overwritten unless dot */
			memcpy(out + o + dot, p, n);
			memcpy(out + o + dot + n, "\r\n", 2);
		}
		o += dot + n + 2;
		p = lf + 1;
	}
	*o_out = o;
	return (size_t)(p - in);
}

/*
 * Transforms in[0..len) into out (NULL: count only) while the output fits
 * in room octets.  Stores the input octets consumed in *used_out and
 * returns the octets produced.  It stops before the end of the input only
 * at the TOP limit or when the next piece does not fit; given room >= 2 it
 * always consumes or produces something.
 */
static size_t
xform(struct crlf_state *st, const char *in, size_t len, char *out,
    size_t room, size_t *used_out)
{
	const char	*p = in, *end = in + len, *lf;
	size_t		 o = 0, n, eol;

	if (st->pending_cr && len > 0 && !st->done && room >= 2) {
		st->pending_cr = false;
		if (*p == '\n') {
			if (out != NULL)
				memcpy(out, "\r\n", 2);
			o = 2;
			p++;
			line_done(st);
		} else {
			if (out != NULL)
				out[0] = '\r';
			o = 1;
			st->bol = false;
		}
	}
	while (p < end && !st->done && !st->pending_cr) {
		if (st->bol && st->in_body && !st->limited) {
			p += xform_lines(st->dot_stuff, p, end, out, o, room,
			    &o);
			if (p == end)
				break;
		}
		if (st->bol && st->dot_stuff && *p == '.') {
			if (room - o < 2)	/* the dot and one octet */
				break;
			if (out != NULL)
				out[o] = '.';
			o++;
			st->bol = false;
		}
		if ((lf = memchr(p, '\n', (size_t)(end - p))) != NULL) {
			n = (size_t)(lf - p);
			if (n > 0 && lf[-1] == '\r')
				n--;
			eol = 2;
		} else {
			n = (size_t)(end - p);
			eol = 0;
		}
		if (n + eol > room - o) {
			/* Part of the text only; the rest comes next call. */
			if (n > room - o)
				n = room - o;
			eol = 0;
			lf = NULL;
		} else if (lf == NULL && end[-1] == '\r') {
			/* It may end the line: wait for the next byte. */
			n--;
			st->pending_cr = true;
		}
		if (n + eol == 0) {
			if (st->pending_cr)
				p = end;	/* just the pending CR */
			break;
		}
		if (out != NULL) {
			memcpy(out + o, p, n);
			if (eol)
				memcpy(out + o + n, "\r\n", 2);
		}
		o += n + eol;
		if (n > 0)
			st->bol = false;
		if (lf != NULL) {
			p = lf + 1;
			line_done(st);
		} else
			p += n + st->pending_cr;
	}
	*used_out = (size_t)(p - in);
	return o;
}

int64_t
crlf_feed(struct crlf_state *st, const char *buf, size_t len, emit_fn emit,
    void *arg)
{
	char		 out[4096];
	size_t		 n, used;
	int64_t		 total = 0;

	if (emit == NULL)
		return (int64_t)xform(st, buf, len, NULL, SIZE_MAX, &used);
	while (len > 0 && !st->done) {
		n = xform(st, buf, len, out, sizeof(out), &used);
		if (n > 0 && emit(arg, out, n) == -1)
			return -1;
		total += (int64_t)n;
		buf += used;
		len -= used;
	}
	return total;
}

/* The CRLF after a last line without one: 0 or 2 octets into out. */
static size_t
xform_finish(struct crlf_state *st, char *out)
{
	if (st->done || (!st->pending_cr && st->bol))
		return 0;
	st->pending_cr = false;
	memcpy(out, "\r\n", 2);
	line_done(st);
	return 2;
}

int64_t
crlf_finish(struct crlf_state *st, emit_fn emit, void *arg)
{
	char	 out[2];
	size_t	 n;

	if ((n = xform_finish(st, out)) > 0 && emit != NULL &&
	    emit(arg, out, n) == -1)
		return -1;
	return (int64_t)n;
}

/*
 * Feeds one chunk into the output buffer.  STREAM_ROOM is the least room
 * worth a transform call; with less, the buffer is written out first, so
 * every write but the last of an answer is a full buffer.
 */
static int
stream_chunk(struct crlf_state *st, const char *in, size_t len,
    struct io *io)
{
	char	*out;
	size_t	 room, used;

	while (len > 0 && !st->done) {
		if ((out = io_reserve(io, STREAM_ROOM, &room)) == NULL)
			return -1;
		io_commit(io, xform(st, in, len, out, room, &used));
		in += used;
		len -= used;
	}
	return 0;
}

int
maildir_stream(int fd, int64_t top_lines, struct io *io)
{
	struct crlf_state	 st;
	char			*in, *out;
	size_t			 room;
	ssize_t			 r;
	bool			 blocking = false;
	int			 rv = -1, saved;

	if ((in = malloc(CHUNK)) == NULL) {
		(void)close(fd);
		return -1;
	}
	crlf_init(&st, top_lines, true);
	while (!st.done) {
		r = read(fd, in, CHUNK);
		if (r == -1 && errno == EINTR)
			continue;
		/* O_NONBLOCK (open_msg()), should a file system mind it. */
		if (r == -1 && errno == EAGAIN && !blocking) {
			blocking = true;
			if (fcntl(fd, F_SETFL, 0) == 0)
				continue;
		}
		if (r == -1)
			goto done;
		if (r == 0)
			break;
		if (stream_chunk(&st, in, (size_t)r, io) == -1)
			goto done;
	}
	if ((out = io_reserve(io, 2, &room)) == NULL)
		goto done;
	io_commit(io, xform_finish(&st, out));
	rv = 0;
 done:
	saved = errno;
	free(in);
	(void)close(fd);
	errno = saved;
	return rv;
}
