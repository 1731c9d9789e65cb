/*
 * auth.h: reading the passwd file, password verification, SASL PLAIN
 * decoding and the privilege drop (spec 4).  The line parsers are in
 * passwd.h.  Nothing here writes protocol replies.
 */
#ifndef AUTH_H
#define AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "passwd.h"
#include "pop3.h"

/*
 * Reads the passwd file fresh and finds the first entry for name.  Returns
 * 0 and fills *out; -1 with errno ENOENT when there is no such user, or
 * another errno when the file cannot be read (a server fault, spec 9:
 * logged here as event=error with the file and the real system error; a
 * missing file gives EIO to the caller).  Malformed lines are logged and
 * skipped.
 */
int	auth_lookup(const char *file, const char *name,
	    struct passwd_entry *out);

/*
 * The iteration count and salt length of the first SCRAM keys for hash h
 * in the passwd file (what auth_lookup() has seen, else one more pass
 * over the file), for the decoy exchange of a name without keys (spec
 * 4.1).  Returns false when the file has none (or cannot be read).
 */
bool	auth_scram_shape(const char *file, enum scram_hash h,
	    uint32_t *iter_out, size_t *salt_len_out);

/*
 * Reports every malformed line of the file through log_warnx(); returns
 * the number of bad lines, or -1 when the file cannot be read.
 */
int	auth_check_file(const char *file);

/*
 * Verifies pw[0..len) against e->hash with crypt_r (a {SCRAM-SHA-*} hash
 * field: by recomputing its keys, sasl_scram_verify()), then against each
 * of e's app-password hashes (spec 4.2).  On success *cred_out (if not NULL)
 * is NULL for the account password or the app-password's label.  e ==
 * NULL (unknown user) verifies against a dummy hash of the same cost and
 * returns false: the first usable hash auth_lookup() met in the file,
 * else a $6$ one.  A locked account (empty hash, '!' or '*') and a
 * password holding a NUL never verify.  Takes the same time in every
 * failing case for one user.
 */
bool	auth_verify(const struct passwd_entry *e, const char *pw, size_t len,
	    const char **cred_out);

/*
 * Decodes an RFC 4616 PLAIN message from base64 b64 (NUL-terminated) into
 * buf (size bufsize; cleared by the caller with explicit_bzero).  On
 * success returns 0 and points *authcid_out and *passwd_out into buf with
 * their lengths; the authzid must be empty or equal to the authcid.
 * Returns -1 with a reason in *errstr_out otherwise; the reason is
 * auth_err_authzid (that pointer) when the message is well formed but the
 * authzid differs, which the caller treats as an authentication failure:
 * then *authcid_out (at buf, NUL-terminated) and its length are set and
 * the rest of buf is cleared; after any other failure all of buf is.
 */
extern const char auth_err_authzid[];	/* "authorization identity differs" */
int	auth_sasl_plain(const char *b64, char *buf, size_t bufsize,
	    const char **authcid_out, size_t *authcid_len_out,
	    const char **passwd_out, size_t *passwd_len_out,
	    const char **errstr_out);

/*
 * spec 4: when running as root, drops to the entry's uid/gid (refusing
 * uid 0), then verifies root cannot be regained.  When not root, or when
 * the entry has no uid/gid, keeps the identity.  Returns 0, or -1 with a
 * reason in *errstr_out; the caller must then close the session.
 */
int	auth_become_user(const struct passwd_entry *e, const char **errstr_out);

/*
 * Hashes a password with yescrypt ($y$); returns 0 and a NUL-terminated
 * hash in out, or -1.
 */
int	auth_hash_password(const char *pw, char *out, size_t outsize);

#endif
