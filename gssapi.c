/*
 * gssapi.c: the Kerberos side of the GSSAPI mechanism (RFC 4752, spec
 * 4.1).  GNU SASL runs the mechanism over MIT Kerberos (sasl.c); this file
 * sets up what Kerberos reads from the process environment and decides
 * which passwd line an authenticated principal is.
 *
 * The environment, once per process and before the first Kerberos call:
 * - KRB5_KTNAME=FILE:<gssapi-keytab>.  The whole exchange, keytab reads
 *   included, happens before login, so with the identity the handler
 *   started with (root under pop3-root.conf, else the unit's user): no
 *   Kerberos call follows the privilege drop.  The file is opened here
 *   once so that a keytab the process cannot read is a clear server
 *   fault in the log, not an obscure GSS-API error.
 * - KRB5RCACHEDIR=<gssapi-rcache-dir, else state-dir/rcache>, created
 *   (mode 0700) if missing, and KRB5RCACHENAME=dfl: so that a
 *   default_rcache_name in krb5.conf cannot move it.  MIT's default
 *   replay cache is one file per effective uid in that directory, shared
 *   by every session; the default /var/tmp is private per session under
 *   the units' PrivateTmp=yes, which would defeat replay detection.
 *
 * The default realm (gssapi-realms unset) is asked of libkrb5 with
 * dlopen(RTLD_NOLOAD): the mechanism has loaded it by then, and a session
 * that never starts GSSAPI never maps it.
 *
 * It trusts the configuration; the principal comes from a verified
 * Kerberos ticket but is still checked like a client's name.
 */
#include <sys/stat.h>

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gssapi.h"
#include "log.h"
#include "passwd.h"
#include "pop3.h"
#include "util.h"

#define KRB5_SONAME	"libkrb5.so.3"
#define MAX_REALM	255

#if defined(__SANITIZE_ADDRESS__)
/*
 * Sanitizer builds (build/san/) only: libgssglue, the GSS-API dispatcher
 * libgsasl links, drops 16 octets MIT's libgssapi_krb5 allocates for it,
 * once per exchange.  A leak in those libraries, not here; compiled in
 * rather than a suppressions file, which LeakSanitizer would read at exit,
 * inside the Landlock sandbox.  The stack often ends in libgssapi_krb5
 * (built without frame pointers), so that is matched too.
 */
const char	*__lsan_default_suppressions(void);

const char *
__lsan_default_suppressions(void)
{
	return "leak:libgssglue.so\nleak:libgssapi_krb5.so\n";
}
#endif

int
gssapi_prepare(const struct config *cfg, const char **errstr_out)
{
	char kt[PATH_MAX + sizeof("FILE:")], dir[PATH_MAX];
	struct stat st;
	int fd, n;

	if (cfg->gssapi_keytab == NULL)
		return *errstr_out = "gssapi-keytab is not set", -1;
	if ((fd = open(cfg->gssapi_keytab, O_RDONLY | O_CLOEXEC |
	    O_NOCTTY | O_NONBLOCK)) == -1)
		return *errstr_out = "cannot open gssapi-keytab", -1;
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		(void)close(fd);
		return *errstr_out = "gssapi-keytab is not a regular file", -1;
	}
	(void)close(fd);
	n = snprintf(kt, sizeof(kt), "FILE:%s", cfg->gssapi_keytab);
	if (n < 0 || (size_t)n >= sizeof(kt))
		return *errstr_out = "gssapi-keytab: path too long", -1;

	if (cfg->gssapi_rcache_dir != NULL)
		n = snprintf(dir, sizeof(dir), "%s", cfg->gssapi_rcache_dir);
	else
		n = snprintf(dir, sizeof(dir), "%s/rcache", cfg->state_dir);
	if (n < 0 || (size_t)n >= sizeof(dir))
		return *errstr_out = "replay cache directory: path too long",
		    -1;
	if (mkdir(dir, 0700) == -1 && errno != EEXIST)
		return *errstr_out = "cannot create the replay cache "
		    "directory", -1;
	if (lstat(dir, &st) == -1 || !S_ISDIR(st.st_mode))
		return *errstr_out = "the replay cache path is not a "
		    "directory", -1;
	if (access(dir, W_OK | X_OK) == -1)
		return *errstr_out = "the replay cache directory is not "
		    "writable", -1;

	if (setenv("KRB5_KTNAME", kt, 1) == -1 ||
	    setenv("KRB5RCACHEDIR", dir, 1) == -1 ||
	    setenv("KRB5RCACHENAME", "dfl:", 1) == -1 ||
	    unsetenv("KRB5RCACHETYPE") == -1)
		return *errstr_out = "cannot set the Kerberos environment", -1;
	return 0;
}

