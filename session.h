/*
 * session.h: one POP3 session from greeting to exit (spec 2, 3, 4, 7).
 */
#ifndef SESSION_H
#define SESSION_H

#include <stdbool.h>
#include <stdint.h>

#include "io.h"
#include "policy.h"
#include "pop3.h"

struct mech;
struct ntlm_exchange;
struct sasl;
struct snapshot;
struct tls;

enum pop3_state {
	STATE_AUTHORIZATION,
	STATE_TRANSACTION,
};

/* Counters for the logout journal entry (spec 9). */
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
	bool			 user_valid;	/* spec 4 name checks passed */
	const struct mech	*auth_pending;	/* AUTH awaits "+ " data */
	unsigned int		 auth_step;	/* lines taken by this AUTH */
	const struct mech	*auth_mech;	/* the AUTH under way */
	struct sasl		*sasl;		/* its GNU SASL exchange */
	bool			 sasl_final;	/* final data sent, "" due */
	bool			 auth_pen;	/* penalty file usable */
	bool			 auth_warn;	/* report a penalty fault */
	bool			 loopback;	/* peer is local (spec 1) */
	const char		*peer;		/* after PROXY; NULL: unknown */
	bool			 tls_active;
	bool			 closing;
	int			 exit;		/* enum exit_status */
	unsigned int		 bad_commands;	/* spec 2: 20 closes */
	unsigned int		 auth_failures;	/* spec 4: max-auth-failures */
	struct session_stats	 stats;
	struct readahead	*ra;		/* NULL until a RETR in order */
	size_t			 ra_next;	/* the message to read ahead */
	size_t			 last_retr;	/* index + 1; 0: none yet */
	struct ntlm_exchange	*ntlm;		/* during AUTH NTLM only */
	struct policy		 pol;		/* spec 4.3, set at login */
	/* spec 9: the event=aborted line of a session ended before login. */
	const char		*end_reason;	/* NULL: not decided yet */
	unsigned int		 auth_attempts;
	bool			 plaintext_refused;
	bool			 tried_more;	/* names left out of tried */
	char			 tried[192];	/* escaped, comma-separated */
	unsigned char		*retrieved;	/* log-retrievals: per msg */
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
