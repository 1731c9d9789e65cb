/*
 * gssapi.h: what the GSSAPI mechanism (RFC 4752, spec 4.1) needs around
 * GNU SASL and MIT Kerberos: the process environment Kerberos reads (the
 * keytab, the shared replay cache) and the mapping of a client principal
 * to a passwd line.  sasl.c runs the exchange itself.
 */
#ifndef GSSAPI_H
#define GSSAPI_H

#include <stddef.h>

struct config;

/* spec 4.1: the service principal is pop/<hostname>. */
#define GSSAPI_SERVICE		"pop"

/* Longest client principal looked at; longer ones are refused. */
#define GSSAPI_MAX_PRINCIPAL	1024

/*
 * Prepares this process for its first Kerberos call: KRB5_KTNAME names
 * gssapi-keytab (checked to be a readable regular file now, before the
 * privilege drop), the replay cache directory (gssapi-rcache-dir, else
 * <state-dir>/rcache) is created if missing and named by KRB5RCACHEDIR,
 * and KRB5RCACHENAME=dfl: makes it win over a krb5.conf
 * default_rcache_name.  Idempotent.  Returns 0, or -1 with a reason in
 * *errstr_out (a server-side fault: the exchange must not start).
 */
int	gssapi_prepare(const struct config *cfg, const char **errstr_out);

/*
 * spec 4.1: principal "user@REALM" (as gss_display_name() gives it)
 * with REALM in realms (space-separated; NULL: the realm of krb5.conf's
 * default, asked of the loaded Kerberos library) maps to user, written
 * to name (size namesize).  authzid must be NULL, empty or equal to
 * user.  A principal with more than one component, an escaped character
 * or an empty part never maps.  Returns 0, or -1 with a reason for the
 * log in *why_out (never a secret).
 */
int	gssapi_map(const char *realms, const char *principal,
	    const char *authzid, char *name, size_t namesize,
	    const char **why_out);

/*
 * The pure part of gssapi_map(): the same rules with the realm list
 * given (realms must not be NULL).  For the fuzz and unit tests.
 */
int	gssapi_map_with(const char *realms, const char *principal,
	    const char *authzid, char *name, size_t namesize,
	    const char **why_out);

#endif
