/*
 * penalty.h: brute-force slowdown across connections without a daemon
 * (spec 4).  Failed password checks are counted per peer address in a
 * small flock()-protected file (setting penalty-file); the next attempt
 * from that peer waits auth-fail-delay * 2^(failures - 1) seconds, at most
 * PENALTY_MAX_DELAY, before its password is checked.  A success clears the
 * peer's record; a record with no failure for PENALTY_EXPIRY is forgotten.
 *
 * Only IP peers are counted.  "local" peers (pipes, socketpairs: stunnel's
 * exec mode) and loopback addresses (a local proxy) would put every client
 * behind one record, so that one attacker could slow down all users; they
 * are never penalised.  IPv6 peers count per /64, the usual size of one
 * customer's network.
 */
#ifndef PENALTY_H
#define PENALTY_H

#include <stdbool.h>
#include <stdint.h>

#define PENALTY_MAX_DELAY	30		/* seconds, the cap */
#define PENALTY_EXPIRY		(15 * 60)	/* seconds without a failure */
#define PENALTY_SLOTS		1024		/* records in the file */
#define PENALTY_PROBES		8		/* slots searched per peer */
#define PENALTY_MAX_COUNT	1000		/* failures stored, at most */

/* The record key: an IPv6 address, IPv4 as ::ffff:a.b.c.d. */
struct penalty_key {
	uint8_t	addr[16];
};

/*
 * Pure: turns a printable peer (from getpeername() or a PROXY header)
 * into a key.  Returns false, and leaves *out alone, for a peer that is
 * never penalised: NULL, "local", "unknown", unparsable, or loopback.
 */
bool	penalty_key(const char *peer, struct penalty_key *out);

/*
 * Pure: the wait before the next password check after `failures` recent
 * failures: 0 for none, else base * 2^(failures - 1), at most
 * PENALTY_MAX_DELAY.
 */
unsigned int	penalty_delay(unsigned int base, uint32_t failures);

/*
 * Before a password check from peer: reads the peer's record in file
 * (NULL: the feature is off) and stores the seconds to wait in *wait_out
 * (0 when the peer is not penalised or has no recent failure).  Returns 0,
 * or -1 when the file cannot be used; then *wait_out is 0 and, if warn is
 * set, the reason has been logged as a warning.  Never blocks for long:
 * the lock is tried for about a second.
 */
int	penalty_check(const char *file, const char *peer, unsigned int base,
	    bool warn, unsigned int *wait_out);

/*
 * After the password check: failed adds one failure to the peer's record
 * (stamped now), !failed removes the record.  Returns 0, or -1 when the
 * file cannot be used (logged as a warning if warn is set).
 */
int	penalty_note(const char *file, const char *peer, bool failed,
	    bool warn);

/*
 * Creates the directory of file (mode 0700, the last component only)
 * when it is missing.  Returns 0 when it exists afterwards, or -1.
 */
int	penalty_mkdir(const char *file);

#endif
