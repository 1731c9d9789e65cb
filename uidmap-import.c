/*
 * uidmap-import.c: the UIDLs of the server a Maildir migrates from (spec 6,
 * C0009): parsers of dovecot-uidlist and courierpop3dsizelist, and the
 * import that uidmap_load() runs on a Maildir without a state file.  It
 * calls only the pure parsers of uidmap-parse.c, never back into
 * uidmap.c; --check-user's preview of the UIDLs is checkuser-uidl.c's.
 *
 * It runs as the user (or, for --check-user, as whoever runs it) and
 * trusts nothing it reads: the files belong to the user and to the old
 * server.  Sizes are bounded by UIDMAP_MAX_FILE, files are opened with
 * O_NOFOLLOW and checked to be regular, every number is range-checked,
 * and a UIDL is kept only when RFC 1939 allows it.  It writes nothing:
 * uidmap.c stores what it imports under the lock.
 */
#include <sys/stat.h>
#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "uidmap-import.h"
#include "uidmap.h"
#include "util.h"

#define MAX_NAME	255
#define GEN_MAX		(UIDMAP_MAX_UIDL + 1)	/* one made UIDL with NUL */

/* UIDLs made by a parser (not found as such in the file). */
struct gen {
	char	*buf;
	size_t	 len, cap;
};

/*
 * Appends s[0..len) and a NUL; the entry keeps the offset + 1 in mtime
 * (pending entries have no mtime) until fix_gen() turns it into a pointer.
 */
static int
gen_add(struct gen *g, struct uidmap_entry *e, const char *s, size_t len)
{
	size_t	 ncap;
	char	*p;

	if (len + 1 > g->cap - g->len) {
		ncap = g->cap == 0 ? 4096 : g->cap;
		while (len + 1 > ncap - g->len) {
			if (ncap > SIZE_MAX / 2)
				return -1;
			ncap *= 2;
		}
		if ((p = realloc(g->buf, ncap)) == NULL)
			return -1;
		g->buf = p;
		g->cap = ncap;
	}
	memcpy(g->buf + g->len, s, len);
	g->buf[g->len + len] = '\0';
	e->uidl = NULL;
	e->mtime = (uint64_t)g->len + 1;
	g->len += len + 1;
	return 0;
}

static void
fix_gen(struct uidmap *m, struct gen *g)
{
	size_t	 i;

	m->extra = g->buf;
	for (i = 0; i < m->count; i++)
		if (m->ents[i].mtime != 0) {
			m->ents[i].uidl = g->buf + m->ents[i].mtime - 1;
			m->ents[i].mtime = 0;
		}
}

/* A base name as the state file can hold it (uidmap.h). */
static bool
valid_name(const char *s)
{
	size_t	 len = strlen(s);

	return len >= 1 && len <= MAX_NAME && s[0] != '.' &&
	    strchr(s, '/') == NULL;
}

/* Cuts a file name at ':' (the flags), leaving the unique base name. */
static void
base_name(char *s)
{
	char	*c;

	if ((c = strchr(s, ':')) != NULL)
		*c = '\0';
}

static int
u64(const char *s, uint64_t *out)
{
	return parse_u64(s, out) == NUM_OK ? 0 : -1;
}

/* Splits off the next blank-separated token of *p (NUL-terminated). */
static char *
token(char **p)
{
	char	*s = *p, *e;

	while (*s == ' ')
		s++;
	if (*s == '\0')
		return NULL;
	if ((e = strchr(s, ' ')) != NULL) {
		*e = '\0';
		*p = e + 1;
	} else
		*p = s + strlen(s);
	return s;
}

/* The next line of [*p, end) with its LF replaced by NUL, or NULL. */
static char *
next_line(char **p, char *end)
{
	char	*s = *p, *lf;

	if (s >= end || (lf = memchr(s, '\n', (size_t)(end - s))) == NULL)
		return NULL;
	*lf = '\0';
	*p = lf + 1;
	return s;
}

/*
 * dovecot-uidlist header: "1 <uidv> <next>", "2 <uidv> <next>", or
 * "3 V<uidv> N<next> ...".  Stores the version and UIDVALIDITY.
 */
