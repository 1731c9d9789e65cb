/*
 * fuzz_passwd.c: one passwd-file line (spec 4) through auth_parse_line(),
 * and the name rule through auth_valid_username().  An accepted entry
 * must hold a name that passes the name rule and equals the first field,
 * a hash with no control byte and no {SCHEME} left, and an empty or
 * absolute home; a refused line must come with a reason.
 */
#include <string.h>

#include "../auth.h"
#include "fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct passwd_entry	 e;
	const char		*line = (const char *)data, *errstr = NULL;
	const char		*colon;
	size_t			 nlen, i;
	int			 r;

	/* The name rule on the raw bytes: never reads past size. */
	(void)auth_valid_username(line, size);

	memset(&e, 0x5a, sizeof(e));
	r = auth_parse_line(line, size, &e, &errstr);
	fuzz_check(r >= -1 && r <= 1);
	fuzz_check(r != -1 || errstr != NULL);
	if (r != 1)
		return 0;
	nlen = strnlen(e.name, sizeof(e.name));
	fuzz_check(nlen < sizeof(e.name));
	fuzz_check(auth_valid_username(e.name, nlen));
	colon = memchr(line, ':', size);
	fuzz_check(colon != NULL && (size_t)(colon - line) == nlen &&
	    memcmp(line, e.name, nlen) == 0);
	fuzz_check(memchr(e.hash, '\0', sizeof(e.hash)) != NULL);
	for (i = 0; e.hash[i] != '\0'; i++)
		fuzz_check((unsigned char)e.hash[i] >= 0x20 &&
		    e.hash[i] != 0x7f);
	fuzz_check(e.hash[0] != '{');
	fuzz_check(memchr(e.home, '\0', sizeof(e.home)) != NULL);
	fuzz_check(e.home[0] == '\0' || e.home[0] == '/');
	fuzz_check(!e.has_uid || e.uid != (uid_t)-1);
	fuzz_check(!e.has_gid || e.gid != (gid_t)-1);
	return 0;
}
