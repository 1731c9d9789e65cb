/*
 * maildir.c: the snapshot of a user's Maildir (spec 5, 6): opening it,
 * new/ to cur/, the listing of cur/, exact CRLF sizes (",W=" field, the
 * size cache in the state file, or one read), the snapshot ordered by UID,
 * opening one of its messages, and closing it; how one message is sized
 * (",W=", the cache, one read) is maildir-size.c's.  UIDs, the state file and
 * UIDL strings are uidmap.c's; the RFC 1939 transform and RETR/TOP
 * streaming are maildir-crlf.c's; UPDATE and the recovery of a dead session's
 * UPDATE (run here, before the listing) are maildir-update.c's; the directory
 * helpers shared with maildir-update.c are maildir-dir.c's (maildir-int.h).
 *
 * It runs as the user after the privilege drop and trusts nothing in the
 * Maildir: entries are checked to be regular files (d_type, or fstatat
 * without following links), messages are opened with O_NOFOLLOW and
 * fstat-checked, and file names are only compared, never used as paths
 * beyond one component.  It writes no protocol replies and removes no
 * message.
 *
 * A login to a Maildir whose cur/ has not changed since the state file
 * recorded it (uidmap.h, cur=) reads the Maildir (for UPDATE lists), new/
 * and the state file, and takes the snapshot from the records: it lists
 * no cur/ and touches no message.  Otherwise cur/ is listed and matched
 * against the records in one pass; a message whose whole file name is
 * the recorded one takes the cached size without a stat (uidmap.h), a
 * renamed one is statted, and only messages without a usable record are
 * read, once: openat, fstat, reads up to st_size, close (a message the
 * page cache does not hold is read after the others; maildir-size.c).
 * Such a login takes no lock and writes nothing when every message had
 * its record.
 * Otherwise uidmap_update() numbers new arrivals under the lock.  When
 * that fails the login goes on: messages without a stored UID get a
 * temporary UIDL that can never equal a counter UID (a client may fetch
 * such a message twice, but never skips one).
 */
#define _GNU_SOURCE		/* qsort_r() */

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

#include "log.h"
#include "maildir-crlf.h"
#include "maildir-int.h"
#include "maildir-update.h"
#include "maildir.h"
#include "uidmap.h"
#include "util.h"

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

/*
 * The listing's messages without a record: delivery order (tkey, then
 * base name), then the whole file name, so one base name's files sit
 * together, the first by name first.  Delivery order is the order new
 * arrivals are numbered in, so after numbering the listing is in UID
 * order already and the later sorts find nothing to do.
 */
