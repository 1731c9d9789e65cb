/*
 * util.c: small pure helpers shared by the parsers (STYLE 3.4).
 *
 * Nothing here keeps state or allocates, and the only system call is
 * close_keep_errno()'s.  Every number that
 * arrives from the socket, the passwd file, the configuration or a Maildir
 * file name goes through parse_u32() or parse_u64(): decimal digits only,
 * no sign, no blanks, overflow checked, and a reason when it fails.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "util.h"

static enum parse_num
parse_digits(const char *s, uint64_t max, uint64_t *out)
{
	uint64_t	v = 0;
	bool		big = false;
	size_t		i;

	if (s == NULL || s[0] < '0' || s[0] > '9')
		return NUM_NOT_NUMBER;
	for (i = 0; s[i] >= '0' && s[i] <= '9'; i++) {
		if (big)
			continue;
		if (__builtin_mul_overflow(v, 10, &v) ||
		    __builtin_add_overflow(v, (uint64_t)(s[i] - '0'), &v) ||
		    v > max)
			big = true;
	}
	/* "99999999999x" is trailing noise before it is too large. */
	if (s[i] != '\0')
		return NUM_TRAILING;
	if (big)
		return NUM_TOO_LARGE;
	*out = v;
	return NUM_OK;
}

enum parse_num
parse_u32(const char *s, uint32_t *out)
{
	enum parse_num	r;
	uint64_t	v;

	if ((r = parse_digits(s, UINT32_MAX, &v)) == NUM_OK)
		*out = (uint32_t)v;
	return r;
}

enum parse_num
parse_u64(const char *s, uint64_t *out)
{
	return parse_digits(s, UINT64_MAX, out);
}

const char *
parse_num_str(enum parse_num r)
{
	switch (r) {
	case NUM_OK:
		return "ok";
	case NUM_NOT_NUMBER:
		return "not a number";
	case NUM_TOO_LARGE:
		return "too large";
	case NUM_TRAILING:
		return "trailing characters";
	}
	return "invalid number";
}

size_t
strlcpy_(char *dst, const char *src, size_t size)
{
	size_t	len = strlen(src);

	if (size > 0) {
		size_t	n = len < size - 1 ? len : size - 1;

		memcpy(dst, src, n);
		dst[n] = '\0';
	}
	return len;
}

bool
has_ctl(const char *s, size_t len)
{
	size_t	i;

	for (i = 0; i < len; i++)
		if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] == 0x7f)
			return true;
	return false;
}

int
close_keep_errno(int fd, int rv)
{
	int	 saved = errno;

	(void)close(fd);
	errno = saved;
	return rv;
}
