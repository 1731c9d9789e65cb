/*
 * fuzz_ntlm.c: NTLM messages (spec 4.1, MS-NLMP) through ntlm.c.  The
 * first input byte selects what the rest is:
 *   'N'  a NEGOTIATE message; an accepted one is answered with
 *        ntlm_build_challenge() as the session does, and the CHALLENGE
 *        must fit one "+ " reply line (C0001) and parse back;
 *   'H'  a hostname for ntlm_build_challenge(), the same checks;
 *   else an AUTHENTICATE message (any other first byte, e.g. 'A').
 * An accepted AUTHENTICATE must point inside the message with even
 * UTF-16 lengths, a MIC (if any) at its place before every field; its
 * user name converts to UTF-8 within the buffer or is refused;
 * ntlm_verify() against the key of corpus/ntlm/v2-ok (the NT hash of
 * "Password"), its server challenge and the transcript of transcript()
 * (corpus/ntlm/v2-mic-ok carries a valid MIC over it) accepts only
 * NTLMv2 responses.  Once per process, the NTLMv2 example of MS-NLMP 4.2.4 must
 * verify and must fail with one bit of the proof changed.
 */
#include <string.h>

#include "../ntlm.h"
#include "../util.h"
#include "fuzz.h"

/* MS-NLMP 4.2.4: NT hash of "Password", user "User", domain "Domain". */
static const uint8_t kat_hash[16] = {
	0xa4, 0xf4, 0x9c, 0x40, 0x65, 0x10, 0xbd, 0xca,
	0xb6, 0x82, 0x4e, 0xe7, 0xc3, 0x0f, 0xd8, 0x52
};
static const uint8_t kat_challenge[8] = {
	0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef
};
static const uint8_t kat_proof[16] = {
	0x68, 0xcd, 0x0a, 0xb8, 0x51, 0xe5, 0x1c, 0x96,
	0xaa, 0xbc, 0x92, 0x7b, 0xeb, 0xef, 0x6a, 0x1c
};
/* temp: 0101 0000 00000000, Time 0, ClientChallenge aa*8, 00000000,
 * MsvAvNbDomainName "Domain", MsvAvNbComputerName "Server", EOL, 0. */
static const uint8_t kat_temp[] = {
	0x01, 0x01, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0, 0, 0, 0,
	0x02, 0x00, 0x0c, 0x00, 'D', 0, 'o', 0, 'm', 0, 'a', 0, 'i', 0,
	'n', 0,
	0x01, 0x00, 0x0c, 0x00, 'S', 0, 'e', 0, 'r', 0, 'v', 0, 'e', 0,
	'r', 0,
	0, 0, 0, 0, 0, 0, 0, 0
};

/* What corpus MICs cover: curl's NEGOTIATE, our CHALLENGE to it. */
static const struct ntlm_transcript *
transcript(const uint8_t challenge[8])
{
	static const uint8_t neg[32] = {
		'N', 'T', 'L', 'M', 'S', 'S', 'P', 0, 1, 0, 0, 0,
		0x06, 0x82, 0x08, 0xa0
	};
	static struct ntlm_transcript t;

	if (t.negotiate_len == 0) {
		memcpy(t.negotiate, neg, sizeof(neg));
		t.negotiate_len = sizeof(neg);
		t.challenge_len = ntlm_build_challenge(t.challenge,
		    sizeof(t.challenge), 0xa0088206u, challenge,
		    "mail.example.org", ntlm_filetime(1700000000));
		fuzz_check(t.challenge_len > 0);
	}
	return &t;
}

static const struct ntlm_crypto *
crypto(void)
{
	static struct ntlm_crypto *c;
	const char *errstr;

	if (c == NULL && (c = ntlm_crypto_load(&errstr)) == NULL) {
		fprintf(stderr, "fuzz_ntlm: %s\n", errstr);
		abort();
	}
	return c;
}

static void
known_answer(void)
{
	static const uint8_t user[] = { 'U', 0, 's', 0, 'e', 0, 'r', 0 };
	static const uint8_t dom[] = { 'D', 0, 'o', 0, 'm', 0, 'a', 0, 'i', 0,
	    'n', 0 };
	static bool done;
	uint8_t nt[sizeof(kat_proof) + sizeof(kat_temp)];
	struct ntlm_authenticate a;

	if (done)
		return;
	done = true;
	memcpy(nt, kat_proof, sizeof(kat_proof));
	memcpy(nt + sizeof(kat_proof), kat_temp, sizeof(kat_temp));
	memset(&a, 0, sizeof(a));
	a.flags = NTLM_NEGOTIATE_UNICODE;
	a.user = user;
	a.user_len = sizeof(user);
	a.domain = dom;
	a.domain_len = sizeof(dom);
	a.nt = nt;
	a.nt_len = sizeof(nt);
	fuzz_check(ntlm_verify(crypto(), kat_hash, &a, kat_challenge, NULL));
	fuzz_check(!ntlm_verify(crypto(), NULL, &a, kat_challenge, NULL));
	nt[3] ^= 1;
	fuzz_check(!ntlm_verify(crypto(), kat_hash, &a, kat_challenge, NULL));
}

