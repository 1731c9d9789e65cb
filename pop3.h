/*
 * pop3.h: limits, exit statuses and the read-only configuration shared by
 * every module.  Each limit cites the SPEC clause that sets it.
 */
#ifndef POP3_H
#define POP3_H

#include <stdbool.h>
#include <stdint.h>

#define POP3_VERSION		"0.1.0"

#define MAX_REPLY		512	/* C0001: one reply line incl. CRLF */
#define MIN_COMMAND_LENGTH	255	/* 2.1.2: max-command-length range */
#define MAX_COMMAND_LENGTH	8192	/* E0006, E0007 */
#define MAX_BAD_COMMANDS	20	/* SPEC 2: then -ERR and close */
#define MAX_USERNAME		255	/* SPEC 4: longer never looked up */
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
	const char		*penalty_file;	/* NULL: off (issue 5) */
	const char		*tls_ticket_key_file;	/* NULL: no tickets */
	char			*owned[32];	/* strdup()ed values */
	unsigned int		 nowned;
};

#endif
