/*
 * util.h: small pure helpers shared by the parsers.
 */
#ifndef UTIL_H
#define UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

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

#endif
