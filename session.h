/*
 * session.h: one POP3 session from greeting to exit (spec 2, 3, 4, 7).
 * struct session and the parts of the session are private
 * (session-int.h).
 */
#ifndef SESSION_H
#define SESSION_H

#include <stdbool.h>

struct config;
struct io;
struct tls;

/*
 * Serves one session on io: sends the greeting and serves commands until
 * the session ends.  loopback tells whether the peer is local for the
 * plaintext rule; peer is its address for the log (NULL: unknown).  tls
 * is the loaded context (NULL: STLS not offered); tls_active says
 * whether implicit TLS already runs under io.  Returns the exit status
 * (enum exit_status).
 */
int	session_serve(const struct config *, struct io *, bool loopback,
	    const char *peer, struct tls *tls, bool tls_active);

#endif
