/*
 * uidmap.c: the UID state file of a Maildir (spec 6): loading, the
 * temp-file-plus-rename save, numbering new arrivals and the rebuild of a
 * lost or corrupt file; the NFS-safe lock is uidmap-lock.c's.  The pure parsers (the state
 * file's text, Maildir file names, UIDL strings) are uidmap-parse.c's.  The
 * first login of a Maildir without a state file may import the old
 * server's UIDLs (uidmap-import.c); they are numbered here, under the lock,
 * and kept in a version 2 state file for good.
 *
 * Everything in the state file is hostile input (the user owns it): it
 * is read with a size bound and only through uidmap_parse(); a malformed
 * file is CORRUPT and is rebuilt above a time-based floor.  UIDs
 * are assigned only with the lock held and after re-reading the file, so
 * concurrent logins never hand out one UID twice.
 *
 * Shared storage (NFS, several hosts serving one Maildir): nothing here
 * relies on one host.  The lock is a file created with O_EXCL in the
 * Maildir (atomic on NFSv3 and later), holding host and pid only for
 * people and for one check: a lock taken on this host, in this pid
 * namespace, by a process that is gone is broken at once; any other is
 * broken by age alone (UIDMAP_LOCK_STALE), since a pid means nothing on
 * another host.  Temp files are named after host and pid,
 * so two hosts never write one file, and rename(2) replaces the state
 * file atomically; readers without the lock see the old or the new file.
 */
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "maildir-file.h"
#include "uidmap-import.h"
#include "uidmap.h"
#include "util.h"

/*
 * The hash index is an open-addressing array of 32-bit slots, at most
 * half full: 0 is empty, else the low m->shift bits hold the entry's
 * index + 1 and the bits above them a tag, the top bits of the hash, so
 * most probes that miss are settled without reading the name.
 */
static uint32_t
slot_tag(const struct uidmap *m, uint64_t h)
{
	return m->shift >= 32 ? 0 : (uint32_t)(h >> 32) << m->shift;
}

/*
 * A keyed hash of a name, 8 octets a step; not cryptographic, but the key
 * is random, so the user cannot pick names that collide.
 */
static uint64_t
name_hash(uint64_t seed, const char *s, size_t len)
{
	uint64_t	 h = seed ^ (len * 0x9e3779b97f4a7c15ULL), w;

	for (; len >= 8; s += 8, len -= 8) {
		memcpy(&w, s, 8);
		h = (h ^ w) * 0xff51afd7ed558ccdULL;
		h ^= h >> 32;
	}
	w = 0;
	memcpy(&w, s, len);
	h = (h ^ w) * 0xc4ceb9fe1a85ec53ULL;
	return h ^ h >> 29;
}

/*
 * The slot of name (hash h) in m->slots: the one holding its entry, or
 * the empty one where it would go.
 */
static uint32_t *
slot_find(const struct uidmap *m, uint64_t h, const char *name)
{
	uint32_t	*sl, tag = slot_tag(m, h), low = ~(uint32_t)0;
	size_t		 k;

	if (m->shift < 32)
		low = ((uint32_t)1 << m->shift) - 1;
	for (k = h & m->mask; *(sl = &m->slots[k]) != 0;
	    k = (k + 1) & m->mask)
		if ((*sl & ~low) == tag &&
		    strcmp(m->ents[(*sl & low) - 1].name, name) == 0)
			break;
	return sl;
}

/*
 * Builds m->slots over m->ents[0..m->count).  Returns 0, 1 when two
 * entries have one name, or -1 (ENOMEM).
 */
#define AHEAD	8