static const char *
dovecot_header(char *line, int *ver_out, uint32_t *uidv_out)
{
	char		*p = line, *t, *v;
	uint64_t	 n;
	bool		 have = false;

	if ((t = token(&p)) == NULL || strlen(t) != 1 || t[0] < '1' ||
	    t[0] > '3')
		return "unknown dovecot-uidlist version";
	*ver_out = t[0] - '0';
	if (*ver_out < 3) {
		if ((v = token(&p)) == NULL || u64(v, &n) == -1 ||
		    n == 0 || n > UINT32_MAX)
			return "bad UIDVALIDITY";
		*uidv_out = (uint32_t)n;
		return NULL;
	}
	while ((t = token(&p)) != NULL)
		if (t[0] == 'V') {
			if (u64(t + 1, &n) == -1 || n == 0 || n > UINT32_MAX)
				return "bad UIDVALIDITY";
			*uidv_out = (uint32_t)n;
			have = true;
		}
	return have ? NULL : "no UIDVALIDITY";
}

/*
 * One dovecot-uidlist record: "<uid> <file>" (1), "<uid> <flags> <file>"
 * (2), "<uid> [<key><value> ...] :<file>" (3).  Returns -1 to skip it.
 */
static int
dovecot_record(char *line, int ver, uint32_t uidv, struct uidmap_entry *e,
    struct gen *g)
{
	char		*p = line, *t, *name = NULL, *pop3 = NULL, hex[17];
	uint64_t	 uid;

	if ((t = token(&p)) == NULL || u64(t, &uid) == -1 || uid == 0 ||
	    uid >= UINT32_MAX)
		return -1;
	while (*p == ' ')
		p++;
	if (ver == 1)
		name = p;
	else if (ver == 2) {
		if (token(&p) == NULL)
			return -1;
		while (*p == ' ')
			p++;
		name = p;
	} else {
		for (;;) {
			while (*p == ' ')
				p++;
			if (*p == ':') {
				name = p + 1;
				break;
			}
			if ((t = token(&p)) == NULL)
				return -1;
			if (t[0] == 'P' && pop3 == NULL)
				pop3 = t + 1;
		}
	}
	base_name(name);
	if (!valid_name(name))
		return -1;
	memset(e, 0, sizeof(*e));
	e->name = name;
	e->seq = uid;
	if (pop3 != NULL && *pop3 != '\0') {
		/* An explicit POP3 UIDL wins, as in Dovecot's pop3. */
		e->uidl = pop3;
		return 0;
	}
	(void)snprintf(hex, sizeof(hex), "%08" PRIx32 "%08" PRIx32,
	    (uint32_t)uid, uidv);
	return gen_add(g, e, hex, 16) == -1 ? -2 : 0;
}

static int	courier_record(char *, struct uidmap_entry *, struct gen *);

/* The dovecot-uidlist header fields its records need; NULL: Courier. */
struct dovecot_hdr {
	int		 ver;
	uint32_t	 uidv;
};

/*
 * Terminates buf, refuses a NUL inside it, and returns its first line
 * with *p just past it; NULL with the reason in m->why.
 */
static char *
header_line(char *buf, size_t len, struct uidmap *m, char **p)
{
	char	*line;

	buf[len] = '\0';
	m->count = 0;
	*p = buf;
	if (memchr(buf, '\0', len) != NULL) {
		m->why = "NUL octet";
		return NULL;
	}
	if ((line = next_line(p, buf + len)) == NULL)
		m->why = "no header line";
	return line;
}

/*
 * Parses the record lines of [p, end) into m->ents (at most cap), with
 * dovecot_record() when dh is set, else courier_record().  Returns the
 * number of lines skipped, or -1 when out of memory.
 */
static int
parse_records(char *p, char *end, const struct dovecot_hdr *dh,
    struct uidmap *m, size_t cap)
{
	struct gen	 g = { NULL, 0, 0 };
	char		*line;
	int		 skipped = 0, r;

	while ((line = next_line(&p, end)) != NULL) {
		if (m->count >= cap) {
			skipped++;
			continue;
		}
		r = dh != NULL ? dovecot_record(line, dh->ver, dh->uidv,
		    &m->ents[m->count], &g) :
		    courier_record(line, &m->ents[m->count], &g);
		if (r == -2) {
			free(g.buf);
			m->why = "out of memory";
			return -1;
		}
		if (r == 0)
			m->count++;
		else
			skipped++;
	}
	fix_gen(m, &g);
	return skipped;
}

int
uidimport_parse_dovecot(char *buf, size_t len, struct uidmap *m, size_t cap)
{
	struct dovecot_hdr	 dh = { 0, 0 };
	char			*p, *line;

	if ((line = header_line(buf, len, m, &p)) == NULL)
		return -1;
	if ((m->why = dovecot_header(line, &dh.ver, &dh.uidv)) != NULL)
		return -1;
	return parse_records(p, buf + len, &dh, m, cap);
}

