/*
 * fuzz_mdname.c: Maildir file names (spec 5, 6) through the pure name
 * parsers of uidmap-parse.c: uidmap_name_wsize() (",W=<n>"),
 * uidmap_name_time() (the leading delivery time), uidmap_uidl() (the UIDL
 * of a base name in both modes) and uidmap_cmp_delivery().  The base
 * name is the part before ':' as maildir.c's listing takes it.  Each
 * result is compared with a plain model, and every UIDL must be 1..70
 * octets of 0x21-0x7e (RFC 1939).
 *
 * Input: a file name; after a NUL, a second name for the comparator.
 */
#include <string.h>

#include "../uidmap.h"
#include "fuzz.h"

/* ",W=<digits>" ended by NUL, ',' or ':', the first that fits. */
static bool
model_wsize(const char *s, uint64_t *out)
{
	const char	*p;
	uint64_t	 v;
	bool		 big;

	for (p = s; (p = strstr(p, ",W=")) != NULL; p++) {
		const char	*q = p + 3;

		for (v = 0, big = false; *q >= '0' && *q <= '9'; q++) {
			if (v > (UINT64_MAX - (uint64_t)(*q - '0')) / 10)
				big = true;
			v = v * 10 + (uint64_t)(*q - '0');
		}
		if (q > p + 3 && !big && (*q == '\0' || *q == ',' ||
		    *q == ':')) {
			*out = v;
			return true;
		}
	}
	return false;
}

static uint64_t
model_time(const char *s)
{
	uint64_t	 v = 0;

	for (; *s >= '0' && *s <= '9'; s++) {
		if (v > (UINT64_MAX - (uint64_t)(*s - '0')) / 10)
			return UINT64_MAX;
		v = v * 10 + (uint64_t)(*s - '0');
	}
	return v;
}

static bool
valid_uidl(const char *u)
{
	size_t	 len = strlen(u), i;

	if (len < 1 || len > UIDMAP_MAX_UIDL)
		return false;
	for (i = 0; i < len; i++)
		if (u[i] < 0x21 || u[i] > 0x7e)
			return false;
	return true;
}

static bool
is_hex16(const char *u)
{
	return strlen(u) == 16 && strspn(u, "0123456789abcdef") == 16;
}

static void
check_uidl(const char *base, uint64_t uid)
{
	struct uidmap_msg	 m;
	char			 buf[UIDMAP_MAX_UIDL + 1], small[8];

	memset(&m, 0, sizeof(m));
	m.name = base;
	m.uid = uid;
	fuzz_check(uidmap_uidl(&m, true, buf, sizeof(buf)) == 0);
	fuzz_check(valid_uidl(buf));
	if (uid == 0)
		fuzz_check(buf[0] == 'N' && is_hex16(buf + 1));
	else
		fuzz_check(strspn(buf, "0123456789") == strlen(buf));
	fuzz_check(uidmap_uidl(&m, false, buf, sizeof(buf)) == 0);
	fuzz_check(valid_uidl(buf));
	fuzz_check(strcmp(buf, base) == 0 || is_hex16(buf));
	/* Too small a buffer is refused, never overrun. */
	(void)uidmap_uidl(&m, false, small, sizeof(small));
	(void)uidmap_uidl(&m, true, small, sizeof(small));
}

static void
check_name(const char *file, uint64_t uid, struct uidmap_msg *out,
    char *basebuf)
{
	uint64_t	 got = 0, want = 0;
	bool		 g, w;
	size_t		 blen;

	g = uidmap_name_wsize(file, &got);
	w = model_wsize(file, &want);
	fuzz_check(g == w && (!g || got == want));
	fuzz_check(uidmap_name_time(file) == model_time(file));
	blen = strcspn(file, ":");
	memcpy(basebuf, file, blen);
	basebuf[blen] = '\0';
	if (blen > 0)
		check_uidl(basebuf, uid);
	memset(out, 0, sizeof(*out));
	out->name = basebuf;
	out->file = file;
	out->tkey = uidmap_name_time(file);
}

static int
sign(int v)
{
	return (v > 0) - (v < 0);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct uidmap_msg	 a, b;
	char			*s, *base1, *base2, *second;
	uint64_t		 uid = 0;
	size_t			 i, len1;

	if ((s = malloc(size + 2)) == NULL ||
	    (base1 = malloc(size + 1)) == NULL ||
	    (base2 = malloc(size + 1)) == NULL)
		abort();
	memcpy(s, data, size);
	s[size] = s[size + 1] = '\0';
	len1 = strlen(s);
	second = s + len1 + 1;
	for (i = 0; i < 8 && i < size; i++)
		uid = uid << 8 | data[i];
	check_name(s, uid, &a, base1);
	check_name(second, uid >> 1, &b, base2);
	fuzz_check(uidmap_cmp_delivery(&a, &a) == 0);
	fuzz_check(sign(uidmap_cmp_delivery(&a, &b)) ==
	    -sign(uidmap_cmp_delivery(&b, &a)));
	free(base2);
	free(base1);
	free(s);
	return 0;
}
