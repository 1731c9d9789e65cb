/*
 * ntlm.h: NTLM (MS-NLMP) for AUTH NTLM, framed per MS-OXPOP3 (spec 4.1).
 * The message parsers and the CHALLENGE builder are pure: bytes in, a
 * struct or bytes out, no allocation, no I/O.  The verification and the
 * NT hash use OpenSSL's libcrypto, loaded with dlopen() only when an NTLM
 * exchange starts (ntlm_crypto_load()).  Nothing here writes replies.
 */
#ifndef NTLM_H
#define NTLM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "pop3.h"

#define NTLM_CHALLENGE_LEN	8	/* ServerChallenge (MS-NLMP 2.2.1.2) */
#define NTLM_HASH_LEN		16	/* NT hash, HMAC-MD5 output */
/* A message arrives base64 in one command line (E0006): 3/4 of it. */
#define NTLM_MAX_MESSAGE	(MAX_COMMAND_LENGTH / 4 * 3)
/* C0001: "+ " base64 CRLF fits 512 octets: 508 base64 = 381 octets. */
#define NTLM_MAX_CHALLENGE	((MAX_REPLY - 4) / 4 * 3)
/* A NEGOTIATE is kept for the MIC; real ones have 32..100 octets. */
#define NTLM_MAX_NEGOTIATE	1024
#define NTLM_MIC_OFFSET		72	/* after the header and Version */
/* NTProofStr, then the blob's 28 fixed octets; NTLMv1 has 24 in all. */
#define NTLM_V2_MIN		(NTLM_HASH_LEN + 28)

/* NegotiateFlags bits this file reads or sets (MS-NLMP 2.2.2.5). */
#define NTLM_NEGOTIATE_UNICODE		0x00000001u
#define NTLM_NEGOTIATE_OEM		0x00000002u
#define NTLM_REQUEST_TARGET		0x00000004u
#define NTLM_NEGOTIATE_NTLM		0x00000200u
#define NTLM_NEGOTIATE_ALWAYS_SIGN	0x00008000u
#define NTLM_TARGET_TYPE_SERVER		0x00020000u
#define NTLM_NEGOTIATE_ESS		0x00080000u
#define NTLM_NEGOTIATE_TARGET_INFO	0x00800000u
#define NTLM_NEGOTIATE_VERSION		0x02000000u
#define NTLM_NEGOTIATE_KEY_EXCH		0x40000000u

/*
 * An AUTHENTICATE message (MS-NLMP 2.2.1.3) as parsed: every pointer
 * points into the caller's message, every length is checked against it.
 * user and domain are UTF-16LE (the parser requires NEGOTIATE_UNICODE).
 */
struct ntlm_authenticate {
	uint32_t	 flags;
	const uint8_t	*lm;
	size_t		 lm_len;
	const uint8_t	*nt;		/* NTLMv2: NTProofStr, then the blob */
	size_t		 nt_len;
	const uint8_t	*domain;
	size_t		 domain_len;
	const uint8_t	*user;
	size_t		 user_len;
	const uint8_t	*workstation;
	size_t		 workstation_len;
	const uint8_t	*msg;		/* the whole message */
	size_t		 msg_len;
	const uint8_t	*mic;		/* NULL: the client sent no MIC */
};

/*
 * Parses a NEGOTIATE message (MS-NLMP 2.2.1.1) of len octets.  Returns 0
 * and the client's NegotiateFlags in *flags_out, or -1 with a reason in
 * *errstr_out.
 */
int	ntlm_parse_negotiate(const uint8_t *msg, size_t len,
	    uint32_t *flags_out, const char **errstr_out);

/*
 * Parses an AUTHENTICATE message of len octets into *out (pointers into
 * msg, valid as long as msg).  A MIC is present when the NTLMv2 blob's
 * MsvAvFlags say so (MS-NLMP 2.2.2.1); it then sits at NTLM_MIC_OFFSET
 * and no field may overlap it.  Returns 0, or -1 with a reason in
 * *errstr_out for a message that is not well formed.  A well-formed
 * message may still carry an NTLMv1 or LM response: ntlm_verify() refuses
 * those like a wrong password.
 */
int	ntlm_parse_authenticate(const uint8_t *msg, size_t len,
	    struct ntlm_authenticate *out, const char **errstr_out);

/*
 * Converts UTF-16LE in[0..len) to UTF-8 in out (size outsize, room for a
 * NUL kept).  An odd length, an unpaired surrogate or no room: -1.  On
 * success returns 0 and the UTF-8 length (a U+0000 gives a NUL byte,
 * counted) in *len_out; out is NUL-terminated after it.
 */
int	ntlm_utf16_to_utf8(const uint8_t *in, size_t len, char *out,
	    size_t outsize, size_t *len_out);

