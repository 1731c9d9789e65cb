/*
 * fuzz_uidmap.c: the UID state file (spec 6, C0007-C0009) through
 * uidmap_parse(), the pure parser uidmap_load() runs on the file's bytes.
 * A parsed file must give strictly ascending UIDs below next, names that
 * are 1..255 octets without '/' or a leading '.', inside the buffer; a
 * refused one must give a reason and a next of at least 1.  A kept
 * (version 2) UIDL must be valid, and next above it when it is numeric
 * (the collision rule) unless next is UINT64_MAX, the exhausted counter.
 * No two records may show one UIDL (spec 6: a kept one, or a counter UID
 * in decimal), and an accepted file has no NUL octet, header included.
 * A parsed file is written back in the format of uidmap.h and parsed
 * again: the records, infos, cur=, and version 3's "@login" and "@retr"
 * times must come back the same.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "../uidmap.h"
#include "fuzz.h"

static size_t
count_lf(const char *buf, size_t len)
{
	size_t	 n = 0;

	while (len > 0) {
		const char *lf = memchr(buf, '\n', len);

		if (lf == NULL)
			break;
		n++;
		len -= (size_t)(lf - buf) + 1;
		buf = lf + 1;
	}
	return n;
}

/* The UIDL a record shows, as uidmap_uidl() prints it in counter mode. */
static void
shown(const struct uidmap_entry *e, char *buf, size_t size)
{
	if (e->uidl != NULL)
		(void)snprintf(buf, size, "%s", e->uidl);
	else
		(void)snprintf(buf, size, "%" PRIu64, e->uid);
}

static void
check_parsed(const struct uidmap *m, const char *buf, size_t len)
{
	char	 a[UIDMAP_MAX_UIDL + 1], b[UIDMAP_MAX_UIDL + 1];
	size_t	 i, j, nlen;

	fuzz_check(m->next >= 1);
	for (i = 0; i < m->count; i++) {
		const struct uidmap_entry *e = &m->ents[i];

		fuzz_check(e->name >= buf && e->name < buf + len);
		nlen = strlen(e->name);
		fuzz_check(nlen >= 1 && nlen <= 255);
		fuzz_check(e->name[0] != '.' && strchr(e->name, '/') == NULL);
		fuzz_check(strpbrk(e->name, "\n:") == NULL);
		fuzz_check(e->info == NULL || (e->info >= buf &&
		    e->info < buf + len && strpbrk(e->info, "\n/") == NULL &&
		    nlen + 1 + strlen(e->info) <= 255));
		fuzz_check(e->uid >= 1 && e->uid < m->next);
		fuzz_check(i == 0 || e->uid > m->ents[i - 1].uid);
		if (e->uidl != NULL) {
			uint64_t	 num;

			fuzz_check(e->uidl >= buf && e->uidl < buf + len);
			fuzz_check(uidmap_uidl_valid(e->uidl,
			    strlen(e->uidl)));
			/*
			 * next saturates at UINT64_MAX, which
			 * uidmap_update() never hands out.
			 */
			fuzz_check(!uidmap_uidl_numeric(e->uidl, &num) ||
			    num < m->next || m->next == UINT64_MAX);
		}
	}
	/* spec 6: one UIDL, one message (fuzz inputs are small). */
	for (i = 0; i < m->count && m->count <= 4096; i++) {
		shown(&m->ents[i], a, sizeof(a));
		for (j = i + 1; j < m->count; j++) {
			shown(&m->ents[j], b, sizeof(b));
			fuzz_check(strcmp(a, b) != 0);
		}
	}
}

