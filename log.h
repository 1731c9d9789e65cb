/*
 * log.h: logging to the journal, syslog or stderr (spec 9).  Never writes
 * to fd 1 or fd 2 unless the backend is LOGTO_STDERR.
 *
 * log.c keeps the only mutable file-scope state outside main(): the backend
 * and the session's user, peer and TLS description for structured fields.
 */
#ifndef LOG_H
#define LOG_H

#include "pop3.h"

enum log_event {
	EVENT_LOGIN,
	EVENT_LOGIN_FAILED,
	EVENT_LOGOUT,
	EVENT_AUTOLOGOUT,
	EVENT_ERROR,
	EVENT_ABORTED,		/* spec 9: the session ended before login */
};

/* Chooses the backend; LOGTO_AUTO probes the journal socket. */
void	log_init(enum log_backend);
void	log_set_debug(bool);
/* Context fields for later entries; NULL clears.  Strings are copied. */
void	log_set_user(const char *);
void	log_set_peer(const char *);
void	log_set_tls(const char *);
/* spec 4.1: the mechanism of the AUTH under way ("plain"); NULL clears. */
void	log_set_mech(const char *);

void	log_warn(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_warnx(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_info(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_debug(const char *, ...) __attribute__((format(printf, 1, 2)));
/* Logs and exits with EXIT_CONFIG; for start-up errors only. */
void	fatal(const char *, ...)
	    __attribute__((format(printf, 1, 2), noreturn));
void	fatalx(const char *, ...)
	    __attribute__((format(printf, 1, 2), noreturn));
/* A structured entry with POP3_EVENT and the context fields. */
void	log_event(enum log_event, const char *, ...)
	    __attribute__((format(printf, 2, 3)));

#endif
