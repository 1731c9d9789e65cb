/*
 * uidmap-parse.c: the pure parsers and formatters of the uidmap module
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
 * and in versions 2 and 3 "<uid> <size> <rawsize> <mtime> <-|+uidl> <name>".
 */
static const char *
parse_line(char *s, size_t len, int ver, struct uidmap_entry *e)
{
	char		*f[6], *sp;
	uint64_t	 v[4];
	size_t		 i, namelen, nf = ver >= 2 ? 6 : 5;

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
	if (ver >= 2 && strcmp(f[4], "-") != 0) {
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
	e->retr = 0;
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
 * spec 6: no two records may show one UIDL (two kept "+X", or a kept "+X"
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

/*
 * The header line (NUL-terminated, len octets): "pop3-handler-uidlist
 * <ver> next=<N>[ cur=<M>]", and from version 3 on any further items,
 * ignored (uidmap.h).  Returns NULL and the version, next and cur, or a
 * reason; *ver_out is set whenever the version itself parses.
 */
static const char *
parse_header(char *buf, size_t len, int *ver_out, uint64_t *next_out,
    uint64_t *cur_out)
{
	static const char	 magic[] = "pop3-handler-uidlist ";
	char			*t[4], *sp;
	uint64_t		 ver;
	size_t			 nt = 0;

	if (strlen(buf) != len || strncmp(buf, magic, sizeof(magic) - 1) != 0)
		return "bad header";		/* a NUL octet, or not ours */
	for (sp = buf + sizeof(magic) - 1; sp != NULL && nt < 4; nt++) {
		t[nt] = sp;
		if ((sp = strchr(sp, ' ')) != NULL)
			*sp++ = '\0';
	}
	/* t[0] version, t[1] next=, t[2] cur= or an item, t[3] the rest. */
	if (t[0][0] < '1' || t[0][0] > '9' || parse_u64(t[0], &ver) != NUM_OK)
		return "bad header";
	/* Set even when the rest is bad: the records still give a floor. */
	*ver_out = ver >= 3 ? 3 : (int)ver;
	*cur_out = 0;
	if (nt < 2 || strncmp(t[1], "next=", 5) != 0 ||
	    field_u64(t[1] + 5, next_out) == -1 || *next_out == 0)
		return "bad header";
	if (nt > 2 && t[2][0] == '\0')
		return "bad header";
	if (nt > 2 && strncmp(t[2], "cur=", 4) == 0) {
		if (field_u64(t[2] + 4, cur_out) == -1 || *cur_out == 0)
			return "bad header";
	} else if (nt > 2 && *ver_out < 3)
		return "bad header";
	if (nt > 3 && *ver_out < 3)
		return "bad header";
	return NULL;
}

/* The record of uid among ents[0..n) (ascending), or NULL. */
static struct uidmap_entry *
find_uid(struct uidmap_entry *ents, size_t n, uint64_t uid)
{
	size_t	 lo = 0, hi = n, mid;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (ents[mid].uid == uid)
			return &ents[mid];
		if (ents[mid].uid < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

/*
 * A version 3 '@' line (uidmap.h), NUL-terminated: "@login <T>" sets
 * *login, "@retr <uid> <T>" the retr of that uid's record among
 * ents[0..n).  Anything else, and lines that do not parse, are ignored
 * (forward tolerance).
 */
static void
parse_typed(char *s, struct uidmap_entry *ents, size_t n, uint64_t *login)
{
	struct uidmap_entry	*e;
	char			*sp;
	uint64_t		 uid, t;

	if (strncmp(s, "@login ", 7) == 0) {
		if (field_u64(s + 7, &t) == 0)
			*login = t;
	} else if (strncmp(s, "@retr ", 6) == 0 &&
	    (sp = strchr(s + 6, ' ')) != NULL) {
		*sp = '\0';
		if (field_u64(s + 6, &uid) == 0 && field_u64(sp + 1, &t) == 0 &&
		    (e = find_uid(ents, n, uid)) != NULL)
			e->retr = t;
	}
}

void
uidmap_parse_start(struct uidmap_pstate *ps, struct uidmap *m)
{
	memset(ps, 0, sizeof(*ps));
	ps->floor = 1;
	ps->ver = 1;
	m->count = 0;
	m->why = NULL;
	m->cur_mtime = 0;
	m->last_login = 0;
}

int
uidmap_parse_line(struct uidmap_pstate *ps, char *p, size_t len,
    struct uidmap *m, size_t cap)
{
	struct uidmap_entry	 e;
	const char		*err;
	uint64_t		 num;
	int			 added = 0;

	if (!ps->header) {
		ps->header = true;
		if ((ps->why = parse_header(p, len, &ps->ver, &ps->hnext,
		    &ps->cur)) == NULL)
			ps->floor = ps->hnext;
		return 0;
	}
	if (ps->ver == 3 && *p == '@') {
		if (memchr(p, '\0', len) != NULL)
			ps->why = ps->why != NULL ? ps->why : "NUL octet";
		else if (ps->why == NULL)
			parse_typed(p, m->ents, ps->n, &ps->login);
		return 0;
	}
	if ((err = parse_line(p, len, ps->ver, &e)) != NULL) {
		ps->why = ps->why != NULL ? ps->why : err;
		return 0;
	}
	/* The floor grows past every UID seen, even in a bad file. */
	if (e.uid >= ps->floor)
		ps->floor = e.uid == UINT64_MAX ? e.uid : e.uid + 1;
	/* Collision rule: above every numeric imported UIDL too. */
	if (e.uidl != NULL && uidmap_uidl_numeric(e.uidl, &num) &&
	    num >= ps->floor)
		ps->floor = num == UINT64_MAX ? num : num + 1;
	if (ps->why != NULL)
		return 0;
	if (e.uid <= ps->last)
		ps->why = "UIDs not ascending";
	else if (e.uid >= ps->hnext)
		ps->why = "UID not below next";
	else if (ps->n >= cap)
		ps->why = "too many records";
	else {
		m->ents[ps->n++] = e;
		added = 1;
	}
	ps->last = e.uid;
	return added;
}

int
uidmap_parse_end(struct uidmap_pstate *ps, struct uidmap *m, bool truncated)
{
	if (!ps->header) {
		m->next = 1;
		m->why = "no header line";
		return -1;
	}
	if (truncated && ps->why == NULL)
		ps->why = "truncated last line";
	m->next = ps->floor;
	if (ps->why == NULL && ps->ver >= 2 && !uidls_unique(m->ents, ps->n))
		ps->why = "duplicate UIDL";
	if (ps->why != NULL) {
		m->why = ps->why;
		return -1;
	}
	m->count = ps->n;
	m->cur_mtime = ps->cur;
	m->last_login = ps->login;
	return 0;
}

int
uidmap_parse(char *buf, size_t len, struct uidmap *m, size_t cap)
{
	struct uidmap_pstate	 ps;
	char			*p, *end = buf + len, *eol;

	buf[len] = '\0';
	uidmap_parse_start(&ps, m);
	for (p = buf; p < end; p = eol + 1) {
		if ((eol = memchr(p, '\n', (size_t)(end - p))) == NULL)
			break;
		*eol = '\0';
		(void)uidmap_parse_line(&ps, p, (size_t)(eol - p), m, cap);
	}
	return uidmap_parse_end(&ps, m, p < end);
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

/* spec 6: a ",W=<n>" field of the file name gives the CRLF size. */
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
