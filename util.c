/*
 * util.c: small pure helpers shared by the parsers (style 3.4).
 *
 * Nothing here keeps state or allocates, and the only system calls are
 * close_keep_errno()'s and read_retry()'s.  Every number that
 * arrives from the socket, the passwd file, the configuration or a Maildir
 * file name goes through parse_u32() or parse_u64(): decimal digits only,
 * no sign, no blanks, overflow checked, and a reason when it fails.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
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

#ifdef POP3_FAULT_INJECTION
/*
 * Test builds only (make build/fault/pop3-handler): POP3_FAULT=read-eagain
 * fails every read_retry() read of an O_NONBLOCK file with EAGAIN, as a
 * file system that minds the flag would.
 */
static bool
fault_eagain(int fd)
{
	const char	*f = getenv("POP3_FAULT");
	int		 fl;

	if (f == NULL || strcmp(f, "read-eagain") != 0 ||
	    (fl = fcntl(fd, F_GETFL)) == -1 || (fl & O_NONBLOCK) == 0)
		return false;
	errno = EAGAIN;
	return true;
}
#else
#define fault_eagain(fd)	false
#endif

ssize_t
read_retry(int fd, void *buf, size_t n)
{
	ssize_t	 r;
	int	 fl;
	bool	 blocking = false;

	for (;;) {
		r = fault_eagain(fd) ? -1 : read(fd, buf, n);
		if (r == -1 && errno == EINTR)
			continue;
		/* Once, blocking: a file system that minds O_NONBLOCK. */
		if (r == -1 && errno == EAGAIN && !blocking) {
			blocking = true;
			if ((fl = fcntl(fd, F_GETFL)) != -1 &&
			    (fl & O_NONBLOCK) != 0 &&
			    fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) == 0)
				continue;
			errno = EAGAIN;
		}
		return r;
	}
}

/* RFC 4648 base64 value of c, or -1. */
static int
b64_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

/*
 * Strict RFC 4648 decoding: padding required, no blanks, no bits set in
 * the padding.  Returns the decoded length, or -1.
 */
ssize_t
b64_decode(const char *in, char *out, size_t outsize)
{
	size_t		 inlen = strlen(in), i, o = 0, pad = 0;
	uint32_t	 acc;
	int		 v, j;

	if (inlen % 4 != 0)
		return -1;
	if (inlen > 0 && in[inlen - 1] == '=')
		pad = inlen > 1 && in[inlen - 2] == '=' ? 2 : 1;
	if (inlen / 4 * 3 - pad > outsize)
		return -1;
	for (i = 0; i < inlen; i += 4) {
		acc = 0;
		for (j = 0; j < 4; j++) {
			if (i + (size_t)j >= inlen - pad)
				v = 0;
			else if ((v = b64_value((unsigned char)in[i + j])) < 0)
				return -1;
			acc = acc << 6 | (uint32_t)v;
		}
		out[o++] = (char)(acc >> 16);
		if (i + 4 < inlen || pad < 2)
			out[o++] = (char)(acc >> 8 & 0xff);
		if (i + 4 < inlen || pad < 1)
			out[o++] = (char)(acc & 0xff);
		/* Non-canonical: bits hidden under the padding. */
		if (i + 4 >= inlen && ((pad == 1 && (acc & 0xff) != 0) ||
		    (pad == 2 && (acc & 0xffff) != 0)))
			return -1;
	}
	return (ssize_t)o;
}

size_t
b64_encode(const unsigned char *in, size_t len, char *out, size_t outsize)
{
	static const char tab[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t i, o = 0;
	uint32_t acc;

	if (len > (SIZE_MAX - 1) / 4 * 3 || (len + 2) / 3 * 4 >= outsize)
		return 0;
	for (i = 0; i < len; i += 3) {
		acc = (uint32_t)in[i] << 16;
		if (i + 1 < len)
			acc |= (uint32_t)in[i + 1] << 8;
		if (i + 2 < len)
			acc |= in[i + 2];
		out[o++] = tab[acc >> 18 & 63];
		out[o++] = tab[acc >> 12 & 63];
		out[o++] = i + 1 < len ? tab[acc >> 6 & 63] : '=';
		out[o++] = i + 2 < len ? tab[acc & 63] : '=';
	}
	out[o] = '\0';
	return o;
}
