/*
 * ntlm.c: NTLM messages and NTLMv2 verification for AUTH NTLM (spec 4.1,
 * MS-NLMP, MS-OXPOP3).
 *
 * Runs before authentication on hostile bytes.  The parsers read only
 * inside the message they are given: every security buffer (length,
 * offset) is checked with overflow-checked arithmetic against the message
 * length, which itself is bounded by NTLM_MAX_MESSAGE.  They allocate
 * nothing and keep no state.  Only NTLMv2 responses verify: an NTLMv1, an
 * NTLM2 session or an LM-only response is refused after the same HMAC
 * work as a wrong password, and the caller answers it the same way.
 *
 * Not done, on purpose: no signing or sealing (POP3 has no security
 * layer after AUTH, so no key exchange is offered and no sealing key is
 * derived); the client's timestamp is not checked (the server challenge
 * is fresh for every exchange, so a replayed AUTHENTICATE cannot verify,
 * and a client with a wrong clock still logs in); the domain the client
 * names is used in NTOWFv2 as sent and not compared with ours.  A MIC,
 * when the client sends one, is checked (MS-NLMP 3.2.5.1.2).
 *
 * libcrypto is loaded with dlopen() when an exchange starts, like tls.c
 * does for TLS, so sessions without NTLM do not map it.
 */
#include <sys/random.h>
#include <sys/types.h>

#include <dlfcn.h>
#include <locale.h>
#include <stdlib.h>
#include <string.h>
#include <wctype.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/opensslv.h>
#include <openssl/provider.h>

#include "ntlm.h"

#define MSG_NEGOTIATE		1
#define MSG_CHALLENGE		2
#define MSG_AUTHENTICATE	3
#define NEGOTIATE_HDR		32	/* with its two security buffers */
#define NEGOTIATE_MIN		16	/* signature, type, flags */
#define CHALLENGE_HDR		48	/* no Version: we do not send one */
#define AUTHENTICATE_HDR	64
#define NETBIOS_MAX		15

/* NEGOTIATE flags telling which of its buffers are filled. */
#define NEGOTIATE_DOMAIN_SUPPLIED	0x00001000u
#define NEGOTIATE_WORKSTATION_SUPPLIED	0x00002000u

/* AV pair ids (MS-NLMP 2.2.2.1). */
#define AV_EOL			0
#define AV_NB_COMPUTER		1
#define AV_NB_DOMAIN		2
#define AV_DNS_COMPUTER		3
#define AV_FLAGS		6
#define AV_TIMESTAMP		7
#define AV_FLAG_MIC		0x00000002u	/* MsvAvFlags: a MIC is sent */

/*
 * NTLMv2 response: NTProofStr (16), then the blob's fixed part (28:
 * RespType, HiRespType, reserved, TimeStamp, ChallengeFromClient,
 * reserved).  An NTLMv1 or NTLM2 session response has 24 octets.
 */
#define NTLMV2_MIN		NTLM_V2_MIN

static const uint8_t signature[8] = { 'N', 'T', 'L', 'M', 'S', 'S', 'P', 0 };

static uint16_t
le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t
le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	    (uint32_t)p[3] << 24;
}

static uint8_t *
put16(uint8_t *p, unsigned int v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	return p + 2;
}

static uint8_t *
put32(uint8_t *p, uint32_t v)
{
	p = put16(p, v & 0xffff);
	return put16(p, v >> 16);
}

/* Signature and message type; 0 or -1. */
static int
check_header(const uint8_t *msg, size_t len, size_t min, uint32_t type,
    const char **errstr)
{
	if (len < min || len > NTLM_MAX_MESSAGE) {
		*errstr = "NTLM message length out of range";
		return -1;
	}
	if (memcmp(msg, signature, sizeof(signature)) != 0) {
		*errstr = "no NTLMSSP signature";
		return -1;
	}
	if (le32(msg + 8) != type) {
		*errstr = "unexpected NTLM message type";
		return -1;
	}
	return 0;
}

