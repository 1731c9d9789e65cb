/*
 * uidparse.c: the pure parsers and formatters of the uidmap module
 * (uidmap.h): the UID state file's text (uidmap_parse()), UIDL strings
 * (validity, the numeric test, the filename-style UIDL, the UIDL a
 * message shows), Maildir file names (",W=" size, delivery time) and the
 * orders records and messages are sorted in.  Loading, locking, saving
 * and numbering are uidmap.c's.
 *
 * Everything it reads is hostile (the user owns the state file and names
 * the files): every field is bounded, every number checked for overflow.
 * It does no I/O, keeps no state and allocates nothing: what it fills is
 * the caller's (fuzz/fuzz_uidmap.c, fuzz/fuzz_mdname.c).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "uidmap.h"
#include "util.h"

bool
uidmap_uidl_valid(const char *s, size_t len)
{
	size_t	 i;

	if (len < 1 || len > UIDMAP_MAX_UIDL)
		return false;
	for (i = 0; i < len; i++)
		if (s[i] < 0x21 || s[i] > 0x7e)
			return false;
	return true;
}

bool
uidmap_uidl_numeric(const char *s, uint64_t *v_out)
{
	if (s[0] < '1' || s[0] > '9')
		return false;
	return parse_u64(s, v_out) == NUM_OK;
}

static int
field_u64(char *s, uint64_t *out)
{
	return parse_u64(s, out) == NUM_OK ? 0 : -1;
}

/*
 * One record, NUL-terminated: "<uid> <size> <rawsize> <mtime> <name>",
 * and in version 2 "<uid> <size> <rawsize> <mtime> <-|+uidl> <name>".
 */
static const char *
parse_line(char *s, size_t len, int ver, struct uidmap_entry *e)
{
	char		*f[6], *sp;
	uint64_t	 v[4];
	size_t		 i, namelen, nf = ver == 2 ? 6 : 5;

	if (memchr(s, '\0', len) != NULL)
		return "NUL octet";
	f[0] = s;
	for (i = 1; i < nf; i++) {
		if ((sp = strchr(f[i - 1], ' ')) == NULL)
			return "missing field";
		*sp = '\0';
		f[i] = sp + 1;
	}
	for (i = 0; i < 4; i++)
		if (field_u64(f[i], &v[i]) == -1)
			return "bad number";
	namelen = len - (size_t)(f[nf - 1] - s);
	if (namelen == 0 || namelen > UIDMAP_MAX_NAME || f[nf - 1][0] == '.' ||
	    f[nf - 1][0] == ':' || memchr(f[nf - 1], '/', namelen) != NULL)
		return "bad name";
	if (v[0] == 0)
		return "UID 0";
	e->uidl = NULL;
	if (ver == 2 && strcmp(f[4], "-") != 0) {
		if (f[4][0] != '+' || !uidmap_uidl_valid(f[4] + 1,
		    strlen(f[4] + 1)))
			return "bad UIDL";
		e->uidl = f[4] + 1;
	}
	e->uid = v[0];
	e->size = v[1];
	e->rawsize = v[2];
	e->mtime = v[3];
	e->seq = 0;
	e->name = f[nf - 1];
	/* "<name>:<info>": the file name in cur/ when it was recorded. */
	e->info = NULL;
	if ((sp = memchr(f[nf - 1], ':', namelen)) != NULL) {
		*sp = '\0';
		e->info = sp + 1;
	}
	return NULL;
}

/*
 * The UIDL a record shows, as a sort key: numbers (a counter UID, or a
 * kept UIDL that a counter UID could print as) before other strings.
 */
static bool
shown_num(const struct uidmap_entry *e, uint64_t *v_out)
{
	if (e->uidl == NULL) {
		*v_out = e->uid;
		return true;
	}
	return uidmap_uidl_numeric(e->uidl, v_out);
}

static int
cmp_shown(const void *a, const void *b)
{
	const struct uidmap_entry *x = a, *y = b;
	uint64_t	 vx = 0, vy = 0;
	bool		 nx = shown_num(x, &vx), ny = shown_num(y, &vy);

	if (nx != ny)
		return nx ? -1 : 1;
	if (nx)
		return vx < vy ? -1 : vx > vy;
	return strcmp(x->uidl, y->uidl);
}

int
uidmap_cmp_uid(const void *a, const void *b)
{
	const struct uidmap_entry *x = a, *y = b;

	return x->uid < y->uid ? -1 : x->uid > y->uid;
}

/*
 * SPEC 6: no two records may show one UIDL (two kept "+X", or a kept "+X"
 * equal to the decimal UID of a "-" record).  Sorts ents by shown UIDL,
 * then back by UID: the order of a parsed file, whose UIDs ascend.
 */