static int
index_build(struct uidmap *m)
{
	uint32_t	*sl;
	uint64_t	 h, ring[AHEAD] = { 0 };
	size_t		 i, n = 16;

	if (m->count == 0)
		return 0;
	if (m->count > UINT32_MAX / 4) {
		errno = ENOMEM;
		return -1;
	}
	while (n < 2 * m->count)
		n *= 2;
	if ((m->slots = calloc(n, sizeof(*m->slots))) == NULL)
		return -1;
	m->mask = n - 1;
	/* Enough low bits for count + 1; the tag gets the rest. */
	for (m->shift = 1; m->shift < 32 &&
	    ((size_t)1 << m->shift) <= m->count; m->shift++)
		;
	if (getrandom(&m->seed, sizeof(m->seed), GRND_NONBLOCK) !=
	    (ssize_t)sizeof(m->seed))
		m->seed = (uint64_t)time(NULL) ^ (uint64_t)(uintptr_t)m ^
		    (uint64_t)getpid() << 32;
	/*
	 * The table is larger than the caches: hashes are made AHEAD
	 * entries early (a ring) and their first slots fetched meanwhile.
	 */
	for (i = 0; i < m->count + AHEAD; i++) {
		if (i >= AHEAD) {
			/* Entry i - AHEAD, its hash in the ring's slot i. */
			h = ring[i % AHEAD];
			if (*(sl = slot_find(m, h,
			    m->ents[i - AHEAD].name)) != 0)
				return 1;
			*sl = slot_tag(m, h) | (uint32_t)(i - AHEAD + 1);
		}
		if (i < m->count) {
			h = name_hash(m->seed, m->ents[i].name,
			    strlen(m->ents[i].name));
			ring[i % AHEAD] = h;
			__builtin_prefetch(&m->slots[h & m->mask]);
		}
	}
	return 0;
}

static void
corrupt(struct uidmap *m, const char *why)
{
	free(m->slots);
	m->slots = NULL;
	free(m->ents);
	m->ents = NULL;
	m->count = 0;
	m->status = UIDMAP_CORRUPT;
	m->why = why;
}

#define LINE_BUF	(64 * 1024)	/* the read buffer; grows for a longer line */

#ifdef POP3_FUZZ
/*
 * Fuzz and replay builds only (uidmap.h): the read buffer's first size
 * and every read's limit, so that small inputs cross chunk boundaries.
 */
size_t	 uidmap_fuzz_chunk;
#define CHUNK	(uidmap_fuzz_chunk != 0 ? uidmap_fuzz_chunk : LINE_BUF)
#else
#define CHUNK	LINE_BUF
#endif

/* A state file read a chunk at a time (uidmap_load()). */
struct reader {
	char		*lb;		/* lines being read */
	size_t		 lcap, have;	/* its size, octets in it */
	size_t		 apos, acap;	/* used and size of m->buf */
	size_t		 cap;		/* m->ents entries allocated */
};

/*
 * Copies the strings of the record just parsed (they point into the
 * read buffer) to m->buf: its name and info as "name\0info\0", its kept
 * UIDL.  Never more octets than the record's line had (each NUL stands
 * for a separator or the LF), so the file's size is enough in total.
 */
static int
keep_strings(struct reader *rd, struct uidmap *m, struct uidmap_entry *e)
{
	const char	*src[3] = { e->name, e->info, e->uidl };
	const char	**dst[3] = { &e->name, &e->info, &e->uidl };
	size_t		 i, len;

	for (i = 0; i < 3; i++) {
		if (src[i] == NULL)
			continue;
		len = strlen(src[i]) + 1;
		if (len > rd->acap - rd->apos) {
			errno = ENOMEM;		/* cannot happen (above) */
			return -1;
		}
		memcpy(m->buf + rd->apos, src[i], len);
		*dst[i] = m->buf + rd->apos;
		rd->apos += len;
	}
	return 0;
}

/*
 * Parses the complete lines of rd->lb[0..rd->have) and moves what
 * follows the last LF to the front.  Returns 0 or -1 (ENOMEM).
 */
static int
feed_lines(struct reader *rd, struct uidmap_pstate *ps, struct uidmap *m)
{
	struct uidmap_entry	*p;
	char			*s = rd->lb, *end = rd->lb + rd->have, *eol;

	for (; s < end; s = eol + 1) {
		if ((eol = memchr(s, '\n', (size_t)(end - s))) == NULL)
			break;
		*eol = '\0';
		if (ps->n == rd->cap) {
			/* At most one record a line: bounded by the file. */
			if (rd->cap > SIZE_MAX / 2 / sizeof(*m->ents)) {
				errno = ENOMEM;
				return -1;
			}
			rd->cap = rd->cap == 0 ? 1024 : rd->cap * 2;
			if ((p = reallocarray(m->ents, rd->cap,
			    sizeof(*m->ents))) == NULL)
				return -1;
			m->ents = p;
		}
		if (uidmap_parse_line(ps, s, (size_t)(eol - s), m,
		    rd->cap) == 1 &&
		    keep_strings(rd, m, &m->ents[ps->n - 1]) == -1)
			return -1;
	}
	rd->have = (size_t)(end - s);
	memmove(rd->lb, s, rd->have);
	return 0;
}