static int
cmp_listing(const void *a, const void *b)
{
	const struct uidmap_msg	*x = a, *y = b;
	int			 c;

	if ((c = uidmap_cmp_delivery(a, b)) != 0)
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
		e.mtime = mdir_mtime_ns(&st);
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
 * spec 5: the listing of cur/ is the snapshot (in readdir() order; see
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

	if ((dir = mdir_open_dir(curfd)) == NULL ||
	    fstat(dirfd(dir), &before) == -1) {
		if (dir != NULL)
			(void)closedir(dir);
		*errstr_out = "cannot read cur/";
		return -1;
	}
	if ((local = local_fs(dirfd(dir))))
		t0 = coarse_after(mdir_mtime_ns(&before));
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
	if (mdir_mtime_ns(&before) == mdir_mtime_ns(&after) &&
	    (local ? mdir_mtime_ns(&after) < t0 : sc->stable))
		sc->cur_mtime = mdir_mtime_ns(&after);
	for (i = 0; i < sc->n; i++) {
		sc->e[i].name = sc->arena + sc->e[i].off;
		sc->e[i].file = sc->e[i].name + strlen(sc->e[i].name) + 1;
	}
	return 0;
}

/*
 * Sorts v[nu..nv) (messages without a record) by cmp_listing() and keeps
 * the first of each base name; returns the new end.
 */
static size_t
sort_unrecorded(struct uidmap_msg *v, size_t nu, size_t nv)
{
	size_t	 i, j;

	if (nv - nu > 1)
		qsort(v + nu, nv - nu, sizeof(*v), cmp_listing);
	for (i = j = nu; i < nv; i++)
		if (j == nu || strcmp(v[j - 1].name, v[i].name) != 0)
			v[j++] = v[i];
	return j;
}

/*
 * Takes UIDs and cached sizes from the state file read without the lock,
 * in one pass over the listing (uidmap_find() is a hash lookup), and
 * reorders sc->e: messages with a record in the file's order (ascending
 * UID, so build() needs no sort), then the others in delivery order
 * (cmp_listing()).  Of two files with one base name the first by name
 * is kept.  Sets *need_write_out
 * when the file needs writing for other reasons than new UIDs or sizes:
 * it is corrupt, it holds records of removed messages, or a renamed
 * message's record is to be rewritten.  Returns 0, or -1 (ENOMEM).
 */
static int
match_cache(int curfd, struct scan *sc, const struct uidmap *m,
    bool *need_write_out)
{
	struct uidmap_msg	*v, *e;
	size_t			*claim, i, j, k, nv = 0, nu, nc = 0;
	bool			 refresh = false;

	if ((claim = calloc(m->count + 1, sizeof(*claim))) == NULL)
		return -1;
	for (i = 0; i < sc->n; i++) {
		e = &sc->e[i];
		if ((e->old = uidmap_find(m, e->name)) == NULL)
			continue;
		k = (size_t)(e->old - m->ents);
		if (claim[k] == 0)
			nc++;
		if (claim[k] == 0 ||
		    strcmp(e->file, sc->e[claim[k] - 1].file) < 0)
			claim[k] = i + 1;
	}
	if (nc == 0) {
		/* No record (a first login): the listing is sorted in place. */
		free(claim);
		*need_write_out = m->status == UIDMAP_CORRUPT ||
		    (m->count > 0 && sc->stable);
		sc->exact = m->status == UIDMAP_OK && m->count == 0 &&
		    sc->n == 0;
		sc->n = sort_unrecorded(sc->e, 0, sc->n);
		return 0;
	}
	if ((v = reallocarray(NULL, sc->n + 1, sizeof(*v))) == NULL) {
		free(claim);
		return -1;
	}
	for (k = 0; k < m->count; k++)
		if (claim[k] != 0) {
			v[nv] = sc->e[claim[k] - 1];
			mdir_cache_size(curfd, &v[nv++], &refresh);
		}
	*need_write_out = m->status == UIDMAP_CORRUPT ||
	    (nv < m->count && sc->stable) || refresh;
	sc->exact = m->status == UIDMAP_OK && nv == m->count;
	for (i = 0, nu = nv; i < sc->n; i++)
		if (sc->e[i].old == NULL)
			v[nv++] = sc->e[i];
	j = sort_unrecorded(v, nu, nv);
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
 * One message for size_rest(): with nowait, 1 when it is left for later
 * (*ahead grows by its octets); else 0, with e sized or skipped.
 */
static int
size_one(int curfd, struct uidmap_msg *e, char *buf, bool *nowait,
    uint64_t *ahead, bool *dirty_out)
{
	int	 r;

	r = mdir_size_by_reading(curfd, e, buf, nowait);
	if (r == 1) {
		*ahead += e->rawsize;
		return 1;
	}
	if (r == -1) {
		if (errno != ENOENT)
			log_warn("cannot read cur/%s", e->file);
		e->skip = true;
		return 0;
	}
	*dirty_out = true;
	return 0;
}

#define AHEAD_MAX	(32u << 20)	/* octets read in ahead, at most */

/*
 * Sizes what neither ",W=" nor the cache sized, leaving out what cannot be
 * read.  Sets *dirty_out when a size is new, *need_uid_out when a message
 * of the snapshot has no UID.  What the page cache holds is sized at
 * once; the kernel is asked to read in the rest (mdir_size_by_reading()
 * with nowait), and those messages are sized once AHEAD_MAX octets of
 * them are under way, and at the end: a first login after the mail left
 * memory waits for the disk about once a window instead of once a
 * message, and never asks for more than AHEAD_MAX of page cache ahead.
 */
static int
size_rest(int curfd, struct scan *sc, bool *dirty_out, bool *need_uid_out)
{
	struct uidmap_msg	*e;
	char			*buf = NULL;
	uint64_t		 ahead = 0;
	size_t			 i, k, from = 0;
	bool			 nowait = true;

	*dirty_out = *need_uid_out = false;
	for (i = 0; i <= sc->n; i++) {
		if (i == sc->n || ahead >= AHEAD_MAX) {
			/* The window's messages left for later, in order. */
			for (k = from; k < i; k++)
				if (!sc->e[k].skip && !sc->e[k].sized)
					(void)size_one(curfd, &sc->e[k], buf,
					    NULL, &ahead, dirty_out);
			from = i;
			ahead = 0;
		}
		if (i == sc->n)
			break;
		e = &sc->e[i];
		if (e->skip || e->sized)
			continue;
		if (buf == NULL && (buf = malloc(MDIR_CHUNK)) == NULL)
			return -1;
		(void)size_one(curfd, e, buf, &nowait, &ahead, dirty_out);
	}
	for (i = 0; i < sc->n; i++)
		if (!sc->e[i].skip && sc->e[i].uid == 0)
			*need_uid_out = true;
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
	    fstat(curfd, &st) == 0 && mdir_mtime_ns(&st) == m->cur_mtime;
}

/*
 * spec 4.3: true when the state file keeps a time the user's policy does
 * not use (maildir.h): the login rewrites it without.
 */
static bool
stale_times(const struct uidmap *m, const struct maildir_login *ml)
{
	size_t	 i;

	if (ml == NULL || m->status != UIDMAP_OK)
		return false;
	if (ml->delay == 0 && m->last_login != 0)
		return true;
	for (i = 0; i < m->count && !ml->expire; i++)
		if (m->ents[i].retr != 0)
			return true;
	return false;
}

/* Writes the state file when needed; a failure never fails the login. */
static void
update_state(struct snap_priv *sp, struct scan *sc, const struct uidmap *m1,
    bool need_uid, enum uidl_mode mode, const struct maildir_login *ml,
    uint64_t login)
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
	u.login = login;
	u.drop_login = ml != NULL && ml->delay == 0;
	u.drop_retr = ml != NULL && !ml->expire;
	u.import = ml != NULL ? ml->import : UIDMAP_IMPORT_AUTO;
	if (uidmap_update(sp->pub.dirfd, &u, &err) == 0)
		return;
	if (mode == UIDL_COUNTER && need_uid)
		log_warn("uidlist not updated (%s); new messages get "
		    "temporary UIDLs", err);
	else
		log_debug("uidlist not updated (%s)", err);
}

/*
 * The snapshot's strings (cold path), one block: "name\0[info\0]uidl\0"
 * a message, laid out by snap_put(); a warm login keeps the names and
 * infos in the state file's block (build_from_state()) and puts only
 * the UIDLs here.  *need_out grows by what message e takes (its name and
 * info only when names); -1 on overflow or a UIDL that cannot be made.
 */
static int
snap_need(const struct uidmap_msg *e, enum uidl_mode mode, bool names,
    size_t *need_out)
{
	char	 uidl[MAX_UIDL + 1];
	size_t	 n = names ? strlen(e->file) + 1 : 0;

	if (uidmap_uidl(e, mode == UIDL_COUNTER, uidl, sizeof(uidl)) == -1 ||
	    __builtin_add_overflow(*need_out, n, need_out) ||
	    __builtin_add_overflow(*need_out, strlen(uidl) + 1, need_out)) {
		errno = ENOMEM;
		return -1;
	}
	return 0;
}

/*
 * Fills m from e at *pos of sp's block of size octets (snap_need()):
 * with names, copies e's name and info there, else m->name and m->info
 * are set already.
 */
static int
snap_put(struct snap_priv *sp, struct msg *m, const struct uidmap_msg *e,
    enum uidl_mode mode, bool names, size_t *pos, size_t size)
{
	struct snapshot	*s = &sp->pub;
	const char	*colon;
	char		 uidl[MAX_UIDL + 1], *p = sp->strs + *pos;
	size_t		 f = names ? strlen(e->file) + 1 : 0, u;

	if (uidmap_uidl(e, mode == UIDL_COUNTER, uidl, sizeof(uidl)) == -1)
		return -1;
	u = strlen(uidl) + 1;
	if (f + u > size - *pos) {
		errno = ENOMEM;		/* a name changed meanwhile? */
		return -1;
	}
	if (names) {
		memcpy(p, e->file, f);
		m->name = p;
		m->info = NULL;
		if ((colon = strchr(e->file, ':')) != NULL) {
			p[colon - e->file] = '\0';
			m->info = p + (colon - e->file) + 1;
		}
		p += f;
	}
	memcpy(p, uidl, u);
	m->uidl = p;
	*pos += f + u;
	m->file = NULL;
	m->size = e->size;
	m->deleted = false;
	if (__builtin_add_overflow(s->total, e->size, &s->total))
		return -1;
	s->count++;
	return 0;
}

/* Fills the snapshot in UID order (counter) or delivery order. */
static int
build(struct snap_priv *sp, struct scan *sc, enum uidl_mode mode)
{
	size_t			 i, k, need = 0, pos = 0;
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
	if (sc->n > MAX_MSGS) {
		errno = EFBIG;
		return -1;
	}
	for (i = 0; i < sc->n; i++)
		if (snap_need(&sc->e[i], mode, true, &need) == -1)
			return -1;
	if ((sp->pub.msgs = calloc(sc->n + 1, sizeof(*sp->pub.msgs))) == NULL ||
	    (sp->strs = malloc(need + 1)) == NULL)
		return -1;
	for (i = 0; i < sc->n; i++)
		if (snap_put(sp, &sp->pub.msgs[i], &sc->e[i], mode, true, &pos,
		    need) == -1)
			return -1;
	return 0;
}

/*
 * Delivery order (uidmap_cmp_delivery()) of the records of m, by index;
 * for qsort_r() with the map as context.
 */
static int
cmp_rec_delivery(const void *a, const void *b, void *ctx)
{
	const struct uidmap	*m = ctx;
	const char		*x = m->ents[*(const uint32_t *)a].name;
	const char		*y = m->ents[*(const uint32_t *)b].name;
	uint64_t		 tx = uidmap_name_time(x), ty = uidmap_name_time(y);

	if (tx != ty)
		return tx < ty ? -1 : 1;
	return strcmp(x, y);
}

/* The listing's message for record r, for uidmap_uidl(). */
static void
rec_msg(const struct uidmap_entry *r, struct uidmap_msg *e)
{
	memset(e, 0, sizeof(*e));
	e->name = e->file = r->name;
	e->old = r;
	e->uid = r->uid;
	e->size = r->size;
	e->sized = e->statted = true;
}

/* The records and the snapshot share one block: one must fit the other. */
_Static_assert(sizeof(struct msg) <= sizeof(struct uidmap_entry),
    "struct msg larger than a record");

/*
 * The snapshot straight from the records of m (cur_unchanged(): they are
 * the listing): in their order, which is ascending UID, or in delivery
 * order (uidl = filename), each sized by its record.  The snapshot takes
 * the map's blocks: its names and infos stay where uidmap_load() put
 * them, and in counter order each record becomes its message in place
 * (a message is smaller than a record, and record i is read before
 * message i is written), so a warm login holds the names, the records
 * and the UIDLs, and never a second copy of any.  *m is left empty.
 */
static int
build_from_state(struct snap_priv *sp, struct uidmap *m, enum uidl_mode mode)
{
	struct uidmap_entry	 r;
	struct uidmap_msg	 e;
	struct msg		 one, *msgs;
	uint32_t		*ord = NULL;
	size_t			 i, n = m->count, need = 0, pos = 0;
	bool			 inplace = mode == UIDL_COUNTER && n >= 2;

	if (n > MAX_MSGS) {
		errno = EFBIG;
		return -1;
	}
	for (i = 0; i < n; i++) {
		rec_msg(&m->ents[i], &e);
		if (snap_need(&e, mode, false, &need) == -1)
			return -1;
	}
	if ((sp->strs = malloc(need + 1)) == NULL)
		return -1;
	if (!inplace && (sp->pub.msgs = calloc(n + 1, sizeof(*msgs))) == NULL)
		return -1;
	if (mode != UIDL_COUNTER && n > 1) {
		if ((ord = reallocarray(NULL, n, sizeof(*ord))) == NULL)
			return -1;
		for (i = 0; i < n; i++)
			ord[i] = (uint32_t)i;
		qsort_r(ord, n, sizeof(*ord), cmp_rec_delivery, m);
	}
	/* The snapshot owns the names from here on. */
	sp->names = m->buf;
	m->buf = NULL;
	free(m->slots);
	m->slots = NULL;
	msgs = inplace ? (struct msg *)(void *)m->ents : sp->pub.msgs;
	for (i = 0; i < n; i++) {
		r = m->ents[ord != NULL ? ord[i] : i];
		rec_msg(&r, &e);
		one.name = (char *)r.name;
		one.info = (char *)r.info;
		if (snap_put(sp, &one, &e, mode, false, &pos, need) == -1) {
			if (inplace)
				sp->pub.count = 0;	/* no messages yet */
			free(ord);
			return -1;
		}
		memcpy(&msgs[i], &one, sizeof(one));
	}
	free(ord);
	if (inplace) {
		/* The records are gone: the block is the snapshot's now. */
		m->ents = NULL;
		m->count = 0;
		sp->pub.msgs = msgs;
		msgs = realloc(msgs, (n + 1) * sizeof(*msgs));
		if (msgs != NULL)
			sp->pub.msgs = msgs;
		memset(&sp->pub.msgs[n], 0, sizeof(*msgs));
	}
	return 0;
}

/*
 * The listing when the records are not it (cur/ changed since they were
 * written, or the file is missing, corrupt or keeps times the policy no
 * longer uses): lists cur/, takes UIDs and sizes from m1, sizes the rest,
 * and writes the state file when something is new or login_now is to be
 * stored.  Returns 0, or -1 with a static reason in *err.
 */
static int
scan_cur(struct snap_priv *sp, struct scan *sc, const struct uidmap *m1,
    enum uidl_mode mode, const struct maildir_login *login,
    uint64_t login_now, const char **err)
{
	bool	 need_uid, need_write, dirty;

	if (list_cur(sp->curfd, sc, err) == -1)
		return -1;
	*err = "out of memory";
	if (match_cache(sp->curfd, sc, m1, &need_write) == -1 ||
	    size_rest(sp->curfd, sc, &dirty, &need_uid) == -1)
		return -1;
	/* Record cur= for the next login once the listing is. */
	if (sc->exact && !dirty && sc->cur_mtime != 0 &&
	    sc->cur_mtime != m1->cur_mtime)
		need_write = true;
	if (need_write || dirty || need_uid || login_now != 0 ||
	    stale_times(m1, login))
		update_state(sp, sc, m1, need_uid, mode, login, login_now);
	return 0;
}

int
maildir_open(const char *path, enum uidl_mode mode,
    struct maildir_login *login, struct snapshot **out,
    const char **errstr_out)
{
	struct snap_priv	*sp;
	struct scan		 sc;
	struct uidmap		 m1;
	const char		*err = "out of memory";
	uint64_t		 login_now = 0;
	bool			 later;
	int			 saved;

	memset(&sc, 0, sizeof(sc));
	memset(&m1, 0, sizeof(m1));
	if ((sp = calloc(1, sizeof(*sp))) == NULL) {
		*errstr_out = err;
		return -1;
	}
	sp->pub.dirfd = sp->curfd = sp->newfd = -1;
	if (mdir_open_dirs(sp, path, &err) == -1)
		goto fail;
	/* spec 4.3: before UPDATE lists, new/ or the state file change. */
	if (login != NULL && login->delay > 0) {
		if (uidmap_login_gate(sp->pub.dirfd, login->delay, login->now,
		    &login->last, &later) == 1) {
			login->too_soon = true;
			err = "login delay";
			goto fail;
		}
		if (later)
			login_now = login->now;
	}
	update_recover(sp);
	if (uidmap_load(sp->pub.dirfd, login != NULL ? login->import :
	    UIDMAP_IMPORT_AUTO, &m1) == -1) {
		/* Not rebuilt: a passing EIO must not renumber everything. */
		err = "cannot read the UID state file " UIDMAP_FILE;
		goto fail;
	}
	if (m1.status == UIDMAP_MISSING)
		sc.had_cur = mdir_has_msgs(sp->curfd);
	mdir_move_new(sp);
	if (cur_unchanged(sp->curfd, &m1) && !stale_times(&m1, login)) {
		/* uidmap.h cur=: the records are the listing. */
		if (build_from_state(sp, &m1, mode) == -1) {
			err = errno == EFBIG ? "too many messages" :
			    "out of memory";
			goto fail;
		}
	} else if (scan_cur(sp, &sc, &m1, mode, login, login_now,
	    &err) == -1)
		goto fail;
	if (sp->pub.msgs == NULL && build(sp, &sc, mode) == -1) {
		err = errno == EFBIG ? "too many messages" : "out of memory";
		goto fail;
	}
	free(sc.e);
	free(sc.arena);
	uidmap_free(&m1);
	*out = &sp->pub;
	return 0;
 fail:
	saved = errno;		/* spec 9: the caller logs the system error */
	free(sc.e);
	free(sc.arena);
	uidmap_free(&m1);
	maildir_close(&sp->pub);
	*errstr_out = err;
	errno = saved;
	return -1;
}

const char *
mdir_msg_file(const struct msg *m, char *buf, size_t size)
{
	int	 len;

	if (m->file != NULL)
		return m->file;
	if (m->info == NULL)
		return m->name;
	len = snprintf(buf, size, "%s:%s", m->name, m->info);
	return len < 0 || (size_t)len >= size ? m->name : buf;
}

/*
 * spec 5 (C0004): a message renamed meanwhile is found by its base name.
 * gcc 12's analyzer calls copy leaked once the index helpers are in
 * another file (maildir-dir.c); it is stored in m->file, which the snapshot owns
 * and maildir_close() frees.
 */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wanalyzer-malloc-leak"
int
maildir_msg_open(struct snapshot *s, size_t i, struct stat *st_out)
{
	struct snap_priv	*sp = (struct snap_priv *)s;
	struct msg		*m;
	struct dirindex		 ix;
	const char		*found;
	char			*copy, fbuf[MDIR_FILE_MAX];
	int			 fd, k, dfd;

	if (i >= s->count) {
		errno = EINVAL;
		return -1;
	}
	m = &s->msgs[i];
	if ((fd = mdir_open_msg(sp->curfd, mdir_msg_file(m, fbuf,
	    sizeof(fbuf)), st_out)) != -1 ||
	    errno != ENOENT)
		return fd;
	for (k = 0; k < 2; k++) {
		dfd = k == 0 ? sp->curfd : sp->newfd;
		if (mdir_index_dir(dfd, &ix) == -1)
			continue;
		if ((found = mdir_index_find(&ix, m->name)) == NULL) {
			mdir_index_free(&ix);
			continue;
		}
		fd = mdir_open_msg(dfd, found, st_out);
		if (fd != -1 && k == 0 && (copy = strdup(found)) != NULL) {
			free(m->file);
			m->file = copy;
		}
		mdir_index_free(&ix);
		return fd;
	}
	errno = ENOENT;
	return -1;
}
#pragma GCC diagnostic pop

void
maildir_close(struct snapshot *s)
{
	struct snap_priv	*sp = (struct snap_priv *)s;
	size_t			 i;

	if (s == NULL)
		return;
	for (i = 0; i < s->count; i++)
		free(s->msgs[i].file);
	free(s->msgs);
	free(sp->strs);
	free(sp->names);
	if (s->dirfd >= 0)
		(void)close(s->dirfd);
	if (sp->curfd >= 0)
		(void)close(sp->curfd);
	if (sp->newfd >= 0)
		(void)close(sp->newfd);
	free(sp);
}