/* Writes m back as uidmap.h describes the file; returns its length. */
static size_t
serialize(const struct uidmap *m, char *out, size_t size)
{
	size_t	 o = 0, i;
	int	 r, ver = 1;

	for (i = 0; i < m->count; i++)
		if (m->ents[i].uidl != NULL)
			ver = 2;
	for (i = 0; i < m->count; i++)
		if (m->ents[i].retr != 0)
			ver = 3;
	if (m->last_login != 0)
		ver = 3;
	if (m->cur_mtime != 0)
		r = snprintf(out, size, "pop3-handler-uidlist %d next=%" PRIu64
		    " cur=%" PRIu64 "\n", ver, m->next, m->cur_mtime);
	else
		r = snprintf(out, size, "pop3-handler-uidlist %d next=%"
		    PRIu64 "\n", ver, m->next);
	fuzz_check(r > 0 && (size_t)r < size);
	o = (size_t)r;
	for (i = 0; i < m->count; i++) {
		const struct uidmap_entry *e = &m->ents[i];

		r = snprintf(out + o, size - o, "%" PRIu64 " %" PRIu64 " %"
		    PRIu64 " %" PRIu64 "%s%s%s %s%s%s\n", e->uid, e->size,
		    e->rawsize, e->mtime, ver == 1 ? "" : " ",
		    ver == 1 ? "" : e->uidl != NULL ? "+" : "-",
		    e->uidl != NULL ? e->uidl : "", e->name,
		    e->info != NULL ? ":" : "",
		    e->info != NULL ? e->info : "");
		fuzz_check(r > 0 && (size_t)r < size - o);
		o += (size_t)r;
	}
	if (m->last_login != 0) {
		r = snprintf(out + o, size - o, "@login %" PRIu64 "\n",
		    m->last_login);
		fuzz_check(r > 0 && (size_t)r < size - o);
		o += (size_t)r;
	}
	for (i = 0; i < m->count; i++) {
		if (m->ents[i].retr == 0)
			continue;
		r = snprintf(out + o, size - o, "@retr %" PRIu64 " %" PRIu64
		    "\n", m->ents[i].uid, m->ents[i].retr);
		fuzz_check(r > 0 && (size_t)r < size - o);
		o += (size_t)r;
	}
	return o;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct uidmap	 m, m2;
	char		*buf, *out;
	size_t		 cap, olen, outsize, i;
	int		 r;

	memset(&m, 0, sizeof(m));
	memset(&m2, 0, sizeof(m2));
	/* Exactly len + 1 bytes: the parser may write buf[len] only. */
	if ((buf = malloc(size + 1)) == NULL)
		abort();
	memcpy(buf, data, size);
	cap = count_lf(buf, size);
	if ((m.ents = calloc(cap + 1, sizeof(*m.ents))) == NULL)
		abort();
	r = uidmap_parse(buf, size, &m, cap);
	fuzz_check(r == 0 || r == -1);
	if (r == -1) {
		fuzz_check(m.why != NULL && m.next >= 1);
		goto done;
	}
	fuzz_check(m.why == NULL && m.count <= cap);
	/* Accepted: no NUL octet anywhere, the header line included. */
	fuzz_check(memchr(data, '\0', size) == NULL);
	check_parsed(&m, buf, size);

	/* Round trip: 4 numbers of 20 digits and 7 more octets a line. */
	outsize = 160 + size + m.count * 160;
	if ((out = malloc(outsize)) == NULL ||
	    (m2.ents = calloc(m.count + 1, sizeof(*m2.ents))) == NULL)
		abort();
	olen = serialize(&m, out, outsize);
	fuzz_check(uidmap_parse(out, olen, &m2, m.count + 1) == 0);
	fuzz_check(m2.count == m.count && m2.next == m.next &&
	    m2.cur_mtime == m.cur_mtime && m2.last_login == m.last_login);
	for (i = 0; i < m.count; i++) {
		fuzz_check(m2.ents[i].uid == m.ents[i].uid &&
		    m2.ents[i].size == m.ents[i].size &&
		    m2.ents[i].rawsize == m.ents[i].rawsize &&
		    m2.ents[i].mtime == m.ents[i].mtime &&
		    m2.ents[i].retr == m.ents[i].retr);
		fuzz_check(strcmp(m2.ents[i].name, m.ents[i].name) == 0);
		fuzz_check((m2.ents[i].uidl == NULL) ==
		    (m.ents[i].uidl == NULL));
		fuzz_check(m.ents[i].uidl == NULL ||
		    strcmp(m2.ents[i].uidl, m.ents[i].uidl) == 0);
		fuzz_check((m2.ents[i].info == NULL) ==
		    (m.ents[i].info == NULL));
		fuzz_check(m.ents[i].info == NULL ||
		    strcmp(m2.ents[i].info, m.ents[i].info) == 0);
	}
	free(m2.ents);
	free(out);
done:
	free(m.ents);
	free(buf);
	return 0;
}