/* A built CHALLENGE fits one reply line and is well formed. */
static void
check_challenge(uint32_t flags, const char *host)
{
	uint8_t msg[NTLM_MAX_CHALLENGE];
	char b64[MAX_REPLY];
	size_t len, tn_off, tn_len, ti_off, ti_len, at, n;
	unsigned int id;

	len = ntlm_build_challenge(msg, sizeof(msg), flags, kat_challenge,
	    host, ntlm_filetime(0));
	fuzz_check(len >= 48 && len <= NTLM_MAX_CHALLENGE);
	fuzz_check(b64_encode(msg, len, b64, sizeof(b64)) + 4 <= MAX_REPLY);
	fuzz_check(memcmp(msg, "NTLMSSP", 8) == 0 && msg[8] == 2);
	fuzz_check(memcmp(msg + 24, kat_challenge, 8) == 0);
	tn_len = (size_t)(msg[12] | msg[13] << 8);
	tn_off = (size_t)(msg[16] | msg[17] << 8);
	ti_len = (size_t)(msg[40] | msg[41] << 8);
	ti_off = (size_t)(msg[44] | msg[45] << 8);
	fuzz_check(tn_off == 48 && tn_len > 0 && tn_len <= 30);
	fuzz_check(ti_off == tn_off + tn_len && ti_off + ti_len == len);
	/* The AV pairs walk to an EOL ending exactly at the end. */
	for (at = ti_off;; at += 4 + n) {
		fuzz_check(at + 4 <= len);
		id = (unsigned int)(msg[at] | msg[at + 1] << 8);
		n = (size_t)(msg[at + 2] | msg[at + 3] << 8);
		if (id == 0) {
			fuzz_check(n == 0 && at + 4 == len);
			break;
		}
		fuzz_check(id <= 7 && at + 4 + n <= len);
	}
}

static void
check_authenticate(const uint8_t *data, size_t size)
{
	static const uint8_t ok_challenge[8] = {
		'p', 'o', 'p', '3', 'n', 't', 'l', 'm'
	};
	struct ntlm_authenticate a;
	const char *errstr = NULL;
	char name[MAX_USERNAME + 1];
	size_t nlen = 0;
	bool ok;

	if (ntlm_parse_authenticate(data, size, &a, &errstr) == -1) {
		fuzz_check(errstr != NULL);
		return;
	}
	fuzz_check(a.flags & NTLM_NEGOTIATE_UNICODE);
#define INSIDE(p, n) fuzz_check((p) >= data && (n) <= size &&		\
	    (size_t)((p) - data) <= size - (n))
	INSIDE(a.lm, a.lm_len);
	INSIDE(a.nt, a.nt_len);
	INSIDE(a.domain, a.domain_len);
	INSIDE(a.user, a.user_len);
	INSIDE(a.workstation, a.workstation_len);
#undef INSIDE
	fuzz_check(a.user_len % 2 == 0 && a.domain_len % 2 == 0);
	fuzz_check(a.msg == data && a.msg_len == size);
	if (a.mic != NULL) {
		fuzz_check(a.mic == data + NTLM_MIC_OFFSET && size >= 88);
		fuzz_check(a.nt_len == 0 || a.nt >= data + 88);
		fuzz_check(a.user_len == 0 || a.user >= data + 88);
	}
	memset(name, 0x5a, sizeof(name));
	if (ntlm_utf16_to_utf8(a.user, a.user_len, name, sizeof(name),
	    &nlen) == 0) {
		fuzz_check(nlen < sizeof(name) && name[nlen] == '\0');
		/* 1..3 octets per UTF-16 unit; 4 per surrogate pair. */
		fuzz_check(nlen * 2 >= a.user_len / 2 &&
		    nlen <= a.user_len / 2 * 3);
	}
	ok = ntlm_verify(crypto(), kat_hash, &a, ok_challenge,
	    transcript(ok_challenge));
	if (ok)
		fuzz_check(a.nt_len >= 16 + 28);
	if (a.mic != NULL)
		fuzz_check(!ntlm_verify(crypto(), kat_hash, &a, ok_challenge,
		    NULL));
	fuzz_check(!ntlm_verify(crypto(), NULL, &a, ok_challenge,
	    transcript(ok_challenge)));
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char host[300];
	uint32_t flags;
	const char *errstr = NULL;

	known_answer();
	if (size > 0 && data[0] == 'N') {
		if (ntlm_parse_negotiate(data + 1, size - 1, &flags,
		    &errstr) == 0)
			check_challenge(flags, "mail.example.org");
		else
			fuzz_check(errstr != NULL);
	} else if (size > 0 && data[0] == 'H') {
		size = size - 1 < sizeof(host) - 1 ? size - 1 : sizeof(host) - 1;
		memcpy(host, data + 1, size);
		host[size] = '\0';
		check_challenge(0xffffffffu, host);
		check_challenge(0, host);
	} else if (size > 0)
		check_authenticate(data + 1, size - 1);
	return 0;
}
