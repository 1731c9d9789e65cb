/*
 * uidmap.c: the UID state file of a Maildir (SPEC 6): the pure parser,
 * loading, the NFS-safe lock, the temp-file-plus-rename save, numbering
 * new arrivals and the rebuild of a lost or corrupt file; also the pure
 * parsers of Maildir file names (",W=" size, delivery time) and the UIDL
 * strings.
 *
 * Everything in the state file is hostile input (the user owns it): the
 * parser bounds every field, checks every number, and never allocates; a
 * malformed file is CORRUPT and is rebuilt above a time-based floor.  UIDs
 * are assigned only with the lock held and after re-reading the file, so
 * concurrent logins never hand out one UID twice.
 */
#include <sys/stat.h>
#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "uidmap.h"
#include "util.h"

#define HEADER		"pop3-handler-uidlist 1 next="
#define MAX_NAME	255
#define HOSTLEN		64

static int
field_u64(char *s, uint64_t *out)
{
	return parse_u64(s, out) == NUM_OK ? 0 : -1;
}

/* One record "<uid> <size> <rawsize> <mtime> <name>", NUL-terminated. */
static const char *
parse_line(char *s, size_t len, struct uidmap_entry *e)
{
	char		*f[5], *sp;
	uint64_t	 v[4];
	size_t		 i, namelen;

	if (memchr(s, '\0', len) != NULL)
		return "NUL octet";
	f[0] = s;
	for (i = 1; i < 5; i++) {
		if ((sp = strchr(f[i - 1], ' ')) == NULL)
			return "missing field";
		*sp = '\0';
		f[i] = sp + 1;
	}
	for (i = 0; i < 4; i++)
		if (field_u64(f[i], &v[i]) == -1)
			return "bad number";
	namelen = len - (size_t)(f[4] - s);
	if (namelen == 0 || namelen > MAX_NAME || f[4][0] == '.' ||
	    memchr(f[4], '/', namelen) != NULL)
		return "bad name";
	if (v[0] == 0)
		return "UID 0";
	e->uid = v[0];
	e->size = v[1];
	e->rawsize = v[2];
	e->mtime = v[3];
	e->name = f[4];
	return NULL;
}

int
uidmap_parse(char *buf, size_t len, struct uidmap *m, size_t cap)
{
	struct uidmap_entry	 e;
	char			*p, *end = buf + len, *eol;
	const char		*why = NULL, *err;
	uint64_t		 hnext = 0, floor = 1, last = 0;
	size_t			 n = 0;

	buf[len] = '\0';
	m->count = 0;
	m->why = NULL;
	if ((eol = memchr(buf, '\n', len)) == NULL) {
		m->next = 1;
		m->why = "no header line";
		return -1;
	}
	*eol = '\0';
	if (strncmp(buf, HEADER, sizeof(HEADER) - 1) != 0 ||
	    field_u64(buf + sizeof(HEADER) - 1, &hnext) == -1 || hnext == 0)
		why = "bad header";
	else
		floor = hnext;
	for (p = eol + 1; p < end; p = eol + 1) {
		if ((eol = memchr(p, '\n', (size_t)(end - p))) == NULL) {
			why = why != NULL ? why : "truncated last line";
			break;
		}
		*eol = '\0';
		if ((err = parse_line(p, (size_t)(eol - p), &e)) != NULL) {
			why = why != NULL ? why : err;
			continue;
		}
		/* The floor grows past every UID seen, even in a bad file. */
		if (e.uid >= floor)
			floor = e.uid == UINT64_MAX ? e.uid : e.uid + 1;
		if (why != NULL)
			continue;
		if (e.uid <= last)
			why = "UIDs not ascending";
		else if (e.uid >= hnext)
			why = "UID not below next";
		else if (n >= cap)
			why = "too many records";
		else
			m->ents[n++] = e;
		last = e.uid;
	}
	m->next = floor;
	if (why != NULL) {
		m->why = why;
		return -1;
	}
	m->count = n;
	return 0;
}

static int
cmp_name(const void *a, const void *b)
{
	const struct uidmap_entry *x = a, *y = b;

	return strcmp(x->name, y->name);
}

static void
corrupt(struct uidmap *m, const char *why)
{
	free(m->ents);
	m->ents = NULL;
	m->count = 0;
	m->status = UIDMAP_CORRUPT;
	m->why = why;
}

