/*
 * sasl.c: SASL exchanges through GNU SASL (spec 4.1).  SCRAM-SHA-1 and
 * SCRAM-SHA-256 (RFC 5802, RFC 7677) with their -PLUS variants; the
 * library does the mechanism, this file answers its property requests.
 *
 * It runs before authentication and trusts nothing the client sends:
 * GNU SASL parses the SCRAM messages, and the name it hands back passes
 * auth_valid_username() before any lookup.  Keys come from the passwd
 * entry, never from a cleartext password.  A name without keys for the
 * hash (unknown, invalid, or a user with none) gets a decoy: the salt is
 * derived from the name with a per-installation secret kept in state-dir,
 * the iteration count and salt length are those of the passwd file's first
 * keys for the hash (SASL_SCRAM_ITER and SASL_SCRAM_SALT_LEN in a file with
 * none) and the keys are random, so the
 * server-first message has the form of a real one, is the same for the
 * same name in every session, and the exchange fails at the proof like a
 * wrong password.  GNU SASL would invent a fresh salt per session, which
 * tells an observer the name does not exist: when the secret cannot be
 * had, the exchange fails as a server fault instead.
 *
 * libgsasl is loaded with dlopen() on first use (tls.c does the same with
 * OpenSSL), so sessions that never use SCRAM do not map it and the four
 * libraries it needs.  One deliberate exception to style 3.2: the loaded
 * library and its context are file-scope state, created once per process.
 *
 * Nothing here writes protocol replies; session.c does.
 */
/* GNU: renameat2(), RENAME_NOREPLACE; typeof. */
#define _GNU_SOURCE
#include <sys/random.h>
#include <sys/stat.h>

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <gsasl.h>

#include "config.h"
#include "gssapi.h"
#include "log.h"
#include "sasl.h"
#include "tls.h"
#include "util.h"

#ifndef GSASL_SONAME
#define GSASL_SONAME		"libgsasl.so.18"
#endif

#define SECRET_FILE		"scram-decoy-secret"
#define SECRET_LEN		32
#define MAX_STEPS		8	/* SCRAM needs 2, GSSAPI a few more */
#define CB_MAX			64	/* channel binding octets */

/* Every libgsasl function this file calls. */
#define GSASL_FUNCS(X)							\
	X(gsasl_init) X(gsasl_done) X(gsasl_callback_set)		\
	X(gsasl_server_start) X(gsasl_step64) X(gsasl_finish)		\
	X(gsasl_session_hook_set) X(gsasl_session_hook_get)		\
	X(gsasl_property_set) X(gsasl_property_fast) X(gsasl_free)	\
	X(gsasl_scram_secrets_from_password) X(gsasl_strerror)

#define GSASL_PTR(f)	__typeof__(&f) f;
struct gsasl_lib {
	void	*lib;
	Gsasl	*ctx;
	GSASL_FUNCS(GSASL_PTR)
};

/* Loaded by lib_load() on first use; never unloaded. */
static struct gsasl_lib gl;

struct sasl {
	struct sasl_params	 p;
	Gsasl_session		*gs;
	enum scram_hash		 hash;
	unsigned int		 steps;
	bool			 done;		/* a final result was given */
	bool			 fault;		/* property callback failed */
	const char		*fault_why;
	bool			 keys_ready;	/* k holds real or decoy keys */
	bool			 have_user;
	bool			 found;		/* e holds the user's line */
	bool			 decoy;
	bool			 verified;	/* SASL_OK given */
	const char		*gss_why;	/* GSSAPI: why it was refused */
	char			 user[MAX_USERNAME + 1];
	struct scram_keys	 k;
	struct passwd_entry	 e;
};

static int	lib_load(const char **errstr);
static int	callback(Gsasl *, Gsasl_session *, Gsasl_property);

