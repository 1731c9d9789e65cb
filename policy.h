/*
 * policy.h: the per-user policy of spec 4.3 that needs the UID state
 * file: LOGIN-DELAY (the last successful login, "@login") and EXPIRE (the
 * first retrieval of each message, "@retr"); uidmap.h describes the
 * records.  The LOGIN-DELAY gate itself is storage's (uidmap_login_gate(),
 * run by maildir_open() with the values chosen here).  nologin and
 * allow_nets (spec 4.2) need no state: session-login.c checks them from
 * the passwd entry.  Nothing here writes protocol replies.
 */
#ifndef POLICY_H
#define POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pop3.h"

struct config;
struct passwd_entry;
struct snapshot;

#define POLICY_DAY	86400u

/* One session's policy: the user's values and what it retrieved. */
struct policy {
	uint32_t	 login_delay;	/* seconds; 0: not enforced */
	uint32_t	 expire_days;	/* EXPIRE_NEVER: off */
	bool		 user_delay;	/* differs from the setting */
	bool		 user_expire;
	uint64_t	*retr;		/* per message: first retrieval in
					   this session (Unix s), 0: none;
					   NULL until one (or when off) */
	size_t		 nretr;
};

/*
 * The user's values: the passwd entry's login-delay= and expire= where
 * present, else the settings (spec 4.3).
 */
void	policy_init(struct policy *, const struct config *,
	    const struct passwd_entry *);

/* Frees what the session allocated; p is empty afterwards. */
void	policy_free(struct policy *);

/*
 * RETR, or TOP of the whole body, of message i (0-based) of a snapshot of
 * count messages at time now: kept when EXPIRE is on.  A failure to
 * allocate is logged and the retrieval not counted (nothing expires
 * sooner for it).
 */
void	policy_note_retr(struct policy *, size_t count, size_t i,
	    uint64_t now);

/*
 * True when a message first retrieved at retr (0: never) is expired at
 * now under EXPIRE days: days 0, any retrieval; otherwise more than days
 * days ago.  EXPIRE_NEVER: never.
 */
bool	policy_expired(uint64_t retr, uint32_t days, uint64_t now);

/*
 * spec 4.3 EXPIRE, at QUIT before update_apply(): under the lock, stores
 * this session's first retrievals in the records that have none, and
 * marks deleted every message of the snapshot whose first retrieval (the
 * file's, else this session's) is expired at now.  When the lock or the
 * file cannot be had, the file is read without the lock and nothing is
 * stored (logged).  Stores the number newly marked in *expired_out.
 */
void	policy_expire(struct policy *, struct snapshot *, uint64_t now,
	    unsigned int *expired_out);

#endif
