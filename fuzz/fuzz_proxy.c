/*
 * fuzz_proxy.c: PROXY protocol v1 and v2 headers (spec 9) through
 * proxy_parse().  Besides "no crash", it checks the incremental contract
 * of proxy.h: a header found in len bytes is found, with the same length,
 * in any longer input; every shorter prefix asks for more bytes; "more
 * bytes" is never asked past PROXY_V2_MAX; the address is a C string.
 */
#include <string.h>

#include "../proxy.h"
#include "fuzz.h"

static int
parse(const uint8_t *buf, size_t len, struct proxy_result *res)
{
	const char	*errstr = NULL;
	int		 r;

	memset(res, 0xa5, sizeof(*res));
	r = proxy_parse(buf, len, res, &errstr);
	fuzz_check(r == -1 || (r >= 0 && (size_t)r <= len));
	fuzz_check(r != -1 || errstr != NULL);
	fuzz_check(r != 0 || len < PROXY_V2_MAX);
	if (r > 0) {
		fuzz_check(memchr(res->addr, '\0', sizeof(res->addr)) != NULL);
		fuzz_check(res->local || res->addr[0] != '\0');
	}
	return r;
}

/* What a prefix of j bytes must give when the whole input gave r. */
static void
check_prefix(const uint8_t *data, size_t j, int r,
    const struct proxy_result *whole)
{
	struct proxy_result	 res;
	int			 rj;

	rj = parse(data, j, &res);
	if (r > 0 && j >= (size_t)r) {
		fuzz_check(rj == r);
		fuzz_check(res.local == whole->local &&
		    res.loopback == whole->loopback &&
		    strcmp(res.addr, whole->addr) == 0 &&
		    res.ssl == whole->ssl &&
		    strcmp(res.ssl_version, whole->ssl_version) == 0 &&
		    strcmp(res.ssl_cipher, whole->ssl_cipher) == 0);
	} else if (r >= 0)
		fuzz_check(rj == 0);
	else
		fuzz_check(rj <= 0);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct proxy_result	 res;
	size_t			 j;
	int			 r;

	r = parse(data, size, &res);
	for (j = 0; j < size && j < 128; j++)
		check_prefix(data, j, r, &res);
	if (size > 0)
		check_prefix(data, size - 1, r, &res);
	if (r > 0) {
		check_prefix(data, (size_t)r - 1, r, &res);
		check_prefix(data, (size_t)r, r, &res);
	}
	return 0;
}