/*
 * Reads and parses the state file fd of size octets in one pass through
 * a LINE_BUF buffer (longer lines grow it, up to the file's size): the
 * records' strings go to m->buf, so a login holds the names, not the
 * file.  Returns what uidmap_parse() does, or -2 with errno (a read
 * error, ENOMEM).
 */
static int
read_parse(int fd, size_t size, struct uidmap *m)
{
	struct uidmap_pstate	 ps;
	struct reader		 rd;
	size_t			 got = 0, ncap;
	ssize_t			 r;
	char			*p;
	int			 ret = -2;

	memset(&rd, 0, sizeof(rd));
	rd.acap = size + 1;
	rd.lcap = size + 1 < CHUNK ? size + 1 : CHUNK;
	/* Pages of m->buf are touched only as names are copied in. */
	if ((m->buf = malloc(rd.acap)) == NULL ||
	    (rd.lb = malloc(rd.lcap)) == NULL)
		goto out;
	uidmap_parse_start(&ps, m);
	while (got < size) {
		if (rd.have == rd.lcap) {
			/* One line fills the buffer: double it. */
			ncap = rd.lcap > size / 2 ? size + 1 : rd.lcap * 2;
			if ((p = realloc(rd.lb, ncap)) == NULL)
				goto out;
			rd.lb = p;
			rd.lcap = ncap;
		}
		ncap = rd.lcap - rd.have;
		if (ncap > size - got)
			ncap = size - got;
#ifdef POP3_FUZZ
		if (ncap > CHUNK)
			ncap = CHUNK;		/* short reads */
#endif
		if ((r = read_retry(fd, rd.lb + rd.have, ncap)) == -1)
			goto out;
		if (r == 0)
			break;
		got += (size_t)r;
		rd.have += (size_t)r;
		if (feed_lines(&rd, &ps, m) == -1)
			goto out;
	}
	ret = uidmap_parse_end(&ps, m, rd.have > 0);
 out:
	free(rd.lb);
	return ret;
}

