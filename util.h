/*
 * util.h: small pure helpers shared by the parsers.
 */
#ifndef UTIL_H
#define UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

enum parse_num {
	NUM_OK = 0,
	NUM_NOT_NUMBER,		/* empty, sign, blank or non-digit first */
	NUM_TOO_LARGE,		/* overflows the type */
	NUM_TRAILING,		/* digits followed by something else */
};

/*
 * Parses a decimal number made only of ASCII digits (no sign, no blanks).
 * On NUM_OK stores the value in *out; otherwise leaves *out alone.
 */
enum parse_num	parse_u32(const char *s, uint32_t *out);
enum parse_num	parse_u64(const char *s, uint64_t *out);

/* Text of a parse_num failure, e.g. "not a number". */
const char	*parse_num_str(enum parse_num);

/* Copies at most size-1 bytes and NUL-terminates; returns strlen(src). */
size_t		 strlcpy_(char *dst, const char *src, size_t size);

/* True if s[0..len) holds a byte < 0x20 or 0x7f. */
bool		 has_ctl(const char *s, size_t len);

/* Closes fd keeping errno (a failure path's); returns rv. */
int		 close_keep_errno(int fd, int rv);

/*
 * read(2) of a file opened with O_NONBLOCK (so that a fifo in its place
 * cannot hang the open): retried on EINTR, and on EAGAIN, should a file
 * system mind the flag, once more after clearing O_NONBLOCK.  Returns
 * what read(2) does.
 */
ssize_t		 read_retry(int fd, void *buf, size_t n);

/*
 * Strict RFC 4648 base64: padding required, no blanks, no bits set under
 * the padding.  Decodes NUL-terminated in; returns the length, or -1 when
 * in is not canonical base64 or does not fit in outsize bytes.
 */
ssize_t		 b64_decode(const char *in, char *out, size_t outsize);

/*
 * Encodes in[0..len) with padding and a NUL into out; returns the length
 * without the NUL, or 0 when it does not fit (len 0 gives "" and 0).
 */
size_t		 b64_encode(const unsigned char *in, size_t len, char *out,
		    size_t outsize);

#endif
