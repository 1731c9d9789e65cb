/*
 * session.h: one POP3 session from greeting to exit (SPEC 2, 3, 4, 7).
 */
#ifndef SESSION_H
#define SESSION_H

#include <stdbool.h>
#include <stdint.h>

#include "io.h"
#include "pop3.h"

struct mech;
struct ntlm_exchange;
struct snapshot;
struct tls;

enum pop3_state {
	STATE_AUTHORIZATION,
	STATE_TRANSACTION,
};

/* Counters for the logout journal entry (SPEC 9). */
struct session_stats {
	unsigned int	 retr;
	uint64_t	 retr_octets;
	unsigned int	 top;
	unsigned int	 dele;
};

struct session {
	enum pop3_state		 state;
	const struct config	*cfg;
	struct io		*io;
	struct snapshot		*snap;		/* NULL until login */
	struct tls		*tls;		/* NULL: no TLS configured */
	struct io_transport	 tr;		/* TLS under io after STLS */
	char			 user[MAX_USERNAME + 1];
	size_t			 user_len;
	bool			 have_user;	/* USER given, PASS may follow */
	bool			 user_valid;	/* SPEC 4 name checks passed */
	const struct mech	*auth_pending;	/* AUTH awaits "+ " data */
	unsigned int		 auth_step;	/* lines taken by this AUTH */
	bool			 auth_pen;	/* penalty file usable */
	bool			 auth_warn;	/* report a penalty fault */
	bool			 loopback;	/* peer is local (SPEC 1) */
	const char		*peer;		/* after PROXY; NULL: unknown */
	bool			 tls_active;
	bool			 closing;
	int			 exit;		/* enum exit_status */
	unsigned int		 bad_commands;	/* SPEC 2: 20 closes */
	unsigned int		 auth_failures;	/* SPEC 4: max-auth-failures */
	struct session_stats	 stats;
	struct readahead	*ra;		/* NULL until a RETR in order */
	size_t			 ra_next;	/* the message to read ahead */
	size_t			 last_retr;	/* index + 1; 0: none yet */
	struct ntlm_exchange	*ntlm;		/* during AUTH NTLM only */
};

/*
 * Sets up a session on io; loopback tells whether the peer is local for
 * the plaintext rule.  tls is the loaded context (NULL: STLS not offered);
 * tls_active says whether implicit TLS already runs under io.  Does not
 * send anything.
 */
void	session_init(struct session *, const struct config *, struct io *,
	    bool loopback, struct tls *tls, bool tls_active);

/*
 * Sends the greeting and serves commands until the session ends.  Returns
 * the exit status (enum exit_status).
 */
int	session_run(struct session *);

#endif