/*
 * The security buffer (Len, MaxLen, Offset) at msg + at.  A filled one
 * must lie after the fixed header (hdr) and inside the message.
 */
static int
get_field(const uint8_t *msg, size_t len, size_t at, size_t hdr,
    const uint8_t **p, size_t *flen)
{
	size_t n = le16(msg + at), off = le32(msg + at + 4), end;

	*p = msg;
	*flen = 0;
	if (n == 0)
		return 0;
	if (off < hdr || __builtin_add_overflow(off, n, &end) || end > len)
		return -1;
	*p = msg + off;
	*flen = n;
	return 0;
}

int
ntlm_parse_negotiate(const uint8_t *msg, size_t len, uint32_t *flags_out,
    const char **errstr_out)
{
	const uint8_t *p;
	uint32_t flags;
	size_t n;

	if (check_header(msg, len, NEGOTIATE_MIN, MSG_NEGOTIATE,
	    errstr_out) == -1)
		return -1;
	flags = le32(msg + 12);
	/* The buffers are not used; when they are said to be there, the
	 * message must hold them. */
	if (((flags & NEGOTIATE_DOMAIN_SUPPLIED) ||
	    (flags & NEGOTIATE_WORKSTATION_SUPPLIED)) && len < NEGOTIATE_HDR) {
		*errstr_out = "NEGOTIATE too short for its fields";
		return -1;
	}
	if (((flags & NEGOTIATE_DOMAIN_SUPPLIED) &&
	    get_field(msg, len, 16, NEGOTIATE_HDR, &p, &n) == -1) ||
	    ((flags & NEGOTIATE_WORKSTATION_SUPPLIED) &&
	    get_field(msg, len, 24, NEGOTIATE_HDR, &p, &n) == -1)) {
		*errstr_out = "NEGOTIATE field outside the message";
		return -1;
	}
	*flags_out = flags;
	return 0;
}

/* The six security buffers of an AUTHENTICATE, after hdr octets. */
static int
auth_fields(const uint8_t *msg, size_t len, size_t hdr,
    struct ntlm_authenticate *a)
{
	const uint8_t *key;
	size_t key_len;

	return get_field(msg, len, 12, hdr, &a->lm, &a->lm_len) ||
	    get_field(msg, len, 20, hdr, &a->nt, &a->nt_len) ||
	    get_field(msg, len, 28, hdr, &a->domain, &a->domain_len) ||
	    get_field(msg, len, 36, hdr, &a->user, &a->user_len) ||
	    get_field(msg, len, 44, hdr, &a->workstation,
	    &a->workstation_len) ||
	    get_field(msg, len, 52, hdr, &key, &key_len) ? -1 : 0;
}

/*
 * Whether an NTLMv2 response's AV pairs carry MsvAvFlags with the MIC
 * bit.  The walk stops at MsvAvEOL or at the first pair that does not
 * fit; the NTProofStr covers these octets, so they cannot be altered.
 */
static bool
blob_has_mic(const uint8_t *nt, size_t nt_len)
{
	size_t at = NTLMV2_MIN, n;
	unsigned int id;

	if (nt_len < NTLMV2_MIN)
		return false;
	while (nt_len - at >= 4) {
		id = le16(nt + at);
		n = le16(nt + at + 2);
		if (id == AV_EOL || nt_len - at - 4 < n)
			return false;
		if (id == AV_FLAGS && n == 4)
			return (le32(nt + at + 4) & AV_FLAG_MIC) != 0;
		at += 4 + n;
	}
	return false;
}

int
ntlm_parse_authenticate(const uint8_t *msg, size_t len,
    struct ntlm_authenticate *out, const char **errstr_out)
{
	struct ntlm_authenticate a;