static int
lib_load(const char **errstr)
{
	int rc;

	if (gl.ctx != NULL)
		return 0;
	if (gl.lib == NULL &&
	    (gl.lib = dlopen(GSASL_SONAME, RTLD_NOW | RTLD_LOCAL)) == NULL) {
		*errstr = "cannot load " GSASL_SONAME;
		return -1;
	}
#define GSASL_SYM(f)							\
	if ((gl.f = (__typeof__(&f))dlsym(gl.lib, #f)) == NULL) {	\
		*errstr = GSASL_SONAME " lacks " #f;			\
		return -1;						\
	}
	GSASL_FUNCS(GSASL_SYM)
#undef GSASL_SYM
	if ((rc = gl.gsasl_init(&gl.ctx)) != GSASL_OK) {
		gl.ctx = NULL;
		*errstr = "gsasl_init failed";
		return -1;
	}
	gl.gsasl_callback_set(gl.ctx, callback);
	return 0;
}

static Gsasl_hash
gsasl_hash_of(enum scram_hash h)
{
	return h == SCRAM_SHA_1 ? GSASL_HASH_SHA1 : GSASL_HASH_SHA256;
}

static size_t
key_len(enum scram_hash h)
{
	return h == SCRAM_SHA_1 ? GSASL_HASH_SHA1_SIZE : GSASL_HASH_SHA256_SIZE;
}

/* Reads exactly SECRET_LEN octets from an owner-only regular file. */
static int
secret_read(int dfd, unsigned char *out, const char **why)
{
	struct stat st;
	ssize_t n;
	int fd;

	if ((fd = openat(dfd, SECRET_FILE, O_RDONLY | O_NOFOLLOW |
	    O_CLOEXEC | O_NONBLOCK)) == -1) {
		*why = "cannot open the decoy secret";
		return -1;
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode) ||
	    st.st_size != SECRET_LEN || (st.st_mode & 077) != 0) {
		*why = "the decoy secret is not a 32-octet owner-only file";
		return close_keep_errno(fd, -1);
	}
	n = read(fd, out, SECRET_LEN);
	(void)close(fd);
	if (n != SECRET_LEN) {
		*why = "cannot read the decoy secret";
		return -1;
	}
	return 0;
}

/*
 * Creates the secret once per installation: a 0600 temporary file, then
 * a rename that never replaces (a hard link where the file system lacks
 * RENAME_NOREPLACE), so two first sessions agree on one.
 */
static int
secret_create(int dfd, const char **why)
{
	unsigned char buf[SECRET_LEN];
	uint32_t tag;
	char tmp[64];
	int fd, r, rv = -1;

	if (getrandom(buf, sizeof(buf), 0) != (ssize_t)sizeof(buf) ||
	    getrandom(&tag, sizeof(tag), 0) != (ssize_t)sizeof(tag)) {
		*why = "getrandom failed";
		return -1;
	}
	(void)snprintf(tmp, sizeof(tmp), SECRET_FILE ".%ld.%08x",
	    (long)getpid(), (unsigned int)tag);
	if ((fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
	    O_CLOEXEC, 0600)) == -1) {
		*why = "cannot create the decoy secret";
		goto out;
	}
	if (write(fd, buf, sizeof(buf)) != (ssize_t)sizeof(buf) ||
	    fsync(fd) == -1) {
		(void)close(fd);
		*why = "cannot write the decoy secret";
		goto unlink;
	}
	(void)close(fd);
	r = renameat2(dfd, tmp, dfd, SECRET_FILE, RENAME_NOREPLACE);
	if (r == -1 && (errno == EINVAL || errno == ENOSYS))
		r = linkat(dfd, tmp, dfd, SECRET_FILE, 0);
	if (r == -1 && errno != EEXIST) {
		*why = "cannot rename the decoy secret into place";
		goto unlink;
	}
	rv = 0;
unlink:
	(void)unlinkat(dfd, tmp, 0);	/* gone after a rename */
out:
	explicit_bzero(buf, sizeof(buf));
	return rv;
}

