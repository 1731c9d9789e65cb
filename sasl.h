/*
 * sasl.h: SASL exchanges through GNU SASL (spec 4.1): SCRAM-SHA-1,
 * SCRAM-SHA-256 and their -PLUS variants, and the mechanisms built on the
 * same context (GSSAPI).  libgsasl is loaded with dlopen() on the first
 * exchange that needs it, so USER/PASS and PLAIN sessions never map it.
 *
 * One struct sasl is one AUTH exchange.  session-auth.c feeds it the
 * client's base64 lines and sends what it gives back; it never writes
 * replies itself.  It answers GNU SASL's property requests from the
 * passwd entry (through the lookup function the session gives), the
 * per-installation decoy secret in state-dir, and the TLS channel
 * binding.
 */
#ifndef SASL_H
#define SASL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "passwd.h"
#include "pop3.h"

struct config;
struct sasl;
struct tls;

/* spec 4.1: --hash-password's default and the decoy's iteration count. */
#define SASL_SCRAM_ITER		10000
#define SASL_SCRAM_SALT_LEN	16	/* octets; the decoy's by default */

enum sasl_result {
	SASL_CONTINUE,	/* send "+ " and the base64 challenge in out */
	SASL_OK,	/* authenticated; out: base64 final data, "" if none */
	SASL_FAIL,	/* credentials rejected: an authentication failure */
	SASL_MALFORMED,	/* the client's data breaks the mechanism's syntax */
	SASL_TEMPFAIL,	/* a server-side fault, logged: -ERR [SYS/TEMP] */
};

/* What the session gives an exchange; copied by sasl_start(). */
struct sasl_params {
	const struct config	*cfg;
	enum auth_mech		 mech;
	/*
	 * The handler's own TLS when this connection offers a -PLUS
	 * mechanism, else NULL.  The channel binding (tls-exporter on
	 * TLS 1.3, tls-unique on TLS 1.2) comes from it; a non-PLUS
	 * exchange uses it to refuse a client that claims the server
	 * cannot bind (RFC 5802 "y" flag, a downgrade).
	 */
	struct tls		*cb_tls;
	/*
	 * Finds name's line in the passwd file file: 0 with *out filled,
	 * or -1 with errno ENOENT (no such user) or another errno.
	 * auth_lookup() fits.
	 */
	int	(*lookup)(const char *file, const char *name,
		    struct passwd_entry *out);
	/*
	 * The iterations and salt length of the file's first keys for
	 * hash h, for the decoy (false: none; SASL_SCRAM_ITER and
	 * SASL_SCRAM_SALT_LEN then).  auth_scram_shape() fits.
	 */
	bool	(*shape)(const char *file, enum scram_hash h,
		    uint32_t *iter_out, size_t *salt_len_out);
};

/*
 * Begins an exchange for p->mech (a SCRAM or GSSAPI mechanism), loading
 * libgsasl first if this process has not yet.  Returns NULL with a reason
 * in *errstr_out when the library cannot be loaded or the mechanism
 * cannot start: a server-side fault ([SYS/TEMP]).
 */
struct sasl	*sasl_start(const struct sasl_params *p,
		    const char **errstr_out);

/*
 * Runs one step with the client's base64 line b64 ("" for an empty
 * response).  On SASL_CONTINUE and SASL_OK, out (size outsize) holds the
 * NUL-terminated base64 data to send after "+ " (on SASL_OK "" means no
 * final data: log in at once; otherwise send it and log in after the
 * client's empty answer, RFC 5034 section 4).  On SASL_FAIL,
 * SASL_MALFORMED and SASL_TEMPFAIL *why_out is a reason for the log,
 * never a secret, and the exchange is over.  SCRAM fails at the proof for
 * an unknown user, a user without keys for this hash, a locked account and
 * an authorisation identity that differs from the authentication identity,
 * exactly as for a wrong password.
 */
enum sasl_result sasl_step(struct sasl *x, const char *b64, char *out,
		    size_t outsize, const char **why_out);

/*
 * The authentication identity the client gave, once a step has parsed it
 * (else NULL).  Valid until sasl_end().
 */
const char	*sasl_user(const struct sasl *x);

/*
 * After SASL_OK: the verified user's passwd entry, valid until
 * sasl_end().  NULL before.
 */
const struct passwd_entry *sasl_entry(const struct sasl *x);

/* Ends the exchange and clears its secrets.  NULL is a no-op. */
void		 sasl_end(struct sasl *x);

/*
 * spec 4.1 "{SCRAM-SHA-*} hash field": recomputes the keys of k from the
 * password pw[0..len) (SASLprep, then PBKDF2 with k's salt and
 * iterations) and compares StoredKey in constant time.  Always runs the
 * full derivation.  A password holding a NUL, or one SASLprep refuses,
 * never matches.  When libgsasl cannot be loaded, false, logged.
 */
bool		 sasl_scram_verify(const struct scram_keys *k,
		    enum scram_hash h, const char *pw, size_t len);

/*
 * --hash-password --scheme=scram-sha-256|scram-sha-1: a random salt of
 * SASL_SCRAM_SALT_LEN octets, iter iterations (at least
 * AUTH_MIN_SCRAM_ITER), written as Dovecot's
 * "{SCRAM-SHA-256}iter,salt,StoredKey,ServerKey" (base64) into out.
 * Returns 0, or -1 with a reason in *errstr_out.
 */
int		 sasl_hash_password(enum scram_hash h, uint32_t iter,
		    const char *pw, char *out, size_t outsize,
		    const char **errstr_out);

#endif
