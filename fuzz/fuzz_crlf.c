/*
 * fuzz_crlf.c: the RFC 1939 transform of maildir-crlf.c (spec 3, 6) as a
 * property check.  The message is fed in chunks of fuzzer-chosen sizes
 * (a CR or a '.' may sit at any chunk edge) and:
 *
 *  1. what crlf_feed()/crlf_finish() return adds up to what they emit;
 *  2. the output equals a byte-at-a-time model of the transform, so it
 *     does not depend on the chunking;
 *  3. the count-only size (dot_stuff false, emit NULL), which STAT and
 *     LIST report, equals the octets of the dot-stuffed output after
 *     un-stuffing, which is what RETR makes the client hold;
 *  4. for a message whose every CR ends a CRLF, turning the un-stuffed
 *     output's CRLF back into LF gives the message, plus the LF that
 *     crlf_finish() adds after a last line without one;
 *  5. TOP n (top_lines >= 0) emits a prefix of the full output.
 *
 * Input: a flags byte (bit 7: TOP, bits 0-2: its line count), a seed
 * byte for the chunk sizes, then the message.
 */
#include <string.h>

#include "../maildir-crlf.h"
#include "fuzz.h"

struct sink {
	char	*buf;
	size_t	 len, cap;
};

static int
sink_emit(void *arg, const char *p, size_t len)
{
	struct sink	*s = arg;

	fuzz_check(len > 0 && len <= s->cap - s->len);
	memcpy(s->buf + s->len, p, len);
	s->len += len;
	return 0;
}

/* Runs the transform over msg in seeded chunks; returns the total. */
static int64_t
run(const char *msg, size_t len, int64_t top, bool stuff, unsigned seed,
    struct sink *out)
{
	struct crlf_state	 st;
	int64_t			 n, total = 0;
	size_t			 off = 0, chunk;
	unsigned		 x = seed * 2654435761u + 1;

	crlf_init(&st, top, stuff);
	while (off < len) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		/* Mostly short chunks; now and then an empty or a long one. */
		chunk = seed == 0 ? len : x % 8 == 0 ? 0 : x % 8 == 1 ?
		    x % 256 : 1 + x % 4;
		if (chunk > len - off)
			chunk = len - off;
		n = crlf_feed(&st, msg + off, chunk,
		    out != NULL ? sink_emit : NULL, out);
		fuzz_check(n >= 0);
		total += n;
		off += chunk;
	}
	n = crlf_finish(&st, out != NULL ? sink_emit : NULL, out);
	fuzz_check(n >= 0);
	total += n;
	fuzz_check(out == NULL || total == (int64_t)out->len);
	return total;
}

/* The transform one byte at a time, as maildir-crlf.c's comment states it. */
static size_t
model(const char *m, size_t len, int64_t top, bool stuff, char *out)
{
	size_t		 i, o = 0;
	bool		 bol = true, in_body = false;
	int64_t		 left = top;

	for (i = 0; i < len; i++) {
		bool	 eol = m[i] == '\n' || (m[i] == '\r' &&
			    (i + 1 == len || m[i + 1] == '\n'));

		if (!eol) {
			if (bol && stuff && m[i] == '.')
				out[o++] = '.';
			out[o++] = m[i];
			bol = false;
			continue;
		}
		if (m[i] == '\r' && i + 1 < len)
			i++;			/* CR LF is one line end */
		out[o++] = '\r';
		out[o++] = '\n';
		if (!in_body) {
			if (bol)
				in_body = true;
			if (bol && top == 0)
				return o;
		} else if (top >= 0 && --left == 0)
			return o;
		bol = true;
	}
	if (!bol) {
		out[o++] = '\r';
		out[o++] = '\n';
	}
	return o;
}

/* Drops the '.' a line of s starts with; returns the new length. */
static size_t
unstuff(const char *s, size_t len, char *out)
{
	size_t	 i, o = 0;
	bool	 bol = true;

	for (i = 0; i < len; i++) {
		if (!(bol && s[i] == '.'))
			out[o++] = s[i];
		bol = s[i] == '\n';
	}
	return o;
}

/* True when every CR of m is followed by LF. */
static bool
no_bare_cr(const char *m, size_t len)
{
	size_t	 i;

	for (i = 0; i < len; i++)
		if (m[i] == '\r' && (i + 1 == len || m[i + 1] != '\n'))
			return false;
	return true;
}

/* CR LF back to LF; returns the new length. */
static size_t
to_lf(const char *s, size_t len, char *out)
{
	size_t	 i, o = 0;

	for (i = 0; i < len; i++)
		if (!(s[i] == '\r' && i + 1 < len && s[i + 1] == '\n'))
			out[o++] = s[i];
	return o;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sink	 stuffed, plain, top;
	const char	*msg;
	char		*want, *tmp;
	size_t		 len, cap, wlen, n;
	int64_t		 count, lines = -1;
	unsigned	 seed;

	if (size < 2)
		return 0;
	if (data[0] & 0x80)
		lines = data[0] & 0x07;
	seed = data[1];
	msg = (const char *)data + 2;
	len = size - 2;
	/* Worst case: ".\n" lines, 2 octets in, 4 out; plus a final CRLF. */
	cap = 2 * len + 2;
	stuffed.cap = plain.cap = top.cap = cap;
	stuffed.len = plain.len = top.len = 0;
	if ((stuffed.buf = malloc(cap)) == NULL ||
	    (plain.buf = malloc(cap)) == NULL ||
	    (top.buf = malloc(cap)) == NULL ||
	    (want = malloc(cap)) == NULL || (tmp = malloc(cap)) == NULL)
		abort();

	count = run(msg, len, -1, false, seed, NULL);
	(void)run(msg, len, -1, true, seed, &stuffed);
	(void)run(msg, len, -1, false, seed + 1, &plain);

	/* 2: the model, for both settings. */
	wlen = model(msg, len, -1, true, want);
	fuzz_check(wlen == stuffed.len && memcmp(want, stuffed.buf, wlen) == 0);
	wlen = model(msg, len, -1, false, want);
	fuzz_check(wlen == plain.len && memcmp(want, plain.buf, wlen) == 0);

	/* 3: count-only size == un-stuffed RETR output. */
	n = unstuff(stuffed.buf, stuffed.len, tmp);
	fuzz_check(count == (int64_t)n && n == plain.len &&
	    memcmp(tmp, plain.buf, n) == 0);

	/* 4: back to the message where that is defined. */
	if (no_bare_cr(msg, len)) {
		char	*back = want;
		size_t	 blen = to_lf(msg, len, back);

		if (blen > 0 && back[blen - 1] != '\n')
			back[blen++] = '\n';
		n = to_lf(plain.buf, plain.len, tmp);
		fuzz_check(n == blen && memcmp(tmp, back, n) == 0);
	}

	/* 5: TOP is a prefix of RETR, and matches the model. */
	if (lines >= 0) {
		(void)run(msg, len, lines, true, seed + 2, &top);
		wlen = model(msg, len, lines, true, want);
		fuzz_check(wlen == top.len && memcmp(want, top.buf, wlen) == 0);
		fuzz_check(top.len <= stuffed.len &&
		    memcmp(top.buf, stuffed.buf, top.len) == 0);
	}

	free(tmp);
	free(want);
	free(top.buf);
	free(plain.buf);
	free(stuffed.buf);
	return 0;
}