/*
 * Builds the CHALLENGE message (MS-NLMP 2.2.1.2) answering a NEGOTIATE
 * with client_flags: the server challenge, the flags (Unicode, NTLM,
 * target info, and ESS and ALWAYS_SIGN when asked for), a TargetName and
 * the AV pairs MsvAvNbDomainName, MsvAvNbComputerName,
 * MsvAvDnsComputerName (hostname; left out when it does not fit in
 * NTLM_MAX_CHALLENGE), MsvAvTimestamp (filetime) and MsvAvEOL.  The
 * NetBIOS names are hostname's first label, upper-cased, at most 15
 * characters.  Returns the length written to out (outsize at least
 * NTLM_MAX_CHALLENGE), or 0 if outsize is too small.
 */
size_t	ntlm_build_challenge(uint8_t *out, size_t outsize,
	    uint32_t client_flags, const uint8_t challenge[NTLM_CHALLENGE_LEN],
	    const char *hostname, uint64_t filetime);

/* A Windows FILETIME: 100 ns ticks since 1601-01-01 UTC. */
uint64_t ntlm_filetime(time_t t);

/* libcrypto and the C.UTF-8 case map, loaded on demand. */
struct ntlm_crypto;

/* The two messages before the AUTHENTICATE, for the MIC. */
struct ntlm_transcript {
	uint8_t		 negotiate[NTLM_MAX_NEGOTIATE];
	size_t		 negotiate_len;
	uint8_t		 challenge[NTLM_MAX_CHALLENGE];
	size_t		 challenge_len;
};

/*
 * Loads libcrypto and the functions this file needs.  Returns a handle,
 * or NULL with a reason in *errstr_out.  ntlm_crypto_free() unloads.
 */
struct ntlm_crypto *ntlm_crypto_load(const char **errstr_out);
void	ntlm_crypto_free(struct ntlm_crypto *);

/*
 * NTLMv2 verification (MS-NLMP 3.3.2): NTOWFv2 = HMAC-MD5(nt_hash,
 * UTF-16LE(UPPER(user)) + domain), NTProofStr = HMAC-MD5(NTOWFv2,
 * challenge + blob), compared in constant time with the first 16 octets
 * of the NT response.  UPPER maps each UTF-16 unit of the BMP by the
 * simple Unicode mapping (C.UTF-8's towupper(), as Windows does; ASCII
 * only if that locale is missing); the domain is taken as the client
 * sent it.  nt_hash NULL (no such user, or no ntlm= item) does the
 * same work against a dummy key and returns false.  An NT response that
 * is not NTLMv2 (24 octets: NTLMv1 or NTLM2 session response; empty: LM
 * only; shorter than an NTLMv2 blob) is refused after the same work.
 * When a->mic is set, the MIC must equal HMAC-MD5(SessionBaseKey,
 * NEGOTIATE + CHALLENGE + AUTHENTICATE with the MIC zeroed) from t
 * (MS-NLMP 3.2.5.1.2; no key exchange is offered, so the exported key is
 * the SessionBaseKey); with t NULL a MIC never verifies.
 */
bool	ntlm_verify(const struct ntlm_crypto *,
	    const uint8_t nt_hash[NTLM_HASH_LEN],
	    const struct ntlm_authenticate *a,
	    const uint8_t challenge[NTLM_CHALLENGE_LEN],
	    const struct ntlm_transcript *t);

/*
 * One AUTH NTLM exchange: libcrypto, the server challenge and the
 * messages so far.  The session keeps it from AUTH NTLM to the end of
 * the exchange.
 */
struct ntlm_exchange {
	struct ntlm_crypto	*crypto;
	uint8_t			 challenge[NTLM_CHALLENGE_LEN];
	struct ntlm_transcript	 t;	/* t.challenge: the CHALLENGE sent */
};

/*
 * Starts an exchange: loads libcrypto and draws the server challenge
 * from getrandom().  Returns NULL with a reason in *errstr_out (a
 * server-side fault).  ntlm_exchange_free() ends it; NULL is a no-op.
 */
struct ntlm_exchange *ntlm_exchange_new(const char **errstr_out);
void	ntlm_exchange_free(struct ntlm_exchange *);

/*
 * Takes the client's NEGOTIATE (kept for the MIC) and builds the
 * CHALLENGE into x->t.challenge for hostname at time now.  Returns 0, or
 * -1 with a reason in *errstr_out when the NEGOTIATE is malformed.
 */
int	ntlm_exchange_negotiate(struct ntlm_exchange *x, const uint8_t *msg,
	    size_t len, const char *hostname, time_t now,
	    const char **errstr_out);

/*
 * The NT hash of a password for --hash-password --scheme=ntlm: MD4 of
 * its UTF-16LE form (the password must be valid UTF-8).  MD4 lives in
 * OpenSSL 3's legacy provider, loaded here and only here.  Returns 0 and
 * the hash in out, or -1 with a reason in *errstr_out.
 */
int	ntlm_nt_hash(const char *pw, size_t len, uint8_t out[NTLM_HASH_LEN],
	    const char **errstr_out);

#endif