static int
read_all(int fd, char *buf, size_t want, size_t *got_out)
{
	size_t	 got = 0;
	ssize_t	 r;

	while (got < want) {
		r = read(fd, buf + got, want - got);
		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1)
			return -1;
		if (r == 0)
			break;
		got += (size_t)r;
	}
	*got_out = got;
	return 0;
}

int
uidmap_load(int dirfd, struct uidmap *m)
{
	struct stat	 st;
	const char	*p, *end;
	size_t		 len, cap = 0, i;
	int		 fd, saved;

	memset(m, 0, sizeof(*m));
	m->status = UIDMAP_MISSING;
	m->next = 1;
	fd = openat(dirfd, UIDMAP_FILE,
	    O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
	if (fd == -1) {
		if (errno == ENOENT)
			return 0;
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
	if ((m->buf = malloc((size_t)st.st_size + 1)) == NULL ||
	    read_all(fd, m->buf, (size_t)st.st_size, &len) == -1)
		goto fail;
	(void)close(fd);
	for (p = m->buf, end = m->buf + len;
	    (p = memchr(p, '\n', (size_t)(end - p))) != NULL; p++)
		cap++;
	if ((m->ents = calloc(cap + 1, sizeof(*m->ents))) == NULL)
		return -1;
	if (uidmap_parse(m->buf, len, m, cap) == -1) {
		corrupt(m, m->why);
		return 0;
	}
	qsort(m->ents, m->count, sizeof(*m->ents), cmp_name);
	for (i = 1; i < m->count; i++)
		if (strcmp(m->ents[i - 1].name, m->ents[i].name) == 0) {
			corrupt(m, "duplicate name");
			return 0;
		}
	m->status = UIDMAP_OK;
	return 0;
 fail:
	saved = errno;
	(void)close(fd);
	errno = saved;
	return -1;
}

const struct uidmap_entry *
uidmap_find(const struct uidmap *m, const char *name)
{
	struct uidmap_entry	 key;

	if (m->count == 0)
		return NULL;
	key.name = name;
	return bsearch(&key, m->ents, m->count, sizeof(*m->ents), cmp_name);
}

void
uidmap_free(struct uidmap *m)
{
	free(m->ents);
	free(m->buf);
	memset(m, 0, sizeof(*m));
}

/* gethostname() made safe for a file name: '/' and blanks become '_'. */
static void
host_part(char *buf, size_t size)
{
	size_t	 i;

	if (gethostname(buf, size) == -1)
		buf[0] = '\0';
	buf[size - 1] = '\0';
	if (buf[0] == '\0')
		(void)strlcpy_(buf, "localhost", size);
	for (i = 0; buf[i] != '\0'; i++)
		if (buf[i] <= ' ' || buf[i] == '/' || buf[i] >= 0x7f)
			buf[i] = '_';
}

/*
 * A lock file older than UIDMAP_LOCK_STALE seconds belongs to a process
 * that died.  It is renamed aside first and checked to be the same inode,
 * so a fresh lock created by a racing process in between is put back
 * rather than removed.  Returns true when the caller should retry at once.
 */
static int
break_stale(int dirfd)
{
	struct stat	 st, st2;
	char		 host[HOSTLEN], aside[128];
	int		 relinked = 0;

	if (fstatat(dirfd, UIDMAP_LOCK, &st, AT_SYMLINK_NOFOLLOW) == -1)
		return errno == ENOENT;
	if (time(NULL) - st.st_mtime <= UIDMAP_LOCK_STALE)
		return 0;
	host_part(host, sizeof(host));
	if (snprintf(aside, sizeof(aside), "%s.stale.%s.%ld", UIDMAP_LOCK,
	    host, (long)getpid()) >= (int)sizeof(aside))
		return 0;
	if (renameat(dirfd, UIDMAP_LOCK, dirfd, aside) == -1)
		return errno == ENOENT;
	if (fstatat(dirfd, aside, &st2, AT_SYMLINK_NOFOLLOW) == 0 &&
	    (st2.st_ino != st.st_ino || st2.st_dev != st.st_dev))
		relinked = linkat(dirfd, aside, dirfd, UIDMAP_LOCK, 0);
	/* relinked -1: a third process made a new lock meanwhile; retry. */
	(void)relinked;
	(void)unlinkat(dirfd, aside, 0);
	return 1;
}

int
uidmap_lock(int dirfd, unsigned int wait_ms, const char **errstr_out)
{
	struct timespec	 ts;
	char		 host[HOSTLEN], line[HOSTLEN + 32];
	unsigned int	 waited = 0, delay = 10, breaks = 0;
	int		 fd, len, saved;

	host_part(host, sizeof(host));
	len = snprintf(line, sizeof(line), "%s %ld\n", host, (long)getpid());
	if (len < 0 || len >= (int)sizeof(line))
		len = 0;
	for (;;) {
		fd = openat(dirfd, UIDMAP_LOCK, O_WRONLY | O_CREAT | O_EXCL |
		    O_NOFOLLOW | O_CLOEXEC, 0600);
		if (fd != -1)
			break;
		if (errno != EEXIST) {
			*errstr_out = "cannot create the lock file";
			return -1;
		}
		if (breaks < 3 && break_stale(dirfd)) {
			breaks++;
			continue;
		}
		if (waited >= wait_ms) {
			*errstr_out = "the lock file stayed busy";
			errno = EWOULDBLOCK;
			return -1;
		}
		ts.tv_sec = 0;
		ts.tv_nsec = (long)delay * 1000000L;
		(void)nanosleep(&ts, NULL);
		waited += delay;
		delay = delay * 2 > 500 ? 500 : delay * 2;
	}
	if (write(fd, line, (size_t)len) != len || close(fd) == -1) {
		saved = errno;
		(void)unlinkat(dirfd, UIDMAP_LOCK, 0);
		errno = saved;
		*errstr_out = "cannot write the lock file";
		return -1;
	}
	return 0;
}

void
uidmap_unlock(int dirfd)
{
	(void)unlinkat(dirfd, UIDMAP_LOCK, 0);
}

struct wbuf {
	int	 fd;
	size_t	 len;
	int	 err;
	char	 buf[64 * 1024];
};

static void
wflush(struct wbuf *w)
{
	size_t	 off = 0;
	ssize_t	 r;

	while (off < w->len && w->err == 0) {
		r = write(w->fd, w->buf + off, w->len - off);
		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1)
			w->err = errno;
		else
			off += (size_t)r;
	}
	w->len = 0;
}

static void
wput(struct wbuf *w, const char *s, size_t len)
{
	if (len > sizeof(w->buf) - w->len)
		wflush(w);
	if (len > sizeof(w->buf))
		return;		/* never: names are at most 255 octets */
	memcpy(w->buf + w->len, s, len);
	w->len += len;
}

static void
wnum(struct wbuf *w, uint64_t v, char sep)
{
	char	 d[24];
	size_t	 i = sizeof(d);

	d[--i] = sep;
	do {
		d[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v != 0);
	wput(w, d + i, sizeof(d) - i);
}

static int
write_records(int fd, const struct uidmap_entry *ents, size_t n,
    uint64_t next)
{
	struct wbuf	*w;
	size_t		 i, len;
	int		 err;

	if ((w = malloc(sizeof(*w))) == NULL)
		return -1;
	w->fd = fd;
	w->len = 0;
	w->err = 0;
	wput(w, HEADER, sizeof(HEADER) - 1);
	wnum(w, next, '\n');
	for (i = 0; i < n; i++) {
		len = strlen(ents[i].name);
		if (memchr(ents[i].name, '\n', len) != NULL)
			continue;
		wnum(w, ents[i].uid, ' ');
		wnum(w, ents[i].size, ' ');
		wnum(w, ents[i].rawsize, ' ');
		wnum(w, ents[i].mtime, ' ');
		wput(w, ents[i].name, len);
		wput(w, "\n", 1);
	}
	wflush(w);
	err = w->err;
	free(w);
	if (err != 0) {
		errno = err;
		return -1;
	}
	return 0;
}

int
uidmap_save(int dirfd, const struct uidmap_entry *ents, size_t n,
    uint64_t next, const char **errstr_out)
{
	char	 host[HOSTLEN], tmp[160];
	int	 fd, saved;

	host_part(host, sizeof(host));
	if (snprintf(tmp, sizeof(tmp), "tmp/%s.%s.%ld", UIDMAP_FILE, host,
	    (long)getpid()) >= (int)sizeof(tmp)) {
		*errstr_out = "temp file name too long";
		errno = ENAMETOOLONG;
		return -1;
	}
	fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW |
	    O_CLOEXEC, 0600);
	if (fd == -1) {
		*errstr_out = "cannot create the temp file";
		return -1;
	}
	if (write_records(fd, ents, n, next) == -1 || fsync(fd) == -1) {
		saved = errno;
		(void)close(fd);
		*errstr_out = "cannot write the temp file";
		goto fail;
	}
	if (close(fd) == -1) {
		saved = errno;
		*errstr_out = "cannot write the temp file";
		goto fail;
	}
	if (renameat(dirfd, tmp, dirfd, UIDMAP_FILE) == -1) {
		saved = errno;
		*errstr_out = "cannot rename the temp file";
		goto fail;
	}
	/* The new UIDs reach clients only once the rename is durable. */
	if (fsync(dirfd) == -1 && errno != EINVAL) {
		*errstr_out = "cannot fsync the Maildir";
		return -1;
	}
	return 0;
 fail:
	(void)unlinkat(dirfd, tmp, 0);
	errno = saved;
	return -1;
}

int
uidmap_cmp_delivery(const void *a, const void *b)
{
	const struct uidmap_msg	*x = a, *y = b;

	if (x->tkey != y->tkey)
		return x->tkey < y->tkey ? -1 : 1;
	return strcmp(x->name, y->name);
}

static int
cmp_delivery_p(const void *a, const void *b)
{
	return uidmap_cmp_delivery(*(const struct uidmap_msg * const *)a,
	    *(const struct uidmap_msg * const *)b);
}

static int
cmp_msg_name(const void *a, const void *b)
{
	const struct uidmap_msg	*x = a, *y = b;

	return strcmp(x->name, y->name);
}

static int
cmp_rec_uid(const void *a, const void *b)
{
	const struct uidmap_entry *x = a, *y = b;

	return x->uid < y->uid ? -1 : x->uid > y->uid;
}

static bool
listed(const struct uidmap_update *u, const char *name)
{
	struct uidmap_msg	 key;

	key.name = name;
	return u->count > 0 && bsearch(&key, u->msgs, u->count,
	    sizeof(*u->msgs), cmp_msg_name) != NULL;
}

/*
 * SPEC 6: a lost or corrupt file restarts at the time in microseconds, or
 * above what the corrupt file still shows: above every UID handed out
 * unless UIDs were assigned faster than a million a second since the last
 * rebuild, or the clock went back.
 */
static uint64_t
rebuild_floor(const struct uidmap *m)
{
	struct timespec	 now;
	uint64_t	 floor, next = m->next;

	(void)clock_gettime(CLOCK_REALTIME, &now);
	floor = (uint64_t)now.tv_sec * 1000000 + (uint64_t)now.tv_nsec / 1000;
	if (next < floor)
		next = floor;
	log_warnx("uidlist rebuilt (%s); next UID %" PRIu64,
	    m->status == UIDMAP_CORRUPT ? m->why : "state file missing", next);
	return next;
}

/* Builds the records to save: listed messages, then surviving records. */
static size_t
records(const struct uidmap_update *u, const struct uidmap *m2,
    struct uidmap_entry *recs)
{
	const struct uidmap_msg	*e;
	size_t			 i, nr = 0;

	for (i = 0; i < u->count; i++) {
		e = &u->msgs[i];
		if (e->skip) {
			if (e->old != NULL)
				recs[nr++] = *e->old;
			continue;
		}
		recs[nr].name = e->name;
		recs[nr].uid = e->uid;
		recs[nr].size = e->size;
		recs[nr].rawsize = e->statted ? e->rawsize : 0;
		recs[nr].mtime = e->statted ? e->mtime : 0;
		nr++;
	}
	for (i = 0; i < m2->count; i++)
		if (!listed(u, m2->ents[i].name) && !(u->stable &&
		    uidmap_find(u->before, m2->ents[i].name) != NULL))
			recs[nr++] = m2->ents[i];
	qsort(recs, nr, sizeof(*recs), cmp_rec_uid);
	return nr;
}

static int
assign_locked(int dirfd, struct uidmap_update *u, const char **errstr_out)
{
	struct uidmap		 m2;
	struct uidmap_entry	*recs = NULL;
	struct uidmap_msg	**fresh = NULL, *e;
	uint64_t		 next;
	size_t			 i, nf = 0;
	int			 rv = -1;

	if (uidmap_load(dirfd, &m2) == -1) {
		*errstr_out = "cannot read the state file";
		return -1;
	}
	next = m2.next;
	if (m2.status == UIDMAP_CORRUPT ||
	    (m2.status == UIDMAP_MISSING && !u->fresh))
		next = rebuild_floor(&m2);
	fresh = calloc(u->count + 1, sizeof(*fresh));
	recs = calloc(u->count + m2.count + 1, sizeof(*recs));
	if (fresh == NULL || recs == NULL) {
		*errstr_out = "out of memory";
		goto done;
	}
	for (i = 0; i < u->count; i++) {
		e = &u->msgs[i];
		e->old = uidmap_find(&m2, e->name);
		e->uid = e->old != NULL ? e->old->uid : 0;
		if (e->old == NULL && !e->skip)
			fresh[nf++] = e;
	}
	qsort(fresh, nf, sizeof(*fresh), cmp_delivery_p);
	for (i = 0; i < nf; i++) {
		if (next == UINT64_MAX) {
			*errstr_out = "UID counter exhausted";
			errno = EOVERFLOW;
			goto done;
		}
		fresh[i]->uid = next++;
	}
	rv = uidmap_save(dirfd, recs, records(u, &m2, recs), next,
	    errstr_out);
 done:
	if (rv == -1)
		for (i = 0; i < nf; i++)
			fresh[i]->uid = 0;
	for (i = 0; i < u->count; i++)
		u->msgs[i].old = NULL;	/* they pointed into m2 */
	free(fresh);
	free(recs);
	uidmap_free(&m2);
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

static uint64_t
fnv1a(const char *s)
{
	uint64_t	 h = 14695981039346656037ULL;

	for (; *s != '\0'; s++) {
		h ^= (unsigned char)*s;
		h *= 1099511628211ULL;
	}
	return h;
}

/* SPEC 6: a ",W=<n>" field of the file name gives the CRLF size. */
bool
uidmap_name_wsize(const char *name, uint64_t *size_out)
{
	const char	*p = name, *q;
	uint64_t	 v;

	while ((p = strstr(p, ",W=")) != NULL) {
		p += 3;
		for (v = 0, q = p; *q >= '0' && *q <= '9'; q++)
			if (__builtin_mul_overflow(v, 10, &v) ||
			    __builtin_add_overflow(v, (uint64_t)(*q - '0'), &v))
				break;
		if (q > p && (*q == '\0' || *q == ',' || *q == ':')) {
			*size_out = v;
			return true;
		}
	}
	return false;
}

/* The delivery time: the unique name's leading decimal number. */
uint64_t
uidmap_name_time(const char *name)
{
	uint64_t	 v = 0;

	for (; *name >= '0' && *name <= '9'; name++)
		if (__builtin_mul_overflow(v, 10, &v) ||
		    __builtin_add_overflow(v, (uint64_t)(*name - '0'), &v))
			return UINT64_MAX;
	return v;
}

int
uidmap_uidl(const struct uidmap_msg *e, bool counter, char *buf,
    size_t size)
{
	size_t	 len = strlen(e->name), i;
	bool	 ok = len >= 1 && len <= UIDMAP_MAX_UIDL;
	int	 r;

	if (counter && e->uid != 0)
		r = snprintf(buf, size, "%" PRIu64, e->uid);
	else if (counter)
		r = snprintf(buf, size, "N%016" PRIx64, fnv1a(e->name));
	else {
		/* RFC 1939: 1..70 octets of 0x21-0x7e, else a digest. */
		for (i = 0; ok && i < len; i++)
			ok = e->name[i] >= 0x21 && e->name[i] <= 0x7e;
		if (ok)
			r = snprintf(buf, size, "%s", e->name);
		else
			r = snprintf(buf, size, "%016" PRIx64, fnv1a(e->name));
	}
	return r < 0 || (size_t)r >= size ? -1 : 0;
}
