/*
 * fuzz_uidimport.c: the UIDL sources of a migration (spec 6, C0009)
 * through uidimport_parse_dovecot() and uidimport_parse_courier(), the
 * pure parsers uidimport_load() runs on dovecot-uidlist and
 * courierpop3dsizelist.  Every record kept must have uid 0, a name that
 * the state file can hold (1..255 octets, no '/', no leading '.', no
 * ':'), and a UIDL (or NULL) that is a C string inside the file's buffer
 * or, made up by the parser, a valid one in its m->extra.
 *
 * Input: a selector byte (bit 0: Courier), then the file.
 */
#include <string.h>

#include "../uidmap-import.h"
#include "../uidmap.h"
#include "fuzz.h"

static bool
inside(const char *p, const char *buf, size_t len)
{
	return p >= buf && p <= buf + len && memchr(p, '\0',
	    (size_t)(buf + len - p) + 1) != NULL;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct uidmap	 m;
	const char	*lf;
	char		*buf;
	size_t		 len, cap = 0, i, nlen;
	bool		 courier;
	int		 r;

	if (size < 1)
		return 0;
	courier = data[0] & 1;
	len = size - 1;
	/* Exactly len + 1 bytes: the parser may write buf[len] only. */
	if ((buf = malloc(len + 1)) == NULL)
		abort();
	memcpy(buf, data + 1, len);
	for (lf = buf; (lf = memchr(lf, '\n', len - (size_t)(lf - buf))) !=
	    NULL; lf++)
		cap++;
	memset(&m, 0, sizeof(m));
	if ((m.ents = calloc(cap + 1, sizeof(*m.ents))) == NULL)
		abort();
	r = courier ? uidimport_parse_courier(buf, len, &m, cap) :
	    uidimport_parse_dovecot(buf, len, &m, cap);
	if (r == -1) {
		fuzz_check(m.why != NULL);
		goto done;
	}
	fuzz_check(r >= 0 && m.count <= cap);
	fuzz_check(m.count + (size_t)r <= cap);
	for (i = 0; i < m.count; i++) {
		const struct uidmap_entry *e = &m.ents[i];

		fuzz_check(e->uid == 0 && e->mtime == 0);
		fuzz_check(inside(e->name, buf, len));
		nlen = strlen(e->name);
		fuzz_check(nlen >= 1 && nlen <= 255 && e->name[0] != '.');
		fuzz_check(strpbrk(e->name, "/:\n") == NULL);
		if (e->uidl == NULL)
			continue;
		if (inside(e->uidl, buf, len))
			continue;
		/* Made by the parser: in m->extra (ASan checks the end). */
		fuzz_check(m.extra != NULL && e->uidl >= m.extra);
		fuzz_check(uidmap_uidl_valid(e->uidl, strlen(e->uidl)));
	}
done:
	free(m.extra);
	free(m.ents);
	free(buf);
	return 0;
}
