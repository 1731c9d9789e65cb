/*
 * tls.h: OpenSSL under the line reader (spec 8).  The session sees only
 * an io_transport; nothing above io.c knows TLS is there.
 */
#ifndef TLS_H
#define TLS_H

#include <stdbool.h>
#include <stddef.h>

#include "io.h"

struct tls;

/*
 * Keeps the names of the certificate chain, the key (PEM) and the ticket
 * key file (NULL: no session tickets) for a server that accepts TLS 1.2
 * and newer.  Loads nothing of OpenSSL: it only checks that both PEM
 * files open and look like PEM.  Returns NULL with a reason in
 * *errstr_out (a configuration error for the caller).  The strings must
 * outlive t.  A reason may be a static buffer overwritten by the next
 * call.
 */
struct tls	*tls_new(const char *cert, const char *key,
		    const char *ticket_file, const char **errstr_out);

/*
 * Loads OpenSSL and makes the server context, reading the ticket keys
 * (creating or rotating the key file; a key file that cannot be used is
 * logged and costs only the tickets).  The PEM files are parsed later,
 * in the first full handshake.  Idempotent.  Returns 0, or -1 with a
 * reason: TLS is then unavailable for this process.
 */
int		 tls_load(struct tls *t, const char **errstr_out);

/*
 * For --check-config: tls_load() without creating or rotating anything,
 * then parses the certificate chain and key and checks that they match;
 * a ticket key file that exists but cannot be used is an error here.
 * Returns 0 or -1 with a reason.
 */
int		 tls_check(struct tls *t, const char **errstr_out);

/*
 * Runs tls_load() and the server handshake on in_fd/out_fd, bounded by
 * timeout seconds in all.  On success returns 0 and fills *tr, which
 * stays valid as long as t; io_set_transport(io, tr) then puts TLS under
 * the buffers.  Returns -1 with a reason in *errstr_out.
 */
int		 tls_accept(struct tls *t, int in_fd, int out_fd,
		    unsigned int timeout, struct io_transport *tr,
		    const char **errstr_out);

/* "TLSv1.3/TLS_AES_256_GCM_SHA384" for the log, after tls_accept(). */
const char	*tls_describe(struct tls *t);

/*
 * SCRAM -PLUS (spec 4.1): the channel binding of the session after
 * tls_accept(): TLS_CB_EXPORTER is RFC 9266's 32 octets, on TLS 1.3 only;
 * TLS_CB_UNIQUE is RFC 5929's first Finished message of the handshake,
 * on TLS 1.2 only.  Fills buf (size octets) and *len_out and returns 0,
 * or -1 when the type does not apply to the negotiated version.
 */
enum tls_cb {
	TLS_CB_EXPORTER,
	TLS_CB_UNIQUE,
};
int		 tls_channel_binding(struct tls *t, enum tls_cb type,
		    unsigned char *buf, size_t size, size_t *len_out);

/* Whether the handshake resumed a session (a ticket), after tls_accept(). */
bool		 tls_resumed(struct tls *t);

/* Sends close_notify (best effort) and frees everything. */
void		 tls_free(struct tls *t);

#endif
