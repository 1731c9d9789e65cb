/*
 * session-int.h: what the parts of the session (session.c, session-auth.c,
 * session-login.c, session-mail.c, readahead.c) share, private to them.
 */
#ifndef SESSION_INT_H
#define SESSION_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "io.h"
#include "policy.h"
#include "pop3.h"

struct config;
struct mech;
struct ntlm_exchange;
struct passwd_entry;
struct readahead;
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

/* One session from greeting to exit (style 3.2). */
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

enum cmd_result {
	CMD_DONE,	/* replied; keep going */
	CMD_BAD,	/* replied -ERR; counted toward the bad-command limit */
	CMD_CLOSE,	/* replied; end the session (exit status in s->exit) */
};

/*
 * The command handlers of the two tables in session.c (style 3.3): args
 * is the rest of the line, trimmed (PASS: not at the end, V0011).
 */
enum cmd_result	cmd_user(struct session *, char *args);	/* session-auth.c */
enum cmd_result	cmd_pass(struct session *, char *args);
enum cmd_result	cmd_auth(struct session *, char *args);
enum cmd_result	cmd_stat(struct session *, char *args);	/* session-mail.c */
enum cmd_result	cmd_list(struct session *, char *args);
enum cmd_result	cmd_retr(struct session *, char *args);
enum cmd_result	cmd_dele(struct session *, char *args);
enum cmd_result	cmd_noop(struct session *, char *args);
enum cmd_result	cmd_rset(struct session *, char *args);
enum cmd_result	cmd_top(struct session *, char *args);
enum cmd_result	cmd_uidl(struct session *, char *args);
enum cmd_result	cmd_quit_trans(struct session *, char *args);

/* session.c: replies and the session's end. */

/*
 * Queues one reply line with CRLF.  C0001: a line over 512 octets is a
 * bug; it is logged and replaced by a fixed error.
 */
void	session_reply(struct session *, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
/* spec 2: a bad command's reply; the 20th is replaced by a close. */
enum cmd_result	session_bad(struct session *, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
/* Ends the session with status st; the loop exits after this command. */
enum cmd_result	session_close(struct session *, int st);
/*
 * spec 9: why a session that never logged in ended; the first reason
 * given wins (the words of the event=aborted line).
 */
void	session_set_end(struct session *, const char *reason);
/*
 * Splits args (already trimmed) on blank runs into at most max words.
 * Returns the word count, or max + 1 when there are more.
 */
int	session_split_args(char *args, char **argv, int max);
/*
 * Appends c to buf[*o..size) for a log entry, as itself or \xNN (',',
 * '=', '\\', blanks and controls), keeping room for a NUL; false when it
 * does not fit.
 */
bool	session_escape_put(char *buf, size_t size, size_t *o,
	    unsigned char c);
/* spec 1: where a password may travel; the reply where it may not. */
bool	session_plaintext_allowed(const struct session *);
enum cmd_result	session_refuse_plaintext(struct session *);

/* session-auth.c: the exchanges that carry credentials. */

/* A line that answers a "+ " challenge; "*" cancels (RFC 5034). */
enum cmd_result	session_auth_continue(struct session *, char *line);
/* CAPA's SASL line: the mechanisms usable here and now (spec 4.1). */
void	session_capa_sasl(struct session *);
/* Ends the exchange under way, if any (the session's end). */
void	session_auth_end(struct session *);

/* session-login.c: what every exchange ends in. */

/*
 * Checks a name and password (USER/PASS, PLAIN, LOGIN), then logs in or
 * fails; an invalid or unknown name costs the same crypt time as a known
 * one (spec 4), with the penalty of spec 4 around it.
 */
enum cmd_result	session_try_login(struct session *, const char *name,
		    size_t name_len, bool valid, const char *pw,
		    size_t pw_len);
/*
 * Enters TRANSACTION for a verified user (spec 4, 4.2, 4.3): the only
 * AUTHORIZATION -> TRANSACTION path.
 */
enum cmd_result	session_login(struct session *, const struct passwd_entry *);
/* spec 4: a failed check: delay, answer, close after max-auth-failures. */
enum cmd_result	session_auth_failed(struct session *, const char *why);
/* spec 9: the passwd file could not be read: [SYS/TEMP], not a failure. */
enum cmd_result	session_auth_fault(struct session *);
/* spec 4: the penalty wait before a check, the outcome after it. */
void	session_penalty_wait(struct session *);
void	session_penalty_done(struct session *, bool failed);
/* spec 9: one credential check, and the name it gave, for the log. */
void	session_count_attempt(struct session *);
void	session_note_attempt(struct session *, const char *name, size_t len);
/* spec 4.2: allow_nets of the entry found (NULL: nothing to refuse). */
bool	session_net_allowed(const struct passwd_entry *, const char *peer);

/* session-mail.c: the entries of a session ended in TRANSACTION. */

/* spec 5, 9: the log entry of a session ended without QUIT. */
void	session_log_unfinished(const struct session *);

#endif
