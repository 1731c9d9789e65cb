/*
 * passwd.h: the passwd file's lines (spec 4, 4.2), parsed by pure
 * functions: Dovecot's eight fields
 *
 *	user:password:uid:gid:gecos:home:shell:extra_fields
 *
 * and the extra fields' space-separated "key" / "key=value" items.  The
 * reading of the file and the verification of secrets live in auth.c.
 */
#ifndef PASSWD_H
#define PASSWD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "pop3.h"

#define AUTH_MAX_HASH		512
#define AUTH_MAX_HOME		4096
#define AUTH_MAX_REASON		256	/* nologin reason text */
#define AUTH_MAX_NETS		16	/* allow_nets entries */
#define AUTH_MAX_APP		8	/* app-password items */
#define AUTH_MAX_LABEL		64	/* app-password label */
#define AUTH_SCRAM_MAX_SALT	128	/* decoded salt octets */
#define AUTH_SCRAM_MAX_KEY	32	/* SHA-256 */
#define AUTH_MIN_SCRAM_ITER	4096	/* RFC 7677 */
#define AUTH_MAX_SCRAM_ITER	10000000

enum scram_hash {
	SCRAM_SHA_1,		/* keys of 20 octets */
	SCRAM_SHA_256,		/* keys of 32 octets */
	SCRAM_NHASH
};

/* iter,salt,StoredKey,ServerKey as Dovecot and gsasl write them. */
struct scram_keys {
	bool		set;
	uint32_t	iter;
	size_t		salt_len;
	unsigned char	salt[AUTH_SCRAM_MAX_SALT];
	size_t		key_len;	/* 20 or 32 */
	unsigned char	stored[AUTH_SCRAM_MAX_KEY];
	unsigned char	server[AUTH_SCRAM_MAX_KEY];
};

/* One allow_nets entry: family AF_INET (4 octets) or AF_INET6 (16). */
struct net_prefix {
	int		family;
	unsigned int	bits;
	unsigned char	addr[16];
};

struct app_password {
	char		label[AUTH_MAX_LABEL];
	char		hash[AUTH_MAX_HASH];	/* {SCHEME} stripped */
};

/* One line of the passwd file. */
struct passwd_entry {
	char	name[MAX_USERNAME + 1];
	/*
	 * The crypt hash ({SCHEME} prefix stripped); empty, '!' or '*' first:
	 * locked.  A {SCRAM-SHA-*} hash field leaves it empty and sets
	 * pw_scram to the scram[] entry it filled (-1 otherwise).
	 */
	char	hash[AUTH_MAX_HASH];
	int	pw_scram;
	bool	has_uid;		/* false: keep the process's identity */
	bool	has_gid;
	uid_t	uid;
	gid_t	gid;
	char	home[AUTH_MAX_HOME];

	/* spec 4.2: the extra fields this project knows. */
	bool			nologin;
	char			reason[AUTH_MAX_REASON]; /* '_' as ' ' */
	unsigned int		nnets;		/* 0: from anywhere */
	struct net_prefix	nets[AUTH_MAX_NETS];
	unsigned int		napp;
	struct app_password	app[AUTH_MAX_APP];
	struct scram_keys	scram[SCRAM_NHASH];
	bool			has_ntlm;
	unsigned char		ntlm[16];	/* NT hash */
	bool			has_login_delay;
	uint32_t		login_delay;	/* seconds */
	bool			has_expire;
	uint32_t		expire_days;	/* EXPIRE_NEVER: never */
};

/*
 * spec 4: a name may reach the passwd file or a path only if it is 1..255
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
 * Pure parser for the extra fields s[0..len) (spec 4.2) into e.  Unknown
 * keys are ignored whatever their value; a known key with a bad value, an
 * empty key or too many items of one kind: -1 with a reason.
 */
int	auth_parse_extra(const char *s, size_t len, struct passwd_entry *e,
	    const char **errstr_out);

/*
 * Parses "iter,salt,StoredKey,ServerKey" (base64 salt and keys) for the
 * given hash into *k.  Returns 0, or -1 with a reason.
 */
int	auth_parse_scram(const char *s, size_t len, enum scram_hash h,
	    struct scram_keys *k, const char **errstr_out);

/* An empty hash field, or one that starts with '!' or '*', is locked. */
static inline bool
auth_hash_locked(const char *hash)
{
	return hash[0] == '\0' || hash[0] == '!' || hash[0] == '*';
}

/* True if the crypt hash is usable by crypt_r() (not locked, not junk). */
bool	auth_usable_hash(const char *hash, size_t len);

/*
 * Parses one "addr[/bits]" (IPv4 or IPv6) into *p; returns 0 or -1.  An
 * IPv4-mapped IPv6 address is kept as IPv4.
 */
int	auth_parse_net(const char *s, size_t len, struct net_prefix *p);

/*
 * True if the address (a printable IPv4 or IPv6 address, as the session
 * logs it) lies in one of e's allow_nets, or e has none.  NULL or an
 * unparsable peer matches only when e has no allow_nets.
 */
bool	auth_net_allowed(const struct passwd_entry *e, const char *peer);

#endif