/* Is realm[0..len) one of the space-separated words of list? */
static bool
realm_listed(const char *list, const char *realm, size_t len)
{
	const char *p = list, *w;

	for (;;) {
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p == '\0')
			return false;
		w = p;
		while (*p != '\0' && *p != ' ' && *p != '\t')
			p++;
		if ((size_t)(p - w) == len && memcmp(w, realm, len) == 0)
			return true;
	}
}

int
gssapi_map_with(const char *realms, const char *principal,
    const char *authzid, char *name, size_t namesize, const char **why_out)
{
	const char *at, *realm;
	size_t plen, ulen;

	plen = strnlen(principal, GSSAPI_MAX_PRINCIPAL + 1);
	if (plen > GSSAPI_MAX_PRINCIPAL)
		return *why_out = "principal too long", -1;
	/*
	 * gss_display_name() escapes a '@', '/' or '\' inside a component
	 * with '\': any backslash means a name this mapping refuses.
	 */
	if (memchr(principal, '\\', plen) != NULL ||
	    (at = memchr(principal, '@', plen)) == NULL)
		return *why_out = "principal not of the form user@REALM", -1;
	realm = at + 1;
	ulen = (size_t)(at - principal);
	if (ulen == 0 || *realm == '\0' || strchr(realm, '@') != NULL)
		return *why_out = "principal not of the form user@REALM", -1;
	if (memchr(principal, '/', ulen) != NULL)
		return *why_out = "principal has more than one component", -1;
	if (!realm_listed(realms, realm, strlen(realm)))
		return *why_out = "realm not in gssapi-realms", -1;
	if (ulen >= namesize || !auth_valid_username(principal, ulen))
		return *why_out = "principal is no valid user name", -1;
	memcpy(name, principal, ulen);
	name[ulen] = '\0';
	if (authzid != NULL && authzid[0] != '\0' && strcmp(authzid, name)) {
		name[0] = '\0';
		return *why_out = "authorization identity differs", -1;
	}
	return 0;
}

/* krb5.conf's default realm, from the libkrb5 GSSAPI has loaded. */
static int
default_realm(char *out, size_t size)
{
	typedef int32_t	(*init_fn)(void **);
	typedef int32_t	(*get_fn)(void *, char **);
	typedef void	(*free_realm_fn)(void *, char *);
	typedef void	(*free_ctx_fn)(void *);
	init_fn init;
	get_fn get;
	free_realm_fn free_realm;
	free_ctx_fn free_ctx;
	void *lib, *ctx = NULL;
	char *r = NULL;
	int rv = -1;

	if ((lib = dlopen(KRB5_SONAME, RTLD_LAZY | RTLD_NOLOAD)) == NULL)
		return -1;
	init = (init_fn)dlsym(lib, "krb5_init_context");
	get = (get_fn)dlsym(lib, "krb5_get_default_realm");
	free_realm = (free_realm_fn)dlsym(lib, "krb5_free_default_realm");
	free_ctx = (free_ctx_fn)dlsym(lib, "krb5_free_context");
	if (init != NULL && get != NULL && free_realm != NULL &&
	    free_ctx != NULL && init(&ctx) == 0) {
		if (get(ctx, &r) == 0 && r != NULL) {
			if (strlcpy_(out, r, size) < size)
				rv = 0;
			free_realm(ctx, r);
		}
		free_ctx(ctx);
	}
	(void)dlclose(lib);
	return rv;
}

int
gssapi_map(const char *realms, const char *principal, const char *authzid,
    char *name, size_t namesize, const char **why_out)
{
	char def[MAX_REALM + 1];

	if (realms == NULL) {
		if (default_realm(def, sizeof(def)) == -1)
			return *why_out = "no default realm in krb5.conf", -1;
		realms = def;
	}
	log_debug("GSSAPI realms: %s", realms);
	return gssapi_map_with(realms, principal, authzid, name, namesize,
	    why_out);
}