/* Courier's pop3d: the base name with unsafe octets as +XX. */
static int
courier_v0(const char *name, struct uidmap_entry *e, struct gen *g)
{
	static const char hexd[] = "0123456789ABCDEF";
	char		 out[GEN_MAX];
	size_t		 o = 0;
	unsigned char	 c;
	bool		 escape;

	for (; *name != '\0'; name++) {
		c = (unsigned char)*name;
		escape = c < 0x21 || c > 0x7e || c == '\'' || c == '"' ||
		    c == '+';
		if (o + (escape ? 3 : 1) > UIDMAP_MAX_UIDL)
			return -1;	/* longer than a UIDL may be */
		if (escape) {
			out[o++] = '+';
			out[o++] = hexd[c >> 4];
			out[o++] = hexd[c & 15];
		} else
			out[o++] = (char)c;
	}
	return gen_add(g, e, out, o) == -1 ? -2 : 0;
}

/* One line "<file> <size> <n>:<uidv>[:<utf8>]"; -1 skips it. */
static int
courier_record(char *line, struct uidmap_entry *e, struct gen *g)
{
	char		*sp1, *sp2, *c1, *c2, out[GEN_MAX];
	uint64_t	 size, n, uidv, utf8;
	int		 r;

	if ((sp2 = strrchr(line, ' ')) == NULL)
		return -1;
	*sp2 = '\0';
	if ((sp1 = strrchr(line, ' ')) == NULL)
		return -1;
	*sp1 = '\0';
	if ((c1 = strchr(sp2 + 1, ':')) == NULL)
		return -1;
	*c1 = '\0';
	if ((c2 = strchr(c1 + 1, ':')) != NULL) {
		*c2 = '\0';
		if (u64(c2 + 1, &utf8) == -1)
			return -1;
	}
	if (u64(sp1 + 1, &size) == -1 || u64(sp2 + 1, &n) == -1 ||
	    u64(c1 + 1, &uidv) == -1)
		return -1;
	/* A path before the name is Courier's; only the name counts. */
	if ((c1 = strrchr(line, '/')) != NULL)
		line = c1 + 1;
	base_name(line);
	if (!valid_name(line))
		return -1;
	memset(e, 0, sizeof(*e));
	e->name = line;
	e->seq = uidmap_name_time(line);	/* Courier's order: delivery */
	if (n == 0)
		return courier_v0(line, e, g);
	if (uidv != 0)
		r = snprintf(out, sizeof(out), "UID%" PRIu64 "-%" PRIu64, n,
		    uidv);
	else
		r = snprintf(out, sizeof(out), "UID%" PRIu64, n);
	if (r < 0 || (size_t)r >= sizeof(out))
		return -1;
	return gen_add(g, e, out, (size_t)r) == -1 ? -2 : 0;
}

int
uidimport_parse_courier(char *buf, size_t len, struct uidmap *m, size_t cap)
{
	char		*p, *line, *q, *t;
	uint64_t	 n;

	if ((line = header_line(buf, len, m, &p)) == NULL)
		return -1;
	/* "/<version> <nextuid> [<uidv>]": versions 2 and 3 carry UIDs. */
	q = line + 1;
	if (line[0] != '/' || (t = token(&q)) == NULL ||
	    (strcmp(t, "2") != 0 && strcmp(t, "3") != 0) ||
	    (t = token(&q)) == NULL || u64(t, &n) == -1) {
		m->why = "unknown courierpop3dsizelist version";
		return -1;
	}
	return parse_records(p, buf + len, NULL, m, cap);
}

static int
cmp_uidl(const void *a, const void *b)
{
	const struct uidmap_entry *x = a, *y = b;
	int c;

	if ((c = strcmp(x->uidl, y->uidl)) != 0)
		return c;
	if (x->seq != y->seq)
		return x->seq < y->seq ? -1 : 1;
	return strcmp(x->name, y->name);
}

static int
cmp_name_seq(const void *a, const void *b)
{
	const struct uidmap_entry *x = a, *y = b;
	int c;

	if ((c = strcmp(x->name, y->name)) != 0)
		return c;
	if (x->seq != y->seq)
		return x->seq < y->seq ? -1 : 1;
	return strcmp(x->uidl, y->uidl);
}

/*
 * Keeps valid UIDLs, the first record of each UIDL and of each name, and
 * sorts by name.  Collision rule (uidmap.h): next goes above every UIDL
 * that a counter UID could print as.  Returns the records dropped.
 */
