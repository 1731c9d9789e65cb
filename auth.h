/*
 * auth.h: the passwd file, password verification, SASL PLAIN decoding and
 * the privilege drop (SPEC 4).  Nothing here writes protocol replies.
 */
#ifndef AUTH_H
#define AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "pop3.h"

#define AUTH_MAX_HASH	512
#define AUTH_MAX_HOME	4096

/* One line of the passwd file: user:hash:uid:gid:gecos:home:extra */
struct passwd_entry {
	char	name[MAX_USERNAME + 1];
	char	hash[AUTH_MAX_HASH];	/* {SCHEME} prefix stripped */
	bool	has_uid;		/* false: keep the process's identity */
	bool	has_gid;
	uid_t	uid;
	gid_t	gid;
	char	home[AUTH_MAX_HOME];
};

/*
 * SPEC 4: a name may reach the passwd file or a path only if it is 1..255
 * octets, has no '/', no control byte (NUL included), and does not start
 * with '.'.  len is the real length; a NUL inside makes it invalid.
 */
bool	auth_valid_username(const char *name, size_t len);

/*
 * Pure parser for one passwd-file line (without its newline).  Returns 1
 * for a user entry stored in *out, 0 for a blank or comment line, -1 for a
 * malformed line with the reason in *errstr_out.
 */
int	auth_parse_line(const char *line, size_t len, struct passwd_entry *out,
	    const char **errstr_out);

/*
 * Reads the passwd file fresh and finds the first entry for name.  Returns
 * 0 and fills *out; -1 with errno ENOENT when there is no such user, or
 * another errno when the file cannot be read.  Malformed lines are logged
 * and skipped.
 */
int	auth_lookup(const char *file, const char *name,
	    struct passwd_entry *out);

/*
 * Reports every malformed line of the file through log_warnx(); returns
 * the number of bad lines, or -1 when the file cannot be read.
 */
int	auth_check_file(const char *file);

/*
 * Verifies pw[0..len) against e->hash with crypt_r.  e == NULL (unknown
 * user) verifies against a dummy hash of the same cost and returns false:
 * the first usable hash auth_lookup() met in the file, else a $6$ one.
 * A locked account (empty hash, '!' or '*') and a password holding a NUL
 * never verify.  Takes the same time in every failing case.
 */
bool	auth_verify(const struct passwd_entry *e, const char *pw, size_t len);

/*
 * Decodes an RFC 4616 PLAIN message from base64 b64 (NUL-terminated) into
 * buf (size bufsize; cleared by the caller with explicit_bzero).  On
 * success returns 0 and points *authcid_out and *passwd_out into buf with
 * their lengths; the authzid must be empty or equal to the authcid.
 * Returns -1 with a reason in *errstr_out otherwise; the reason is
 * auth_err_authzid (that pointer) when the message is well formed but the
 * authzid differs, which the caller treats as an authentication failure.
 */
extern const char auth_err_authzid[];	/* "authorization identity differs" */
int	auth_sasl_plain(const char *b64, char *buf, size_t bufsize,
	    const char **authcid_out, size_t *authcid_len_out,
	    const char **passwd_out, size_t *passwd_len_out,
	    const char **errstr_out);

/*
 * SPEC 4: when running as root, drops to the entry's uid/gid (refusing
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