/* The per-installation secret in state-dir, created on first use. */
static int
secret_load(const char *dir, unsigned char *out, const char **why)
{
	int dfd, rv;

	if ((dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1) {
		*why = "cannot open state-dir for the decoy secret";
		return -1;
	}
	if ((rv = secret_read(dfd, out, why)) == -1 && errno == ENOENT &&
	    (rv = secret_create(dfd, why)) == 0)
		rv = secret_read(dfd, out, why);
	(void)close(dfd);
	return rv;
}

/*
 * The decoy: the salt's first 32 octets are PBKDF2-HMAC-SHA-256(hex(secret),
 * name, 1), that is HMAC(hex(secret), name || INT(1)); each further 32 (a
 * file whose salts are longer) the same with the octet 1, 2 or 3 before
 * the name; cut to the length.  Random keys that no proof matches.
 */
static int
decoy_keys(struct sasl *x, const unsigned char *secret, const char **why)
{
	char hex[2 * SECRET_LEN + 1], salted[GSASL_HASH_MAX_SIZE];
	char ck[GSASL_HASH_MAX_SIZE], sk[GSASL_HASH_MAX_SIZE];
	char st[GSASL_HASH_MAX_SIZE], in[MAX_USERNAME + 2];
	uint32_t iter = SASL_SCRAM_ITER;
	size_t i, off, n, salt_len = SASL_SCRAM_SALT_LEN, ulen;
	int rc = GSASL_OK;

	if (x->p.shape != NULL && x->p.shape(x->p.cfg->passwd_file, x->hash,
	    &iter, &salt_len) && (salt_len == 0 ||
	    salt_len > AUTH_SCRAM_MAX_SALT)) {
		iter = SASL_SCRAM_ITER;
		salt_len = SASL_SCRAM_SALT_LEN;
	}
	memset(&x->k, 0, sizeof(x->k));
	for (i = 0; i < SECRET_LEN; i++)
		(void)snprintf(hex + 2 * i, 3, "%02x", secret[i]);
	ulen = strlen(x->user);
	memcpy(in + 1, x->user, ulen);
	for (off = 0; off < salt_len && rc == GSASL_OK; off += n) {
		in[0] = (char)(off / 32);
		rc = gl.gsasl_scram_secrets_from_password(GSASL_HASH_SHA256,
		    hex, 1, off == 0 ? in + 1 : in, ulen + (off != 0),
		    salted, ck, sk, st);
		n = salt_len - off < 32 ? salt_len - off : 32;
		memcpy(x->k.salt + off, salted, n);
	}
	explicit_bzero(hex, sizeof(hex));
	explicit_bzero(ck, sizeof(ck));
	explicit_bzero(sk, sizeof(sk));
	explicit_bzero(st, sizeof(st));
	explicit_bzero(salted, sizeof(salted));
	if (rc != GSASL_OK) {
		*why = "cannot derive the decoy salt";
		return -1;
	}
	x->k.set = true;
	x->k.iter = iter;
	x->k.salt_len = salt_len;
	x->k.key_len = key_len(x->hash);
	if (getrandom(x->k.stored, x->k.key_len, 0) != (ssize_t)x->k.key_len ||
	    getrandom(x->k.server, x->k.key_len, 0) != (ssize_t)x->k.key_len) {
		*why = "getrandom failed";
		return -1;
	}
	x->decoy = true;
	return 0;
}

/*
 * Picks the keys once the client-first message named the user: the
 * entry's keys for this hash, else a decoy.  The secret is read for every
 * name alike, so a missing one fails every exchange, not only decoys.
 */
static int
prepare_keys(struct sasl *x, const char **why)
{
	unsigned char secret[SECRET_LEN];
	const char *name;
	size_t len;
	int rv;

	name = gl.gsasl_property_fast(x->gs, GSASL_AUTHID);
	if (name == NULL) {
		*why = "no authentication identity";
		return -1;
	}
	len = strlen(name);
	(void)strlcpy_(x->user, name, sizeof(x->user));
	x->have_user = true;
	log_set_user(x->user);
	if (secret_load(x->p.cfg->state_dir, secret, why) == -1) {
		explicit_bzero(secret, sizeof(secret));
		return -1;
	}
	if (len <= MAX_USERNAME && auth_valid_username(name, len)) {
		if (x->p.lookup(x->p.cfg->passwd_file, x->user, &x->e) == 0)
			x->found = true;
		else if (errno != ENOENT)
			log_warn("cannot read %s", x->p.cfg->passwd_file);
	}
	if (x->found && x->e.scram[x->hash].set &&
	    x->e.scram[x->hash].key_len == key_len(x->hash)) {
		x->k = x->e.scram[x->hash];
		rv = 0;
	} else
		rv = decoy_keys(x, secret, why);
	explicit_bzero(secret, sizeof(secret));
	if (rv == 0)
		x->keys_ready = true;
	return rv;
}

static int
set_b64(struct sasl *x, Gsasl_property prop, const unsigned char *v,
    size_t len)
{
	char b64[(CB_MAX + AUTH_SCRAM_MAX_SALT + 2) / 3 * 4 + 1];
	int rc;

	if (b64_encode(v, len, b64, sizeof(b64)) == 0)
		return GSASL_MALLOC_ERROR;
	rc = gl.gsasl_property_set(x->gs, prop, b64);
	explicit_bzero(b64, sizeof(b64));
	return rc;
}

static int
scram_property(struct sasl *x, Gsasl_property prop)
{
	char iter[16];
	const char *why;

	if (x->fault)
		return GSASL_NO_CALLBACK;
	if (!x->keys_ready && prepare_keys(x, &why) == -1) {
		x->fault = true;
		x->fault_why = why;
		return GSASL_NO_CALLBACK;
	}
	switch (prop) {
	case GSASL_SCRAM_ITER:
		(void)snprintf(iter, sizeof(iter), "%u",
		    (unsigned int)x->k.iter);
		return gl.gsasl_property_set(x->gs, prop, iter);
	case GSASL_SCRAM_SALT:
		return set_b64(x, prop, x->k.salt, x->k.salt_len);
	case GSASL_SCRAM_STOREDKEY:
		return set_b64(x, prop, x->k.stored, x->k.key_len);
	default:
		return set_b64(x, prop, x->k.server, x->k.key_len);
	}
}

/* RFC 9266 / RFC 5929 data for the -PLUS mechanisms, when offered. */
static int
cb_property(struct sasl *x, Gsasl_property prop)
{
	unsigned char cb[CB_MAX];
	size_t len;
	int rc;

	if (x->p.cb_tls == NULL || tls_channel_binding(x->p.cb_tls,
	    prop == GSASL_CB_TLS_EXPORTER ? TLS_CB_EXPORTER : TLS_CB_UNIQUE,
	    cb, sizeof(cb), &len) == -1)
		return GSASL_NO_CALLBACK;
	rc = set_b64(x, prop, cb, len);
	explicit_bzero(cb, sizeof(cb));
	return rc;
}

/*
 * spec 4.1 GSSAPI: Kerberos verified the ticket; the principal user@REALM
 * (REALM in gssapi-realms) is the passwd line user, which must exist and
 * not be locked (a {SCRAM-*} hash field is not locked); an authorisation
 * identity must be empty or user.
 */
static int
gssapi_validate(struct sasl *x)
{
	const char *principal, *authzid;
	char name[MAX_USERNAME + 1];

	principal = gl.gsasl_property_fast(x->gs, GSASL_GSSAPI_DISPLAY_NAME);
	authzid = gl.gsasl_property_fast(x->gs, GSASL_AUTHZID);
	if (principal == NULL) {
		x->gss_why = "no client principal";
		return GSASL_AUTHENTICATION_ERROR;
	}
	log_info("GSSAPI principal %s", principal);
	if (gssapi_map(x->p.cfg->gssapi_realms, principal, authzid, name,
	    sizeof(name), &x->gss_why) == -1)
		return GSASL_AUTHENTICATION_ERROR;
	(void)strlcpy_(x->user, name, sizeof(x->user));
	x->have_user = true;
	log_set_user(x->user);
	if (x->p.lookup(x->p.cfg->passwd_file, x->user, &x->e) == 0)
		x->found = true;
	else {
		if (errno != ENOENT)
			log_warn("cannot read %s", x->p.cfg->passwd_file);
		x->gss_why = "unknown user";
		return GSASL_AUTHENTICATION_ERROR;
	}
	if (auth_hash_locked(x->e.hash) && x->e.pw_scram < 0) {
		x->gss_why = "locked account";
		return GSASL_AUTHENTICATION_ERROR;
	}
	x->verified = true;
	return GSASL_OK;
}

/* GNU SASL asks; the session's data answers. */
static int
callback(Gsasl *ctx, Gsasl_session *gs, Gsasl_property prop)
{
	struct sasl *x;

	(void)ctx;
	if (gs == NULL || (x = gl.gsasl_session_hook_get(gs)) == NULL)
		return GSASL_NO_CALLBACK;
	switch (prop) {
	case GSASL_SCRAM_ITER:
	case GSASL_SCRAM_SALT:
	case GSASL_SCRAM_STOREDKEY:
	case GSASL_SCRAM_SERVERKEY:
		return scram_property(x, prop);
	case GSASL_CB_TLS_EXPORTER:
	case GSASL_CB_TLS_UNIQUE:
		return cb_property(x, prop);
	case GSASL_VALIDATE_GSSAPI:
		return gssapi_validate(x);
	default:
		return GSASL_NO_CALLBACK;
	}
}

static const char *
mech_name(enum auth_mech m, enum scram_hash *h)
{
	switch (m) {
	case MECH_SCRAM_SHA_1:
		*h = SCRAM_SHA_1;
		return "SCRAM-SHA-1";
	case MECH_SCRAM_SHA_1_PLUS:
		*h = SCRAM_SHA_1;
		return "SCRAM-SHA-1-PLUS";
	case MECH_SCRAM_SHA_256:
		*h = SCRAM_SHA_256;
		return "SCRAM-SHA-256";
	case MECH_SCRAM_SHA_256_PLUS:
		*h = SCRAM_SHA_256;
		return "SCRAM-SHA-256-PLUS";
	case MECH_GSSAPI:
		return "GSSAPI";
	default:
		return NULL;
	}
}

struct sasl *
sasl_start(const struct sasl_params *p, const char **errstr_out)
{
	struct sasl *x;
	const char *name;
	enum scram_hash h = SCRAM_SHA_256;

	if ((name = mech_name(p->mech, &h)) == NULL) {
		*errstr_out = "mechanism not built";
		return NULL;
	}
	/* Before the first Kerberos call (gssapi.c). */
	if (p->mech == MECH_GSSAPI && gssapi_prepare(p->cfg, errstr_out) == -1)
		return NULL;
	if (lib_load(errstr_out) == -1)
		return NULL;
	if ((x = calloc(1, sizeof(*x))) == NULL) {
		*errstr_out = "out of memory";
		return NULL;
	}
	x->p = *p;
	x->hash = h;
	if (gl.gsasl_server_start(gl.ctx, name, &x->gs) != GSASL_OK) {
		free(x);
		*errstr_out = "GNU SASL cannot start the mechanism";
		return NULL;
	}
	gl.gsasl_session_hook_set(x->gs, x);
	/* spec 4.1: the service principal pop/<hostname>. */
	if (p->mech == MECH_GSSAPI &&
	    (gl.gsasl_property_set(x->gs, GSASL_SERVICE, GSSAPI_SERVICE) !=
	    GSASL_OK || gl.gsasl_property_set(x->gs, GSASL_HOSTNAME,
	    p->cfg->hostname) != GSASL_OK)) {
		sasl_end(x);
		*errstr_out = "out of memory";
		return NULL;
	}
	return x;
}

/* After the library's OK: the checks of spec 4 it cannot make. */
static enum sasl_result
scram_verdict(struct sasl *x, const char **why_out)
{
	const char *authzid;

	authzid = gl.gsasl_property_fast(x->gs, GSASL_AUTHZID);
	if (x->decoy || !x->found) {
		/* Random keys cannot verify; refuse even so. */
		*why_out = "no SCRAM keys";
		return SASL_FAIL;
	}
	if (authzid != NULL && authzid[0] != '\0' &&
	    strcmp(authzid, x->user) != 0) {
		*why_out = "authorization identity differs";
		return SASL_FAIL;
	}
	if (auth_hash_locked(x->e.hash) && x->e.pw_scram < 0) {
		*why_out = "locked account";
		return SASL_FAIL;
	}
	x->verified = true;
	return SASL_OK;
}

/* GSSAPI's failures: the client's (a refused ticket) or the server's. */
static enum sasl_result
gssapi_fail_reason(struct sasl *x, int rc, const char **why_out)
{
	switch (rc) {
	case GSASL_AUTHENTICATION_ERROR:
		*why_out = x->gss_why != NULL ? x->gss_why :
		    "security layer message refused";
		return SASL_FAIL;
	case GSASL_GSSAPI_ACCEPT_SEC_CONTEXT_ERROR:
		*why_out = "Kerberos ticket refused (bad, expired, replayed, "
		    "or not for pop/hostname)";
		return SASL_FAIL;
	case GSASL_GSSAPI_UNWRAP_ERROR:
	case GSASL_GSSAPI_UNSUPPORTED_PROTECTION_ERROR:
		*why_out = "security layer message refused";
		return SASL_FAIL;
	case GSASL_BASE64_ERROR:
	case GSASL_MECHANISM_CALLED_TOO_MANY_TIMES:
		*why_out = "malformed GSSAPI message";
		return SASL_MALFORMED;
	case GSASL_GSSAPI_IMPORT_NAME_ERROR:
	case GSASL_GSSAPI_ACQUIRE_CRED_ERROR:
		*why_out = "no key for pop/hostname in gssapi-keytab";
		return SASL_TEMPFAIL;
	default:
		*why_out = gl.gsasl_strerror(rc);
		return SASL_TEMPFAIL;
	}
}

static enum sasl_result
fail_reason(struct sasl *x, int rc, const char **why_out)
{
	if (x->p.mech == MECH_GSSAPI)
		return gssapi_fail_reason(x, rc, why_out);
	switch (rc) {
	case GSASL_MECHANISM_PARSE_ERROR:
	case GSASL_BASE64_ERROR:
	case GSASL_MECHANISM_CALLED_TOO_MANY_TIMES:
		*why_out = "malformed SCRAM message";
		return SASL_MALFORMED;
	case GSASL_AUTHENTICATION_ERROR:
	case GSASL_NO_CB_TLS_EXPORTER:
	case GSASL_NO_CB_TLS_UNIQUE:
		if (!x->keys_ready)
			*why_out = "client-first refused (channel binding or "
			    "name)";
		else if (!x->found)
			*why_out = "unknown user";
		else if (x->decoy)
			*why_out = "no SCRAM keys";
		else
			*why_out = "bad proof or channel binding";
		return SASL_FAIL;
	default:
		*why_out = gl.gsasl_strerror(rc);
		return SASL_TEMPFAIL;
	}
}

enum sasl_result
sasl_step(struct sasl *x, const char *b64, char *out, size_t outsize,
    const char **why_out)
{
	enum sasl_result r;
	char *o = NULL;
	int rc;

	if (outsize == 0)
		return *why_out = "no room for the reply", SASL_TEMPFAIL;
	out[0] = '\0';
	if (x->done || ++x->steps > MAX_STEPS) {
		x->done = true;
		return *why_out = "too many steps", SASL_MALFORMED;
	}
	rc = gl.gsasl_step64(x->gs, b64, &o);
	if (x->fault) {
		r = SASL_TEMPFAIL;
		*why_out = x->fault_why;
	} else if (rc == GSASL_OK || rc == GSASL_NEEDS_MORE) {
		if (o != NULL && strlen(o) >= outsize) {
			r = SASL_TEMPFAIL;
			*why_out = "challenge too long for a reply line";
		} else {
			(void)strlcpy_(out, o != NULL ? o : "", outsize);
			if (rc != GSASL_OK)
				r = SASL_CONTINUE;
			else if (x->p.mech != MECH_GSSAPI)
				r = scram_verdict(x, why_out);
			else if (x->verified)	/* gssapi_validate() */
				r = SASL_OK;
			else {
				r = SASL_FAIL;
				*why_out = "not validated";
			}
		}
	} else
		r = fail_reason(x, rc, why_out);
	if (o != NULL) {
		explicit_bzero(o, strlen(o));
		gl.gsasl_free(o);
	}
	if (r != SASL_CONTINUE)
		x->done = true;
	if (r != SASL_CONTINUE && r != SASL_OK)
		out[0] = '\0';
	return r;
}

const char *
sasl_user(const struct sasl *x)
{
	return x->have_user ? x->user : NULL;
}

const struct passwd_entry *
sasl_entry(const struct sasl *x)
{
	return x->verified ? &x->e : NULL;
}

void
sasl_end(struct sasl *x)
{
	if (x == NULL)
		return;
	if (x->gs != NULL)
		gl.gsasl_finish(x->gs);
	explicit_bzero(x, sizeof(*x));
	free(x);
}

bool
sasl_scram_verify(const struct scram_keys *k, enum scram_hash h,
    const char *pw, size_t len)
{
	char buf[MAX_PASSWORD + 1], salted[GSASL_HASH_MAX_SIZE];
	char ck[GSASL_HASH_MAX_SIZE], sk[GSASL_HASH_MAX_SIZE];
	char st[GSASL_HASH_MAX_SIZE];
	const char *errstr;
	unsigned char d = 0;
	bool usable = true;
	size_t i;
	int rc;

	if (lib_load(&errstr) == -1) {
		log_warnx("SCRAM verification: %s", errstr);
		return false;
	}
	if (!k->set || k->key_len != key_len(h) || len > MAX_PASSWORD ||
	    memchr(pw, '\0', len) != NULL) {
		usable = false;
		len = 0;
	}
	memcpy(buf, pw, len);
	buf[len] = '\0';
	/* The full derivation whatever the outcome: the same time. */
	rc = gl.gsasl_scram_secrets_from_password(gsasl_hash_of(h), buf,
	    k->iter, (const char *)k->salt, k->salt_len, salted, ck, sk, st);
	for (i = 0; i < key_len(h); i++)
		d |= (unsigned char)st[i] ^ k->stored[i];
	explicit_bzero(buf, sizeof(buf));
	explicit_bzero(salted, sizeof(salted));
	explicit_bzero(ck, sizeof(ck));
	explicit_bzero(sk, sizeof(sk));
	explicit_bzero(st, sizeof(st));
	return usable && rc == GSASL_OK && d == 0;
}

int
sasl_hash_password(enum scram_hash h, uint32_t iter, const char *pw,
    char *out, size_t outsize, const char **errstr_out)
{
	unsigned char salt[SASL_SCRAM_SALT_LEN];
	char salted[GSASL_HASH_MAX_SIZE], ck[GSASL_HASH_MAX_SIZE];
	char sk[GSASL_HASH_MAX_SIZE], st[GSASL_HASH_MAX_SIZE];
	char b64[3][(AUTH_SCRAM_MAX_KEY + 2) / 3 * 4 + 1];
	int rc, n;

	if (iter < AUTH_MIN_SCRAM_ITER || iter > AUTH_MAX_SCRAM_ITER)
		return *errstr_out = "iterations not in 4096..10000000", -1;
	if (strlen(pw) > MAX_PASSWORD)
		return *errstr_out = "password too long", -1;
	if (lib_load(errstr_out) == -1)
		return -1;
	if (getrandom(salt, sizeof(salt), 0) != (ssize_t)sizeof(salt))
		return *errstr_out = "getrandom failed", -1;
	rc = gl.gsasl_scram_secrets_from_password(gsasl_hash_of(h), pw, iter,
	    (const char *)salt, sizeof(salt), salted, ck, sk, st);
	explicit_bzero(salted, sizeof(salted));
	explicit_bzero(ck, sizeof(ck));
	if (rc != GSASL_OK) {
		*errstr_out = rc == GSASL_SASLPREP_ERROR ?
		    "the password is refused by SASLprep" : gl.gsasl_strerror(rc);
		return -1;
	}
	(void)b64_encode(salt, sizeof(salt), b64[0], sizeof(b64[0]));
	(void)b64_encode((unsigned char *)st, key_len(h), b64[1],
	    sizeof(b64[1]));
	(void)b64_encode((unsigned char *)sk, key_len(h), b64[2],
	    sizeof(b64[2]));
	n = snprintf(out, outsize, "{SCRAM-SHA-%s}%u,%s,%s,%s",
	    h == SCRAM_SHA_1 ? "1" : "256", (unsigned int)iter, b64[0],
	    b64[1], b64[2]);
	explicit_bzero(sk, sizeof(sk));
	explicit_bzero(st, sizeof(st));
	if (n < 0 || (size_t)n >= outsize)
		return *errstr_out = "no room for the hash", -1;
	return 0;
}