static size_t
finish(struct uidmap *m)
{
	size_t		 i, k, dropped = 0;
	uint64_t	 v;

	for (i = k = 0; i < m->count; i++)
		if (m->ents[i].uidl != NULL && uidmap_uidl_valid(
		    m->ents[i].uidl, strlen(m->ents[i].uidl)))
			m->ents[k++] = m->ents[i];
	dropped += m->count - k;
	m->count = k;
	if (m->count > 1)
		qsort(m->ents, m->count, sizeof(*m->ents), cmp_uidl);
	for (i = k = 0; i < m->count; i++)
		if (k == 0 || strcmp(m->ents[k - 1].uidl,
		    m->ents[i].uidl) != 0)
			m->ents[k++] = m->ents[i];
	dropped += m->count - k;
	m->count = k;
	if (m->count > 1)
		qsort(m->ents, m->count, sizeof(*m->ents), cmp_name_seq);
	for (i = k = 0; i < m->count; i++)
		if (k == 0 || strcmp(m->ents[k - 1].name,
		    m->ents[i].name) != 0)
			m->ents[k++] = m->ents[i];
	dropped += m->count - k;
	m->count = k;
	m->next = 1;
	for (i = 0; i < m->count; i++)
		if (uidmap_uidl_numeric(m->ents[i].uidl, &v) && v >= m->next)
			m->next = v == UINT64_MAX ? v : v + 1;
	m->imported = m->count;
	return dropped;
}

static size_t
count_lf(const char *buf, size_t len)
{
	const char	*p = buf, *end = buf + len;
	size_t		 n = 0;

	while ((p = memchr(p, '\n', (size_t)(end - p))) != NULL) {
		n++;
		p++;
	}
	return n;
}

/* Reads one source; 0 with m->imported set (maybe 0), or -1 with errno. */
static int
load_one(int dirfd, const char *file,
    int (*parse)(char *, size_t, struct uidmap *, size_t), struct uidmap *m)
{
	struct stat	 st;
	size_t		 got = 0, dropped;
	ssize_t		 r;
	int		 fd, skipped;

	fd = openat(dirfd, file, O_RDONLY | O_NOFOLLOW | O_CLOEXEC |
	    O_NONBLOCK);
	if (fd == -1) {
		if (errno == ENOENT)
			return 0;
		if (errno == ELOOP) {
			log_warnx("%s is a symlink: not imported", file);
			return 0;
		}
		return -1;
	}
	if (fstat(fd, &st) == -1)
		goto fail;
	if (!S_ISREG(st.st_mode) || st.st_size > UIDMAP_MAX_FILE) {
		log_warnx("%s: %s: not imported", file, S_ISREG(st.st_mode) ?
		    "too large" : "not a regular file");
		(void)close(fd);
		return 0;
	}
	if ((m->buf = malloc((size_t)st.st_size + 1)) == NULL)
		goto fail;
	while (got < (size_t)st.st_size) {
		r = read_retry(fd, m->buf + got, (size_t)st.st_size - got);
		if (r == -1)
			goto fail;
		if (r == 0)
			break;
		got += (size_t)r;
	}
	(void)close(fd);
	if ((m->ents = calloc(count_lf(m->buf, got) + 1,
	    sizeof(*m->ents))) == NULL)
		return -1;
	if ((skipped = parse(m->buf, got, m, count_lf(m->buf, got))) == -1) {
		log_warnx("%s: %s: not imported", file, m->why);
		m->why = NULL;
		m->count = 0;
		return 0;
	}
	dropped = finish(m);
	if (skipped > 0 || dropped > 0)
		log_warnx("%s: %zu records not imported (malformed, a UIDL "
		    "RFC 1939 does not allow, or a duplicate)", file,
		    (size_t)skipped + dropped);
	m->source = file;
	return 0;
 fail:
	return close_keep_errno(fd, -1);
}

int
uidimport_load(int dirfd, enum uidmap_import mode, struct uidmap *m)
{
	if (mode == UIDMAP_IMPORT_AUTO || mode == UIDMAP_IMPORT_DOVECOT) {
		if (load_one(dirfd, UIDIMPORT_DOVECOT,
		    uidimport_parse_dovecot, m) == -1)
			return -1;
		if (m->imported > 0 || mode == UIDMAP_IMPORT_DOVECOT)
			return 0;
		free(m->ents);
		free(m->buf);
		free(m->extra);
		m->ents = NULL;
		m->buf = m->extra = NULL;
		m->count = 0;
		m->next = 1;
	}
	if (mode == UIDMAP_IMPORT_AUTO || mode == UIDMAP_IMPORT_COURIER)
		return load_one(dirfd, UIDIMPORT_COURIER,
		    uidimport_parse_courier, m);
	return 0;
}
