/*
 * fuzz_extra.c: the passwd file's extra fields (spec 4.2) through
 * auth_parse_extra(), and allow_nets matching through auth_net_allowed().
 * The input is "extra fields\npeer": everything before the first newline
 * is the field, the rest a peer address string.  Properties: a refusal
 * comes with a reason; counts stay within their arrays; labels and the
 * reason are NUL-terminated without control bytes; SCRAM keys have the
 * hash's length; a peer that matches must parse as an address.
 */
#include <sys/socket.h>

#include <string.h>

#include "../passwd.h"
#include "fuzz.h"

static void
check_text(const char *s, size_t size)
{
	size_t n = strnlen(s, size);

	fuzz_check(n < size);
	for (size_t i = 0; i < n; i++)
		fuzz_check((unsigned char)s[i] >= 0x20 && s[i] != 0x7f);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct passwd_entry	 e;
	struct net_prefix	 p;
	const char		*in = (const char *)data, *errstr = NULL;
	const char		*nl;
	char			 peer[64];
	size_t			 flen, plen;
	int			 r;

	nl = memchr(in, '\n', size);
	flen = nl != NULL ? (size_t)(nl - in) : size;
	memset(&e, 0, sizeof(e));
	e.pw_scram = -1;
	r = auth_parse_extra(in, flen, &e, &errstr);
	fuzz_check(r == 0 || r == -1);
	fuzz_check(r == 0 || errstr != NULL);
	fuzz_check(e.nnets <= AUTH_MAX_NETS && e.napp <= AUTH_MAX_APP);
	check_text(e.reason, sizeof(e.reason));
	for (unsigned int i = 0; i < e.napp; i++) {
		check_text(e.app[i].label, sizeof(e.app[i].label));
		fuzz_check(e.app[i].label[0] != '\0');
		fuzz_check(e.app[i].hash[0] != '\0');
	}
	for (int h = 0; h < SCRAM_NHASH; h++) {
		if (!e.scram[h].set)
			continue;
		fuzz_check(e.scram[h].key_len == (h == SCRAM_SHA_1 ? 20u : 32u));
		fuzz_check(e.scram[h].iter >= AUTH_MIN_SCRAM_ITER);
		fuzz_check(e.scram[h].salt_len > 0 &&
		    e.scram[h].salt_len <= AUTH_SCRAM_MAX_SALT);
	}
	for (unsigned int i = 0; i < e.nnets; i++)
		fuzz_check(e.nets[i].bits <= (e.nets[i].family == AF_INET ?
		    32u : 128u));
	if (nl == NULL)
		return 0;
	plen = size - flen - 1;
	if (plen >= sizeof(peer))
		plen = sizeof(peer) - 1;
	memcpy(peer, nl + 1, plen);
	peer[plen] = '\0';
	if (auth_net_allowed(&e, peer) && e.nnets > 0)
		fuzz_check(auth_parse_net(peer, strlen(peer), &p) == 0);
	return 0;
}