int
uidmap_load(int dirfd, enum uidmap_import mode, struct uidmap *m)
{
	struct stat	 st;
	int		 fd, r;

	memset(m, 0, sizeof(*m));
	m->status = UIDMAP_MISSING;
	m->next = 1;
	fd = openat(dirfd, UIDMAP_FILE,
	    O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
	if (fd == -1) {
		/* Imports have unique names (uidmap-import.c): no duplicate. */
		if (errno == ENOENT)
			return uidimport_load(dirfd, mode, m) == -1 ||
			    index_build(m) == -1 ? -1 : 0;
		if (errno == ELOOP) {
			corrupt(m, "state file is a symlink");
			return 0;
		}
		return -1;
	}
	if (fstat(fd, &st) == -1)
		goto fail;
	if (!S_ISREG(st.st_mode) || st.st_size > UIDMAP_MAX_FILE) {
		corrupt(m, S_ISREG(st.st_mode) ? "state file too large" :
		    "state file not a regular file");
		(void)close(fd);
		return 0;
	}
	if ((r = read_parse(fd, (size_t)st.st_size, m)) == -2)
		goto fail;
	(void)close(fd);
	if (r == -1) {
		corrupt(m, m->why);
		return 0;
	}
	if ((r = index_build(m)) == -1)
		return -1;
	if (r == 1) {
		corrupt(m, "duplicate name");
		return 0;
	}
	m->status = UIDMAP_OK;
	return 0;
 fail:
	return close_keep_errno(fd, -1);
}

const struct uidmap_entry *
uidmap_find(const struct uidmap *m, const char *name)
{
	uint32_t	*sl, low;

	if (m->count == 0 || m->slots == NULL)
		return NULL;
	sl = slot_find(m, name_hash(m->seed, name, strlen(name)), name);
	if (*sl == 0)
		return NULL;
	low = m->shift < 32 ? ((uint32_t)1 << m->shift) - 1 : ~(uint32_t)0;
	return &m->ents[(*sl & low) - 1];
}

void
uidmap_free(struct uidmap *m)
{
	free(m->slots);
	free(m->ents);
	free(m->buf);
	free(m->extra);
	memset(m, 0, sizeof(*m));
}

/* A name and info write_records() can store (one that parses back). */
static bool
storable(const struct uidmap_entry *e)
{
	size_t	 len = strlen(e->name);

	return memchr(e->name, '\n', len) == NULL &&
	    memchr(e->name, ':', len) == NULL;
}

/* What uidmap_save() writes, for write_records(). */
struct records_arg {
	const struct uidmap_entry *ents;
	size_t		 n;
	uint64_t	 next, cur_mtime, login;
};

/*
 * Version 2 only when a record keeps an imported UIDL, version 3 only
 * when there is a login time or a retrieval time to keep (uidmap.h).
 */
static void
write_records(struct mfile_out *w, const void *arg)
{
	const struct records_arg	*a = arg;
	const struct uidmap_entry	*ents = a->ents;
	const char			*info;
	size_t				 i, len, ilen, n = a->n;
	bool				 v2 = false, v3 = a->login != 0;

	for (i = 0; i < n && !v2; i++)
		v2 = ents[i].uidl != NULL;
	for (i = 0; i < n && !v3; i++)
		v3 = ents[i].retr != 0;
	if (v3)
		mfile_put(w, UIDMAP_HEADER3, sizeof(UIDMAP_HEADER3) - 1);
	else if (v2)
		mfile_put(w, UIDMAP_HEADER2, sizeof(UIDMAP_HEADER2) - 1);
	else
		mfile_put(w, UIDMAP_HEADER, sizeof(UIDMAP_HEADER) - 1);
	if (a->cur_mtime != 0) {
		mfile_num(w, a->next, ' ');
		mfile_put(w, "cur=", 4);
		mfile_num(w, a->cur_mtime, '\n');
	} else
		mfile_num(w, a->next, '\n');
	v2 = v2 || v3;
	for (i = 0; i < n; i++) {
		len = strlen(ents[i].name);
		if (!storable(&ents[i]))
			continue;
		/* An info that would not parse back is left out. */
		info = ents[i].info;
		ilen = info != NULL ? strlen(info) : 0;
		if (info != NULL && (len + 1 + ilen > UIDMAP_MAX_NAME ||
		    memchr(info, '\n', ilen) != NULL))
			info = NULL;
		mfile_num(w, ents[i].uid, ' ');
		mfile_num(w, ents[i].size, ' ');
		mfile_num(w, ents[i].rawsize, ' ');
		mfile_num(w, ents[i].mtime, ' ');
		if (v2 && ents[i].uidl == NULL)
			mfile_put(w, "- ", 2);
		else if (v2) {
			mfile_put(w, "+", 1);
			mfile_put(w, ents[i].uidl, strlen(ents[i].uidl));
			mfile_put(w, " ", 1);
		}
		mfile_put(w, ents[i].name, len);
		if (info != NULL) {
			mfile_put(w, ":", 1);
			mfile_put(w, info, ilen);
		}
		mfile_put(w, "\n", 1);
	}
	if (a->login != 0) {
		mfile_put(w, "@login ", 7);
		mfile_num(w, a->login, '\n');
	}
	for (i = 0; i < n; i++)
		if (ents[i].retr != 0 && storable(&ents[i])) {
			mfile_put(w, "@retr ", 6);
			mfile_num(w, ents[i].uid, ' ');
			mfile_num(w, ents[i].retr, '\n');
		}
}

int
uidmap_save(int dirfd, const struct uidmap_entry *ents, size_t n,
    uint64_t next, uint64_t cur_mtime, uint64_t login,
    const char **errstr_out)
{
	struct records_arg	 a = { ents, n, next, cur_mtime, login };

	return mfile_replace(dirfd, UIDMAP_FILE, UIDMAP_FILE, write_records,
	    &a, errstr_out) == 0 ? 0 : -1;
}

int
uidmap_login_gate(int dirfd, uint32_t delay, uint64_t now,
    uint64_t *last_out, bool *later_out)
{
	struct uidmap	 m;
	const char	*err;
	uint64_t	 last;
	int		 rv = 0;

	*last_out = 0;
	*later_out = false;
	if (uidmap_lock(dirfd, UIDMAP_LOCK_WAIT, &err) == -1) {
		log_warn("LOGIN-DELAY not enforced: %s", err);
		return 0;
	}
	if (uidmap_load(dirfd, UIDMAP_IMPORT_NONE, &m) == -1) {
		log_warn("LOGIN-DELAY not enforced: cannot read the state "
		    "file");
		goto done;
	}
	if (m.status != UIDMAP_OK) {
		/* Written by this login's own update, which rebuilds. */
		*later_out = true;
		goto done;
	}
	last = m.last_login;
	*last_out = last;
	if (last != 0 && (last > now ? last - now <= delay :
	    now - last < delay)) {
		rv = 1;
		goto done;
	}
	if (uidmap_save(dirfd, m.ents, m.count, m.next, m.cur_mtime, now,
	    &err) == -1)
		log_warn("LOGIN-DELAY: login time not stored (%s)", err);
 done:
	uidmap_free(&m);
	uidmap_unlock(dirfd);
	return rv;
}

/*
 * qsort() unless base is in order already (the listing of a first login
 * comes in delivery order, and numbered in it, in UID order): a check
 * of n - 1 pairs instead of a sort and its scratch memory.
 */
static void
sort_unless_sorted(void *base, size_t n, size_t size,
    int (*cmp)(const void *, const void *))
{
	const char	*p = base;
	size_t		 i;

	for (i = 1; i < n && cmp(p + (i - 1) * size, p + i * size) <= 0; i++)
		;
	if (i < n)
		qsort(base, n, size, cmp);
}

static int
cmp_delivery_p(const void *a, const void *b)
{
	return uidmap_cmp_delivery(*(const struct uidmap_msg * const *)a,
	    *(const struct uidmap_msg * const *)b);
}

/*
 * spec 6: a lost or corrupt file restarts at the time in microseconds, or
 * above what the corrupt file still shows: above every UID handed out
 * unless UIDs were assigned faster than a million a second since the last
 * rebuild, or the clock went back.
 */
static uint64_t
time_floor(uint64_t next)
{
	struct timespec	 now;
	uint64_t	 floor;

	(void)clock_gettime(CLOCK_REALTIME, &now);
	floor = (uint64_t)now.tv_sec * 1000000 + (uint64_t)now.tv_nsec / 1000;
	return next < floor ? floor : next;
}

/* One filename-style UIDL per listed message (uidl-import = filename). */
typedef char fname_uidl[UIDMAP_MAX_UIDL + 1];

/*
 * Builds the records to save: listed messages, then surviving records.
 * An import not numbered (not listed) is dropped.  Every msgs[].old
 * points into m2 here; hit (m2->count entries, zeroed) is scratch.
 * *exact_out: the records are exactly the listed messages (cur=).
 */
static size_t
records(const struct uidmap_update *u, const struct uidmap *m2,
    const fname_uidl *fn, struct uidmap_entry *recs, bool *hit,
    bool *exact_out)
{
	const struct uidmap_msg	*e;
	const char		*colon;
	size_t			 i, nr = 0;

	*exact_out = true;
	for (i = 0; i < u->count; i++) {
		e = &u->msgs[i];
		if (e->old != NULL)
			hit[e->old - m2->ents] = true;
		if (e->skip || e->uid == 0 || !e->sized)
			*exact_out = false;
		if (e->skip && e->old != NULL) {
			recs[nr] = *e->old;
			if (u->drop_retr)
				recs[nr].retr = 0;
			nr++;
			continue;
		}
		if (e->skip && (fn == NULL || e->uid == 0))
			continue;
		memset(&recs[nr], 0, sizeof(recs[nr]));
		recs[nr].name = e->name;
		if (e->file != NULL && (colon = strchr(e->file, ':')) != NULL)
			recs[nr].info = colon + 1;
		recs[nr].uid = e->uid;
		recs[nr].uidl = e->old != NULL ? e->old->uidl :
		    fn != NULL ? fn[i] : NULL;
		recs[nr].size = e->sized ? e->size : 0;
		recs[nr].rawsize = e->statted && e->sized ? e->rawsize : 0;
		recs[nr].mtime = e->statted && e->sized ? e->mtime : 0;
		recs[nr].retr = e->old != NULL && !u->drop_retr ?
		    e->old->retr : 0;
		nr++;
	}
	for (i = 0; i < m2->count; i++)
		if (m2->ents[i].uid != 0 && !hit[i] &&
		    !(u->stable && uidmap_find(u->before,
		    m2->ents[i].name) != NULL)) {
			recs[nr] = m2->ents[i];
			if (u->drop_retr)
				recs[nr].retr = 0;
			nr++;
			*exact_out = false;
		}
	sort_unless_sorted(recs, nr, sizeof(*recs), uidmap_cmp_uid);
	return nr;
}

/* Numbering order of imports: the old server's order, then delivery. */
static int
cmp_import_p(const void *a, const void *b)
{
	const struct uidmap_msg	*x = *(const struct uidmap_msg * const *)a;
	const struct uidmap_msg	*y = *(const struct uidmap_msg * const *)b;
	uint64_t		 sx = x->old != NULL ? x->old->seq : 0;
	uint64_t		 sy = y->old != NULL ? y->old->seq : 0;

	if (sx != sy)
		return sx < sy ? -1 : 1;
	return uidmap_cmp_delivery(x, y);
}

/*
 * After the update, old may point only into *before (maildir.c frees
 * m2 first): a kept UIDL is shown from the same record there, or from
 * the name (uidl_name); if neither agrees (the state file changed under
 * a concurrent login), the message gets a temporary UIDL this session.
 */
static void
repoint(struct uidmap_update *u, const fname_uidl *fn)
{
	const struct uidmap_entry	*b;
	struct uidmap_msg		*e;
	const char			*want;
	char				 tmp[UIDMAP_MAX_UIDL + 1];
	size_t				 i;

	for (i = 0; i < u->count; i++) {
		e = &u->msgs[i];
		want = e->old != NULL ? e->old->uidl :
		    fn != NULL ? fn[i] : NULL;
		e->old = NULL;
		e->uidl_name = false;
		if (want == NULL)
			continue;
		b = uidmap_find(u->before, e->name);
		if (b != NULL && b->uidl != NULL &&
		    strcmp(b->uidl, want) == 0) {
			e->old = b;
			continue;
		}
		uidmap_uidl_filename(e->name, tmp, sizeof(tmp));
		if (strcmp(tmp, want) == 0)
			e->uidl_name = true;
		else
			e->uid = 0;
	}
}

/* One locked update's working set (assign_locked()). */
struct assign {
	struct uidmap		 m2;	/* re-read under the lock */
	struct uidmap_msg	**fresh;	/* new: counter UIDs */
	struct uidmap_msg	**imp;	/* imports: UIDs 1..ni */
	size_t			 nf, ni;
	fname_uidl		*fn;	/* by_name: the UIDLs */
	bool			 by_name;	/* uidl-import = filename */
	uint64_t		 next;
	struct uidmap_entry	*recs;	/* records() output */
	bool			*hit;	/* records() scratch */
};

static int
assign_alloc(struct assign *a, const struct uidmap_update *u)
{
	a->fresh = calloc(u->count + 1, sizeof(*a->fresh));
	a->imp = calloc(u->count + 1, sizeof(*a->imp));
	a->recs = calloc(u->count + a->m2.count + 1, sizeof(*a->recs));
	a->hit = calloc(a->m2.count + 1, sizeof(*a->hit));
	if (a->by_name)
		a->fn = calloc(u->count + 1, sizeof(*a->fn));
	return a->fresh == NULL || a->imp == NULL || a->recs == NULL ||
	    a->hit == NULL || (a->by_name && a->fn == NULL) ? -1 : 0;
}

static void
assign_free(struct assign *a)
{
	free(a->fresh);
	free(a->imp);
	free(a->fn);
	free(a->recs);
	free(a->hit);
	uidmap_free(&a->m2);
}

/*
 * The import pass: takes each message's record from the re-read file,
 * collects the imports (pending records, or with uidl-import = filename
 * every listed message, whose base name is its UIDL) and the new
 * arrivals, and numbers the imports 1..ni in the old server's order
 * (never shown: their UIDL is the kept string), so the counter goes on
 * above them and above every numeric kept UIDL (collision rule).
 */
static void
import_pass(struct uidmap_update *u, struct assign *a)
{
	struct uidmap_msg	*e;
	uint64_t		 v;
	size_t			 i;

	for (i = 0; i < u->count; i++) {
		e = &u->msgs[i];
		e->old = uidmap_find(&a->m2, e->name);
		e->uid = e->old != NULL ? e->old->uid : 0;
		if (a->by_name) {
			uidmap_uidl_filename(e->name, a->fn[i],
			    sizeof(a->fn[i]));
			if (uidmap_uidl_numeric(a->fn[i], &v) && v >= a->next)
				a->next = v == UINT64_MAX ? v : v + 1;
			a->imp[a->ni++] = e;
		} else if (e->old != NULL && e->old->uid == 0)
			a->imp[a->ni++] = e;		/* pending import */
		else if (e->old == NULL && !e->skip)
			a->fresh[a->nf++] = e;
	}
	if (a->ni > 0 && a->next <= a->ni)
		a->next = a->ni + 1;
	qsort(a->imp, a->ni, sizeof(*a->imp), cmp_import_p);
	for (i = 0; i < a->ni; i++) {
		a->imp[i]->uid = i + 1;
		if (a->imp[i]->old != NULL)	/* the pending record of m2 */
			a->m2.ents[a->imp[i]->old - a->m2.ents].uid = i + 1;
	}
}

/*
 * The numbering pass: new arrivals take the next counter UIDs in
 * delivery order.  Returns 0, or -1 when the counter is exhausted.
 */
static int
number_pass(struct assign *a, const char **errstr_out)
{
	size_t	 i;

	sort_unless_sorted(a->fresh, a->nf, sizeof(*a->fresh), cmp_delivery_p);
	for (i = 0; i < a->nf; i++) {
		if (a->next == UINT64_MAX) {
			*errstr_out = "UID counter exhausted";
			errno = EOVERFLOW;
			return -1;
		}
		a->fresh[i]->uid = a->next++;
	}
	return 0;
}

/* A missing file (not a new mailbox) or a corrupt one is rebuilt. */
static bool
rebuilt(const struct uidmap_update *u, const struct uidmap *m2)
{
	return m2->status == UIDMAP_CORRUPT ||
	    (m2->status == UIDMAP_MISSING && !u->fresh);
}

static int
assign_locked(int dirfd, struct uidmap_update *u, const char **errstr_out)
{
	struct assign	 a;
	size_t		 i, nr;
	bool		 exact;
	int		 rv = -1;

	memset(&a, 0, sizeof(a));
	if (uidmap_load(dirfd, u->import, &a.m2) == -1) {
		uidmap_free(&a.m2);
		*errstr_out = "cannot read the state file";
		return -1;
	}
	a.next = a.m2.next;
	a.by_name = a.m2.status == UIDMAP_MISSING && a.m2.imported == 0 &&
	    u->import == UIDMAP_IMPORT_FILENAME && u->count > 0;
	if (rebuilt(u, &a.m2))
		a.next = time_floor(a.next);
	if (assign_alloc(&a, u) == -1) {
		*errstr_out = "out of memory";
		goto done;
	}
	import_pass(u, &a);
	if (a.ni > 0)
		log_info("uidlist imported from %s (%zu UIDLs kept); first "
		    "counter UID %" PRIu64, a.by_name ? "base names" :
		    a.m2.source, a.ni, a.next);
	else if (rebuilt(u, &a.m2))
		log_warnx("uidlist rebuilt (%s); next UID %" PRIu64,
		    a.m2.status == UIDMAP_CORRUPT ? a.m2.why :
		    "state file missing", a.next);
	if (number_pass(&a, errstr_out) == -1)
		goto done;
	nr = records(u, &a.m2, a.fn, a.recs, a.hit, &exact);
	rv = uidmap_save(dirfd, a.recs, nr, a.next, exact ? u->cur_mtime : 0,
	    u->login != 0 ? u->login : u->drop_login ? 0 : a.m2.last_login,
	    errstr_out);
 done:
	if (rv == -1) {
		for (i = 0; i < a.nf; i++)
			a.fresh[i]->uid = 0;
		for (i = 0; i < a.ni; i++)
			a.imp[i]->uid = 0;
	}
	repoint(u, a.fn);	/* nothing may point into m2 now */
	assign_free(&a);
	return rv;
}

int
uidmap_update(int dirfd, struct uidmap_update *u, const char **errstr_out)
{
	int	 rv;

	/* Only a new UID is worth waiting for; a cache update is not. */
	if (uidmap_lock(dirfd, u->need_uid ? UIDMAP_LOCK_WAIT : 0,
	    errstr_out) == -1)
		return -1;
	rv = assign_locked(dirfd, u, errstr_out);
	uidmap_unlock(dirfd);
	return rv;
}
