/*
 * fuzz_saslplain.c: RFC 4616 PLAIN messages in base64 (spec 4) through
 * auth_sasl_plain().  The input is the base64 text as a client sends it
 * after "AUTH PLAIN " or "+ ".  An accepted message must point inside the
 * caller's buffer with non-empty authcid and password free of NUL, and
 * the password must be NUL-terminated there; a refused one must leave the
 * buffer cleared (the caller relies on it for secrets) and give a reason;
 * but for a different authzid, whose authcid stays at the buffer's start.
 */
#include <string.h>

#include "../auth.h"
#include "../pop3.h"
#include "fuzz.h"

#define BUFSIZE	MAX_COMMAND_LENGTH	/* what session.c passes */

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char	*authcid, *pw, *errstr = NULL;
	char		*b64, *buf;
	size_t		 clen, plen, i, bufsize;
	int		 r;

	/*
	 * A leading 'Z' (not base64 text that decodes to PLAIN anyway) asks
	 * for a small buffer, so the "no room" paths get exercised too.  The
	 * buffer has exactly bufsize bytes: ASan sees any write past it.
	 */
	bufsize = size > 0 && data[0] == 'Z' ? size % 16 : BUFSIZE;
	if ((b64 = malloc(size + 1)) == NULL ||
	    (buf = malloc(bufsize == 0 ? 1 : bufsize)) == NULL)
		abort();
	memcpy(b64, data, size);
	b64[size] = '\0';
	memset(buf, 0x5a, bufsize);
	r = auth_sasl_plain(b64, buf, bufsize, &authcid, &clen, &pw, &plen,
	    &errstr);
	fuzz_check(r == 0 || r == -1);
	if (r == -1) {
		fuzz_check(errstr != NULL);
		i = 0;
		/* A different authzid keeps the authcid, at buf. */
		if (errstr == auth_err_authzid) {
			fuzz_check(authcid == buf && clen > 0 && clen < bufsize);
			fuzz_check(memchr(buf, '\0', clen) == NULL);
			i = clen;
		}
		for (; i < bufsize; i++)
			fuzz_check(buf[i] == '\0');
	} else {
		fuzz_check(clen > 0 && plen > 0);
		fuzz_check(authcid > buf && authcid + clen < buf + bufsize);
		fuzz_check(pw > authcid + clen && pw + plen < buf + bufsize);
		fuzz_check(memchr(authcid, '\0', clen) == NULL);
		fuzz_check(memchr(pw, '\0', plen) == NULL);
		fuzz_check(pw[plen] == '\0');
		fuzz_check(authcid[clen] == '\0');
		/* Decoded bytes never outnumber 3/4 of the text. */
		fuzz_check((size_t)(pw + plen - buf) <= size / 4 * 3);
	}
	explicit_bzero(buf, bufsize);
	free(buf);
	free(b64);
	return 0;
}