static bool
uidls_unique(struct uidmap_entry *ents, size_t n)
{
	size_t	 i;
	bool	 ok = true;

	if (n < 2)
		return true;
	qsort(ents, n, sizeof(*ents), cmp_shown);
	for (i = 1; i < n && ok; i++)
		ok = cmp_shown(&ents[i - 1], &ents[i]) != 0;
	qsort(ents, n, sizeof(*ents), uidmap_cmp_uid);
	return ok;
}

int
uidmap_parse(char *buf, size_t len, struct uidmap *m, size_t cap)
{
	struct uidmap_entry	 e;
	char			*p, *end = buf + len, *eol, *sp;
	const char		*why = NULL, *err;
	uint64_t		 hnext = 0, floor = 1, last = 0, num, cur = 0;
	size_t			 n = 0;
	int			 ver = 1;

	buf[len] = '\0';
	m->count = 0;
	m->why = NULL;
	m->cur_mtime = 0;
	if ((eol = memchr(buf, '\n', len)) == NULL) {
		m->next = 1;
		m->why = "no header line";
		return -1;
	}
	*eol = '\0';
	if (strncmp(buf, UIDMAP_HEADER2, sizeof(UIDMAP_HEADER2) - 1) == 0)
		ver = 2;
	/* "... next=<N>[ cur=<M>]" */
	if ((sp = strchr(buf, ' ')) != NULL)
		sp = strchr(sp + 1, ' ');
	if (sp != NULL && (sp = strchr(sp + 1, ' ')) != NULL)
		*sp++ = '\0';
	if (strlen(buf) + (sp != NULL ? 1 + strlen(sp) : 0) !=
	    (size_t)(eol - buf) ||			/* a NUL octet */
	    (ver == 1 &&
	    strncmp(buf, UIDMAP_HEADER, sizeof(UIDMAP_HEADER) - 1) != 0) ||
	    field_u64(buf + sizeof(UIDMAP_HEADER) - 1, &hnext) == -1 ||
	    hnext == 0 ||
	    (sp != NULL && (strncmp(sp, "cur=", 4) != 0 ||
	    field_u64(sp + 4, &cur) == -1 || cur == 0)))
		why = "bad header";
	else
		floor = hnext;
	for (p = eol + 1; p < end; p = eol + 1) {
		if ((eol = memchr(p, '\n', (size_t)(end - p))) == NULL) {
			why = why != NULL ? why : "truncated last line";
			break;
		}
		*eol = '\0';
		if ((err = parse_line(p, (size_t)(eol - p), ver, &e)) != NULL) {
			why = why != NULL ? why : err;
			continue;
		}
		/* The floor grows past every UID seen, even in a bad file. */
		if (e.uid >= floor)
			floor = e.uid == UINT64_MAX ? e.uid : e.uid + 1;
		/* Collision rule: above every numeric imported UIDL too. */
		if (e.uidl != NULL && uidmap_uidl_numeric(e.uidl, &num) &&
		    num >= floor)
			floor = num == UINT64_MAX ? num : num + 1;
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
	if (why == NULL && ver == 2 && !uidls_unique(m->ents, n))
		why = "duplicate UIDL";
	if (why != NULL) {
		m->why = why;
		return -1;
	}
	m->count = n;
	m->cur_mtime = cur;
	return 0;
}

int
uidmap_cmp_delivery(const void *a, const void *b)
{
	const struct uidmap_msg	*x = a, *y = b;

	if (x->tkey != y->tkey)
		return x->tkey < y->tkey ? -1 : 1;
	return strcmp(x->name, y->name);
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

void
uidmap_uidl_filename(const char *name, char *buf, size_t size)
{
	/* RFC 1939: 1..70 octets of 0x21-0x7e, else a digest. */
	if (uidmap_uidl_valid(name, strlen(name)))
		(void)strlcpy_(buf, name, size);
	else
		(void)snprintf(buf, size, "%016" PRIx64, fnv1a(name));
}

/* Decimal v and a NUL into buf (at least 21 octets); returns its length. */
static size_t
fmt_u64(uint64_t v, char *buf)
{
	char	 d[20];
	size_t	 n = 0, i;

	do {
		d[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v != 0);
	for (i = 0; i < n; i++)
		buf[i] = d[n - 1 - i];
	buf[n] = '\0';
	return n;
}

int
uidmap_uidl(const struct uidmap_msg *e, bool counter, char *buf,
    size_t size)
{
	int	 r;

	if (size <= UIDMAP_MAX_UIDL)
		return -1;
	if (counter && e->old != NULL && e->old->uidl != NULL)
		r = snprintf(buf, size, "%s", e->old->uidl);	/* imported */
	else if (counter && e->uidl_name) {
		uidmap_uidl_filename(e->name, buf, size);
		r = 0;
	} else if (counter && e->uid != 0)
		r = (int)fmt_u64(e->uid, buf);	/* size > 20 */
	else if (counter)
		r = snprintf(buf, size, "N%016" PRIx64, fnv1a(e->name));
	else {
		uidmap_uidl_filename(e->name, buf, size);
		r = 0;
	}
	return r < 0 || (size_t)r >= size ? -1 : 0;
}