	if (check_header(msg, len, AUTHENTICATE_HDR, MSG_AUTHENTICATE,
	    errstr_out) == -1)
		return -1;
	a.flags = le32(msg + 60);
	a.msg = msg;
	a.msg_len = len;
	a.mic = NULL;
	if (auth_fields(msg, len, AUTHENTICATE_HDR, &a) == -1) {
		*errstr_out = "AUTHENTICATE field outside the message";
		return -1;
	}
	if (blob_has_mic(a.nt, a.nt_len)) {
		/* Version and MIC come before every field. */
		if (auth_fields(msg, len, NTLM_MIC_OFFSET + NTLM_HASH_LEN,
		    &a) == -1 || len < NTLM_MIC_OFFSET + NTLM_HASH_LEN) {
			*errstr_out = "AUTHENTICATE field overlaps its MIC";
			return -1;
		}
		a.mic = msg + NTLM_MIC_OFFSET;
	}
	/* Our CHALLENGE offers Unicode only; the strings are UTF-16LE. */
	if (!(a.flags & NTLM_NEGOTIATE_UNICODE)) {
		*errstr_out = "AUTHENTICATE without Unicode";
		return -1;
	}
	if (a.domain_len % 2 != 0 || a.user_len % 2 != 0 ||
	    a.workstation_len % 2 != 0) {
		*errstr_out = "odd UTF-16 string length";
		return -1;
	}
	*out = a;
	return 0;
}

/* Appends code point cp as UTF-8; false when it does not fit. */
static bool
put_utf8(char *out, size_t outsize, size_t *o, uint32_t cp)
{
	uint8_t b[4];
	size_t n, i;

	if (cp < 0x80) {
		b[0] = (uint8_t)cp;
		n = 1;
	} else if (cp < 0x800) {
		b[0] = (uint8_t)(0xc0 | cp >> 6);
		b[1] = (uint8_t)(0x80 | (cp & 0x3f));
		n = 2;
	} else if (cp < 0x10000) {
		b[0] = (uint8_t)(0xe0 | cp >> 12);
		b[1] = (uint8_t)(0x80 | (cp >> 6 & 0x3f));
		b[2] = (uint8_t)(0x80 | (cp & 0x3f));
		n = 3;
	} else {
		b[0] = (uint8_t)(0xf0 | cp >> 18);
		b[1] = (uint8_t)(0x80 | (cp >> 12 & 0x3f));
		b[2] = (uint8_t)(0x80 | (cp >> 6 & 0x3f));
		b[3] = (uint8_t)(0x80 | (cp & 0x3f));
		n = 4;
	}
	/* One octet stays free for the terminator. */
	if (outsize - *o <= n)
		return false;
	for (i = 0; i < n; i++)
		out[(*o)++] = (char)b[i];
	return true;
}

int
ntlm_utf16_to_utf8(const uint8_t *in, size_t len, char *out, size_t outsize,
    size_t *len_out)
{
	size_t i, o = 0;
	uint32_t u, lo;

	if (outsize == 0 || len % 2 != 0)
		return -1;
	for (i = 0; i < len; i += 2) {
		u = le16(in + i);
		if (u >= 0xdc00 && u <= 0xdfff)
			return -1;		/* a low surrogate first */
		if (u >= 0xd800 && u <= 0xdbff) {
			if (len - i < 4)
				return -1;
			lo = le16(in + i + 2);
			if (lo < 0xdc00 || lo > 0xdfff)
				return -1;
			u = 0x10000 + ((u - 0xd800) << 10) + (lo - 0xdc00);
			i += 2;
		}
		if (!put_utf8(out, outsize, &o, u))
			return -1;
	}
	out[o] = '\0';
	*len_out = o;
	return 0;
}

/*
 * Strict UTF-8 (no overlong forms, no surrogates, at most U+10FFFF) to
 * UTF-16LE; returns the output length, or -1.
 */
