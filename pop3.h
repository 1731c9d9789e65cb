/*
 * pop3.h: limits, exit statuses and the read-only configuration shared by
 * every module.  Each limit cites the spec section or clause that sets it.
 */
#ifndef POP3_H
#define POP3_H

#include <stdbool.h>
#include <stdint.h>

#define POP3_VERSION		"0.1.0"

#define MAX_REPLY		512	/* C0001: one reply line incl. CRLF */
#define MIN_COMMAND_LENGTH	255	/* 2.1.2: max-command-length range */
#define MAX_COMMAND_LENGTH	8192	/* E0006, E0007 */
/*
 * RFC 5034: a line answering an AUTH challenge, CRLF included.  A Kerberos
 * ticket from Active Directory carries the user's groups (the PAC); its
 * token may reach Windows' MaxTokenSize of 48000 octets, 64000 in base64.
 */
#define MAX_AUTH_LINE		65536
#define MAX_BAD_COMMANDS	20	/* spec 2: then -ERR and close */
#define MAX_USERNAME		255	/* spec 4: longer never looked up */
#define MAX_PASSWORD		1024	/* longer never verified */

enum exit_status {
	EXIT_QUIT = 0,		/* QUIT answered */
	EXIT_ERROR = 1,		/* error close or lost connection */
	EXIT_CONFIG = 2,	/* configuration error */
	EXIT_AUTOLOGOUT = 3,	/* idle timeout (V0002) */
};

enum plaintext_auth {
	PLAINTEXT_TLS,		/* TLS, secured, or a loopback peer */
	PLAINTEXT_NEVER,	/* TLS or secured only */
	PLAINTEXT_ALWAYS,
};

enum uidl_mode {
	UIDL_COUNTER,		/* C0007-C0009: state-file integers */
	UIDL_FILENAME,		/* Maildir unique base name */
};

enum log_backend {
	LOGTO_AUTO,		/* journal when its socket exists, else syslog */
	LOGTO_JOURNAL,
	LOGTO_SYSLOG,
	LOGTO_STDERR,
};

/*
 * SASL mechanisms (spec 4.1).  cfg->auth_mechs is a set of MECH_BIT()s:
 * what may be offered; session-auth.c decides what is usable on a
 * connection.
 */
enum auth_mech {
	MECH_PLAIN,
	MECH_LOGIN,
	MECH_SCRAM_SHA_1,
	MECH_SCRAM_SHA_1_PLUS,
	MECH_SCRAM_SHA_256,
	MECH_SCRAM_SHA_256_PLUS,
	MECH_GSSAPI,
	MECH_NTLM,
	MECH_COUNT
};
#define MECH_BIT(m)	(1u << (m))

#define EXPIRE_NEVER	UINT32_MAX	/* RFC 2449 6.7: EXPIRE NEVER */
#define MAX_EXPIRE_DAYS	36500
#define MAX_LOGIN_DELAY	(31u * 86400u)	/* seconds */

/* Filled once before the first byte is read; never written afterwards. */
struct config {
	const char		*passwd_file;
	const char		*maildir;	/* template: %u %h %% */
	unsigned int		 timeout_unauth;
	unsigned int		 timeout_auth;
	unsigned int		 max_command_length;
	enum plaintext_auth	 plaintext_auth;
	const char		*tls_cert;
	const char		*tls_key;
	bool			 implicit_tls;
	bool			 secured;
	enum uidl_mode		 uidl;
	unsigned int		 uidl_import;	/* enum uidmap_import */
	const char		*hostname;
	unsigned int		 auth_fail_delay;
	unsigned int		 max_auth_failures;
	bool			 proxy_protocol;
	enum log_backend	 log;
	const char		*penalty_file;	/* NULL: off (spec 4) */
	unsigned int		 auth_mechs;	/* MECH_BIT()s, spec 4.1 */
	const char		*gssapi_keytab;	/* NULL: no GSSAPI */
	const char		*gssapi_realms;	/* NULL: krb5 default realm */
	const char		*gssapi_rcache_dir; /* NULL: state-dir/rcache */
	const char		*state_dir;	/* per-installation secrets */
	uint32_t		 login_delay;	/* seconds; 0: off (spec 4.3) */
	uint32_t		 expire_days;	/* EXPIRE_NEVER: off */
	bool			 log_retrievals; /* UIDLs in logout (spec 9) */
	const char		*tls_ticket_key_file;	/* NULL: no tickets */
	char			*owned[48];	/* strdup()ed values */
	unsigned int		 nowned;
};

#endif