static ssize_t
utf8_to_utf16(const uint8_t *in, size_t len, uint8_t *out, size_t outsize)
{
	size_t i = 0, o = 0, n, k;
	uint32_t cp, min;

	while (i < len) {
		cp = in[i];
		if (cp < 0x80) {
			n = 0;
			min = 0;
		} else if ((cp & 0xe0) == 0xc0) {
			n = 1, cp &= 0x1f, min = 0x80;
		} else if ((cp & 0xf0) == 0xe0) {
			n = 2, cp &= 0x0f, min = 0x800;
		} else if ((cp & 0xf8) == 0xf0) {
			n = 3, cp &= 0x07, min = 0x10000;
		} else
			return -1;
		if (len - i <= n)
			return -1;
		for (k = 1; k <= n; k++) {
			if ((in[i + k] & 0xc0) != 0x80)
				return -1;
			cp = cp << 6 | (in[i + k] & 0x3f);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return -1;
		i += n + 1;
		if (outsize - o < (cp >= 0x10000 ? 4u : 2u))
			return -1;
		if (cp >= 0x10000) {
			cp -= 0x10000;
			put16(out + o, 0xd800 | cp >> 10);
			put16(out + o + 2, 0xdc00 | (cp & 0x3ff));
			o += 4;
		} else {
			put16(out + o, cp);
			o += 2;
		}
	}
	return (ssize_t)o;
}

/* ASCII s[0..n) as UTF-16LE; other octets become '?'. */
static uint8_t *
put_ascii16(uint8_t *p, const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		p = put16(p, (unsigned char)s[i] < 0x80 ? (unsigned char)s[i] :
		    '?');
	return p;
}

static uint8_t *
put_av(uint8_t *p, unsigned int id, const char *s, size_t n)
{
	p = put16(p, id);
	p = put16(p, (unsigned int)(n * 2));
	return put_ascii16(p, s, n);
}

/* The NetBIOS name: the first label, upper-cased, at most 15 chars. */
static size_t
netbios_name(const char *host, char nb[NETBIOS_MAX + 1])
{
	size_t n = 0;

	while (n < NETBIOS_MAX && host[n] != '\0' && host[n] != '.') {
		nb[n] = host[n] >= 'a' && host[n] <= 'z' ?
		    (char)(host[n] - 'a' + 'A') : host[n];
		n++;
	}
	if (n == 0) {
		memcpy(nb, "POP3", 4);
		n = 4;
	}
	nb[n] = '\0';
	return n;
}

size_t
ntlm_build_challenge(uint8_t *out, size_t outsize, uint32_t client_flags,
    const uint8_t challenge[NTLM_CHALLENGE_LEN], const char *hostname,
    uint64_t filetime)
{
	char nb[NETBIOS_MAX + 1];
	size_t nb_len, dns_len, info_len, total;
	uint32_t flags;
	uint8_t *p;
	int i;

	if (outsize < NTLM_MAX_CHALLENGE)
		return 0;
	nb_len = netbios_name(hostname, nb);
	dns_len = strnlen(hostname, MAX_REPLY);
	/* Two NetBIOS pairs, the timestamp and EOL; the DNS name if room. */
	info_len = 2 * (4 + 2 * nb_len) + (4 + 8) + 4;
	if (CHALLENGE_HDR + 2 * nb_len + info_len + 4 + 2 * dns_len >
	    NTLM_MAX_CHALLENGE)
		dns_len = 0;
	if (dns_len > 0)
		info_len += 4 + 2 * dns_len;
	total = CHALLENGE_HDR + 2 * nb_len + info_len;

	flags = NTLM_NEGOTIATE_UNICODE | NTLM_REQUEST_TARGET |
	    NTLM_NEGOTIATE_NTLM | NTLM_TARGET_TYPE_SERVER |
	    NTLM_NEGOTIATE_TARGET_INFO;
	flags |= client_flags & (NTLM_NEGOTIATE_ESS |
	    NTLM_NEGOTIATE_ALWAYS_SIGN);

	memcpy(out, signature, sizeof(signature));
	p = put32(out + 8, MSG_CHALLENGE);
	p = put16(p, (unsigned int)(2 * nb_len));		/* TargetName */
	p = put16(p, (unsigned int)(2 * nb_len));
	p = put32(p, CHALLENGE_HDR);
	p = put32(p, flags);
	memcpy(p, challenge, NTLM_CHALLENGE_LEN);
	p += NTLM_CHALLENGE_LEN;
	memset(p, 0, 8);					/* Reserved */
	p += 8;
	p = put16(p, (unsigned int)info_len);			/* TargetInfo */
	p = put16(p, (unsigned int)info_len);
	p = put32(p, (uint32_t)(CHALLENGE_HDR + 2 * nb_len));
	p = put_ascii16(p, nb, nb_len);
	p = put_av(p, AV_NB_DOMAIN, nb, nb_len);
	p = put_av(p, AV_NB_COMPUTER, nb, nb_len);
	if (dns_len > 0)
		p = put_av(p, AV_DNS_COMPUTER, hostname, dns_len);
	p = put16(p, AV_TIMESTAMP);
	p = put16(p, 8);
	for (i = 0; i < 8; i++)
		*p++ = (uint8_t)(filetime >> (8 * i));
	p = put16(p, AV_EOL);
	p = put16(p, 0);
	return (size_t)(p - out) == total ? total : 0;
}

uint64_t
ntlm_filetime(time_t t)
{
	/* 1601-01-01 to 1970-01-01 is 11644473600 s. */
	if (t < 0)
		t = 0;
	return ((uint64_t)t + 11644473600ull) * 10000000ull;
}

/* Every libcrypto function this file calls. */
#define CRYPTO_FUNCS(X)							\
	X(EVP_md5) X(HMAC) X(OSSL_PROVIDER_load) X(OSSL_PROVIDER_unload)	\
	X(EVP_MD_fetch) X(EVP_MD_free) X(EVP_Digest)

#define CRYPTO_PTR(f)	__typeof__(&f) f;
struct ntlm_crypto {
	void		*lib;
	locale_t	 upper;		/* C.UTF-8 case map; 0: ASCII only */
	CRYPTO_FUNCS(CRYPTO_PTR)
};

#define CRYPTO_SONAME	"libcrypto.so." OPENSSL_MSTR(OPENSSL_SHLIB_VERSION)

struct ntlm_crypto *
ntlm_crypto_load(const char **errstr_out)
{
	struct ntlm_crypto *c;

	if ((c = calloc(1, sizeof(*c))) == NULL) {
		*errstr_out = "out of memory";
		return NULL;
	}
	if ((c->lib = dlopen(CRYPTO_SONAME, RTLD_NOW | RTLD_LOCAL)) == NULL) {
		*errstr_out = "cannot load " CRYPTO_SONAME;
		free(c);
		return NULL;
	}
#define CRYPTO_SYM(f)							\
	if ((c->f = (__typeof__(&f))dlsym(c->lib, #f)) == NULL) {	\
		*errstr_out = "libcrypto lacks " #f;			\
		ntlm_crypto_free(c);					\
		return NULL;						\
	}
	CRYPTO_FUNCS(CRYPTO_SYM)
#undef CRYPTO_SYM
	/* NTOWFv2 upper-cases the name as Windows does, letter by letter. */
	c->upper = newlocale(LC_CTYPE_MASK, "C.UTF-8", (locale_t)0);
	return c;
}

void
ntlm_crypto_free(struct ntlm_crypto *c)
{
	if (c == NULL)
		return;
	if (c->upper != (locale_t)0)
		freelocale(c->upper);
	(void)dlclose(c->lib);
	free(c);
}

static bool
hmac_md5(const struct ntlm_crypto *c, const uint8_t key[NTLM_HASH_LEN],
    const uint8_t *data, size_t len, uint8_t out[NTLM_HASH_LEN])
{
	unsigned int n = 0;

	return c->HMAC(c->EVP_md5(), key, NTLM_HASH_LEN, data, len, out,
	    &n) != NULL && n == NTLM_HASH_LEN;
}

/*
 * The upper case of one UTF-16 unit, as Windows' RtlUpcaseUnicodeString
 * maps it: the simple Unicode mapping within the BMP (C.UTF-8's towupper);
 * surrogates stay.  Without the C.UTF-8 locale, ASCII letters only.
 */
static unsigned int
upper16(const struct ntlm_crypto *c, unsigned int u)
{
	wint_t w;

	if (u >= 'a' && u <= 'z')
		return u - 'a' + 'A';
	if (u < 0x80 || (u >= 0xd800 && u <= 0xdfff) || c->upper == (locale_t)0)
		return u;
	w = towupper_l((wint_t)u, c->upper);
	return w <= 0xffff && (w < 0xd800 || w > 0xdfff) ? (unsigned int)w : u;
}

static bool
ct_equal16(const uint8_t *a, const uint8_t *b)
{
	uint8_t d = 0;
	int i;

	for (i = 0; i < NTLM_HASH_LEN; i++)
		d |= a[i] ^ b[i];
	return d == 0;
}

/*
 * MS-NLMP 3.2.5.1.2: HMAC-MD5(SessionBaseKey, NEGOTIATE + CHALLENGE +
 * AUTHENTICATE with its MIC zeroed) must equal the MIC.  buf has room
 * for all three.
 */
static bool
mic_ok(const struct ntlm_crypto *c, const uint8_t owf[NTLM_HASH_LEN],
    const uint8_t proof[NTLM_HASH_LEN], const struct ntlm_authenticate *a,
    const struct ntlm_transcript *t, uint8_t *buf)
{
	uint8_t key[NTLM_HASH_LEN], mic[NTLM_HASH_LEN];
	size_t n;
	bool ok;

	if (t == NULL || t->negotiate_len > sizeof(t->negotiate) ||
	    t->challenge_len > sizeof(t->challenge) ||
	    a->msg_len > NTLM_MAX_MESSAGE)
		return false;
	memcpy(buf, t->negotiate, t->negotiate_len);
	n = t->negotiate_len;
	memcpy(buf + n, t->challenge, t->challenge_len);
	n += t->challenge_len;
	memcpy(buf + n, a->msg, a->msg_len);
	memset(buf + n + NTLM_MIC_OFFSET, 0, NTLM_HASH_LEN);
	n += a->msg_len;
	ok = hmac_md5(c, owf, proof, NTLM_HASH_LEN, key) &&
	    hmac_md5(c, key, buf, n, mic) && ct_equal16(mic, a->mic);
	explicit_bzero(key, sizeof(key));
	return ok;
}

bool
ntlm_verify(const struct ntlm_crypto *c,
    const uint8_t nt_hash[NTLM_HASH_LEN], const struct ntlm_authenticate *a,
    const uint8_t challenge[NTLM_CHALLENGE_LEN],
    const struct ntlm_transcript *t)
{
	static const uint8_t dummy[NTLM_HASH_LEN] = { 0x6e, 0x74, 0x6c, 0x6d };
	uint8_t buf[NTLM_MAX_NEGOTIATE + NTLM_MAX_CHALLENGE + NTLM_MAX_MESSAGE];
	uint8_t owf[NTLM_HASH_LEN], proof[NTLM_HASH_LEN];
	bool v2 = a->nt_len >= NTLMV2_MIN, ok;
	size_t i, n, blob_len;

	/* The parser bounds every field by the message: these fit. */
	if (a->user_len + a->domain_len > NTLM_MAX_MESSAGE ||
	    a->nt_len > NTLM_MAX_MESSAGE)
		return false;
	/* NTOWFv2: UPPER(user), one UTF-16 unit at a time, then the
	 * domain as sent. */
	for (i = 0; i + 1 < a->user_len; i += 2)
		put16(buf + i, upper16(c, le16(a->user + i)));
	memcpy(buf + a->user_len, a->domain, a->domain_len);
	n = a->user_len + a->domain_len;
	ok = hmac_md5(c, nt_hash != NULL ? nt_hash : dummy, buf, n, owf);
	/* NTProofStr over ServerChallenge and the blob; a response that
	 * is not NTLMv2 is run through the same step and then refused. */
	blob_len = v2 ? a->nt_len - NTLM_HASH_LEN : a->nt_len;
	memcpy(buf, challenge, NTLM_CHALLENGE_LEN);
	memcpy(buf + NTLM_CHALLENGE_LEN, a->nt + (v2 ? NTLM_HASH_LEN : 0),
	    blob_len);
	ok = hmac_md5(c, owf, buf, NTLM_CHALLENGE_LEN + blob_len, proof) && ok;
	ok = ct_equal16(proof, v2 ? a->nt : dummy) && ok && v2 &&
	    nt_hash != NULL;
	if (ok && a->mic != NULL)
		ok = mic_ok(c, owf, proof, a, t, buf);
	explicit_bzero(owf, sizeof(owf));
	explicit_bzero(proof, sizeof(proof));
	explicit_bzero(buf, sizeof(buf));
	return ok;
}

struct ntlm_exchange *
ntlm_exchange_new(const char **errstr_out)
{
	struct ntlm_exchange *x;

	if ((x = calloc(1, sizeof(*x))) == NULL) {
		*errstr_out = "out of memory";
		return NULL;
	}
	if (getrandom(x->challenge, sizeof(x->challenge), 0) !=
	    (ssize_t)sizeof(x->challenge)) {
		*errstr_out = "getrandom failed";
		free(x);
		return NULL;
	}
	if ((x->crypto = ntlm_crypto_load(errstr_out)) == NULL) {
		free(x);
		return NULL;
	}
	return x;
}

void
ntlm_exchange_free(struct ntlm_exchange *x)
{
	if (x == NULL)
		return;
	ntlm_crypto_free(x->crypto);
	explicit_bzero(x, sizeof(*x));
	free(x);
}

int
ntlm_exchange_negotiate(struct ntlm_exchange *x, const uint8_t *msg,
    size_t len, const char *hostname, time_t now, const char **errstr_out)
{
	uint32_t flags;

	if (ntlm_parse_negotiate(msg, len, &flags, errstr_out) == -1)
		return -1;
	if (len > sizeof(x->t.negotiate)) {
		*errstr_out = "NEGOTIATE longer than 1024 octets";
		return -1;
	}
	memcpy(x->t.negotiate, msg, len);
	x->t.negotiate_len = len;
	x->t.challenge_len = ntlm_build_challenge(x->t.challenge,
	    sizeof(x->t.challenge), flags, x->challenge, hostname,
	    ntlm_filetime(now));
	if (x->t.challenge_len == 0) {
		*errstr_out = "cannot build the CHALLENGE";
		return -1;
	}
	return 0;
}

int
ntlm_nt_hash(const char *pw, size_t len, uint8_t out[NTLM_HASH_LEN],
    const char **errstr_out)
{
	uint8_t u16[2 * MAX_PASSWORD];
	struct ntlm_crypto *c;
	OSSL_PROVIDER *legacy;
	EVP_MD *md = NULL;
	unsigned int n = 0;
	ssize_t ulen;
	int rv = -1;

	if (len > MAX_PASSWORD ||
	    (ulen = utf8_to_utf16((const uint8_t *)pw, len, u16,
	    sizeof(u16))) == -1) {
		*errstr_out = "the password is not valid UTF-8 of at most "
		    "1024 octets";
		return -1;
	}
	if ((c = ntlm_crypto_load(errstr_out)) == NULL) {
		explicit_bzero(u16, sizeof(u16));
		return -1;
	}
	/* OpenSSL 3 keeps MD4 in the legacy provider. */
	if ((legacy = c->OSSL_PROVIDER_load(NULL, "legacy")) == NULL ||
	    (md = c->EVP_MD_fetch(NULL, "MD4", NULL)) == NULL)
		*errstr_out = "MD4 needs OpenSSL's legacy provider, which "
		    "cannot be loaded";
	else if (c->EVP_Digest(u16, (size_t)ulen, out, &n, md, NULL) != 1 ||
	    n != NTLM_HASH_LEN)
		*errstr_out = "MD4 failed";
	else
		rv = 0;
	c->EVP_MD_free(md);
	if (legacy != NULL)
		(void)c->OSSL_PROVIDER_unload(legacy);
	explicit_bzero(u16, sizeof(u16));
	ntlm_crypto_free(c);
	return rv;
}
