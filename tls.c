/*
 * tls.c: the OpenSSL server context, the handshake with a deadline, the
 * read/write shims io.c calls (spec 8, RFC 2595, RFC 8314), and the TLS
 * session ticket keys shared by all handler processes (doc/formats.md 7).
 *
 * Runs before authentication and sees hostile bytes first: it accepts
 * TLS 1.2 and newer only, never renegotiates, and reports failures as
 * reasons without secrets.  It does not read or write protocol lines.
 *
 * Nothing here costs a session that does not use TLS.  tls_new() only
 * keeps the file names; OpenSSL is loaded with dlopen() by tls_load(),
 * which runs at STLS or before the implicit TLS handshake, so a session
 * on port 110 that never sends STLS does not map or relocate libssl and
 * libcrypto (measured: a plaintext session costs about 8 ms of CPU more
 * with them loaded at exec, as linking does; doc/design.md 7, "Loading
 * OpenSSL").  It is still the
 * system's shared library, so security updates apply as usual.  The
 * certificate and key are parsed from PEM in OpenSSL's certificate
 * callback, which runs for full handshakes only: a resumed session never
 * reads them.
 *
 * Session tickets: without tls-ticket-key-file none are sent (a key
 * that dies with the process would only waste bytes).  With it, the
 * ticket keys come from that file, which this file creates (mode 0600,
 * written to a temporary name and linked into place, so concurrent first
 * sessions agree on one key) and rotates every TICKET_ROTATE seconds
 * (the file's mtime is the key's age): the new key encrypts, the
 * previous one still decrypts until the next rotation, as nginx's
 * ssl_session_ticket_key files do.  The file is hostile like any input:
 * O_NOFOLLOW, a regular file of this user, no group or other access, a
 * whole number of 80-octet keys.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>

#include "log.h"
#include "tls.h"

/* Every OpenSSL function this file calls, looked up in libssl (and,
 * through its dependencies, libcrypto). */
#define OSSL_FUNCS(X)							\
	X(OPENSSL_init_ssl)						\
	X(TLS_server_method) X(SSL_CTX_new) X(SSL_CTX_free)		\
	X(SSL_CTX_ctrl) X(SSL_CTX_set_options) X(SSL_CTX_set_timeout)	\
	X(SSL_CTX_set_num_tickets) X(SSL_CTX_set_cert_cb)		\
	X(SSL_CTX_set_tlsext_ticket_key_evp_cb)				\
	X(SSL_CTX_use_certificate_chain_file)				\
	X(SSL_CTX_use_PrivateKey_file) X(SSL_CTX_check_private_key)	\
	X(SSL_use_certificate_chain_file) X(SSL_use_PrivateKey_file)	\
	X(SSL_check_private_key) X(SSL_session_reused)			\
	X(SSL_new) X(SSL_free) X(SSL_ctrl) X(SSL_set_rfd) X(SSL_set_wfd)	\
	X(SSL_accept) X(SSL_get_error) X(SSL_read_ex) X(SSL_write_ex)	\
	X(SSL_pending) X(SSL_get_version) X(SSL_get_current_cipher)	\
	X(SSL_CIPHER_get_name) X(SSL_is_init_finished) X(SSL_shutdown)	\
	X(ERR_get_error) X(ERR_reason_error_string) X(ERR_clear_error)	\
	X(EVP_aes_256_cbc) X(EVP_EncryptInit_ex) X(EVP_DecryptInit_ex)	\
	X(EVP_MAC_CTX_set_params) X(OSSL_PARAM_construct_octet_string)	\
	X(OSSL_PARAM_construct_utf8_string) X(OSSL_PARAM_construct_end)	\
	X(RAND_bytes)

/* GNU typeof keeps each pointer's type identical to the prototype. */
#define OSSL_PTR(f)	__typeof__(&f) f;
struct ossl {
	void	*lib;
	OSSL_FUNCS(OSSL_PTR)
};

#define OSSL_SONAME	"libssl.so." OPENSSL_MSTR(OPENSSL_SHLIB_VERSION)

/*
 * One ticket key as stored: name, HMAC-SHA256 key, AES-256-CBC key, the
 * layout of nginx's 80-octet ssl_session_ticket_key files.
 */
#define TICKET_NAME	16
#define TICKET_KEY_SIZE	80
#define TICKET_KEYS_MAX	4	/* in a file; this file writes 2 */
#define TICKET_ROTATE	(12 * 3600)	/* seconds a key encrypts */
#define TICKET_LIFETIME	TICKET_ROTATE	/* a ticket's lifetime hint */
#define CLOCK_SKEW	60	/* seconds an mtime may lie in the future */

struct ticket_key {
	unsigned char	name[TICKET_NAME];
	unsigned char	hmac[32];
	unsigned char	aes[32];
};

_Static_assert(sizeof(struct ticket_key) == TICKET_KEY_SIZE, "key layout");

struct tls {
	struct ossl	 o;
	const char	*cert;
	const char	*key;
	const char	*ticket_file;	/* NULL: no tickets */
	SSL_CTX		*ctx;		/* NULL until tls_load() */
	SSL		*ssl;
	const char	*cb_err;	/* why the certificate callback failed */
	struct ticket_key keys[TICKET_KEYS_MAX];	/* [0] encrypts */
	size_t		 nkeys;
	char		 desc[4200];	/* error context, then the session */
};

/* The certificate and ticket callbacks get no argument of ours. */
static struct tls	*cb_tls;

/* Loads libssl and every function of OSSL_FUNCS; 0 or -1. */
static int
ossl_load(struct ossl *o, const char **errstr)
{
	if ((o->lib = dlopen(OSSL_SONAME, RTLD_NOW | RTLD_LOCAL)) == NULL) {
		*errstr = "cannot load " OSSL_SONAME;
		return -1;
	}
#define OSSL_SYM(f)							\
	if ((o->f = (__typeof__(&f))dlsym(o->lib, #f)) == NULL) {	\
		*errstr = "libssl lacks " #f;				\
		return -1;						\
	}
	OSSL_FUNCS(OSSL_SYM)
#undef OSSL_SYM
	return 0;
}

/*
 * OpenSSL's reason strings are not loaded at initialisation (see
 * tls_load_ctx()): a session that fails loads them here, from the
 * libraries whose errors a server meets (an exported loader per library;
 * there is none for the provider's own errors, which then show as a
 * code for `openssl errstr`).
 */
static void
ssl_load_strings(struct tls *t)
{
	static const char *const loaders[] = { "ERR_load_SSL_strings",
	    "ERR_load_ERR_strings", "ERR_load_CRYPTO_strings",
	    "ERR_load_ASN1_strings", "ERR_load_BIO_strings",
	    "ERR_load_BUF_strings", "ERR_load_EC_strings",
	    "ERR_load_EVP_strings", "ERR_load_OBJ_strings",
	    "ERR_load_OSSL_STORE_strings", "ERR_load_PEM_strings",
	    "ERR_load_RAND_strings", "ERR_load_RSA_strings",
	    "ERR_load_X509_strings", "ERR_load_X509V3_strings" };
	static bool loaded;
	int (*load)(void);
	size_t i;

	if (loaded)
		return;
	loaded = true;
	for (i = 0; i < sizeof(loaders) / sizeof(loaders[0]); i++)
		if ((load = (int (*)(void))dlsym(t->o.lib, loaders[i])) != NULL)
			(void)load();
}

static const char *
ssl_reason(struct tls *t, const char *what)
{
	static char buf[4400];
	unsigned long e = t->o.ERR_get_error();
	const char *r;

	if (e != 0 && ERR_GET_LIB(e) == ERR_LIB_SYS)
		(void)snprintf(buf, sizeof(buf), "%s: %s", what,
		    strerror(ERR_GET_REASON(e)));
	else if (e == 0)
		(void)snprintf(buf, sizeof(buf), "%s", what);
	else {
		ssl_load_strings(t);
		if ((r = t->o.ERR_reason_error_string(e)) != NULL)
			(void)snprintf(buf, sizeof(buf), "%s: %s", what, r);
		else
			(void)snprintf(buf, sizeof(buf), "%s: OpenSSL error "
			    "%08lX", what, e);
	}
	t->o.ERR_clear_error();
	return buf;
}

/*
 * A first look at a PEM file without OpenSSL: it opens, and it holds a
 * "-----BEGIN " line within its first 64 KiB.  OpenSSL parses it later.
 */
static int
pem_peek(const char *setting, const char *path, const char **errstr)
{
	static char msg[4400];
	char buf[65536 + 1];
	ssize_t n;
	size_t len = 0;
	bool pem;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY)) == -1) {
		(void)snprintf(msg, sizeof(msg), "cannot load %s %s: %s",
		    setting, path, strerror(errno));
		*errstr = msg;
		return -1;
	}
	while (len < sizeof(buf) - 1 &&
	    (n = read(fd, buf + len, sizeof(buf) - 1 - len)) != 0) {
		if (n == -1) {
			if (errno == EINTR)
				continue;
			(void)snprintf(msg, sizeof(msg),
			    "cannot load %s %s: %s", setting, path,
			    strerror(errno));
			(void)close(fd);
			*errstr = msg;
			return -1;
		}
		len += (size_t)n;
	}
	(void)close(fd);
	buf[len] = '\0';
	pem = memchr(buf, '\0', len) == NULL &&
	    strstr(buf, "-----BEGIN ") != NULL;
	explicit_bzero(buf, len);	/* the key file: nothing stays */
	if (!pem) {
		(void)snprintf(msg, sizeof(msg), "cannot load %s %s: no PEM "
		    "data", setting, path);
		*errstr = msg;
		return -1;
	}
	return 0;
}

struct tls *
tls_new(const char *cert, const char *key, const char *ticket_file,
    const char **errstr)
{
	struct tls *t;

	if (pem_peek("tls-cert", cert, errstr) == -1 ||
	    pem_peek("tls-key", key, errstr) == -1)
		return NULL;
	if ((t = calloc(1, sizeof(*t))) == NULL) {
		*errstr = "out of memory";
		return NULL;
	}
	t->cert = cert;
	t->key = key;
	t->ticket_file = ticket_file;
	return t;
}

/* ---- ticket keys ------------------------------------------------------ */

static void
ticket_reason(struct tls *t, const char *what, int err)
{
	(void)snprintf(t->desc, sizeof(t->desc), "tls-ticket-key-file %s: "
	    "%s%s%s", t->ticket_file, what, err != 0 ? ": " : "",
	    err != 0 ? strerror(err) : "");
}

/* Writes the keys to a new file beside the key file; its fd or -1. */
static int
ticket_write_temp(struct tls *t, const struct ticket_key *k, size_t n,
    char *tmp, size_t tmpsize)
{
	size_t len = n * sizeof(*k), off = 0;
	ssize_t w;
	int fd, tries;

	if ((size_t)snprintf(tmp, tmpsize, "%s.tmp.%ld", t->ticket_file,
	    (long)getpid()) >= tmpsize) {
		ticket_reason(t, "path too long", 0);
		return -1;
	}
	for (tries = 0; ; tries++) {
		fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
		    O_CLOEXEC, 0600);
		if (fd != -1 || errno != EEXIST || tries > 0)
			break;
		/* Left by a crashed process of the same pid. */
		(void)unlink(tmp);
	}
	if (fd == -1) {
		ticket_reason(t, "cannot create a new key file", errno);
		return -1;
	}
	while (off < len) {
		if ((w = write(fd, (const char *)k + off, len - off)) == -1) {
			if (errno == EINTR)
				continue;
			break;
		}
		off += (size_t)w;
	}
	if (off < len || fsync(fd) == -1) {
		ticket_reason(t, "cannot write a new key file", errno);
		(void)close(fd);
		(void)unlink(tmp);
		return -1;
	}
	return fd;
}

static int
ticket_new_key(struct tls *t, struct ticket_key *k)
{
	if (t->o.RAND_bytes((unsigned char *)k, sizeof(*k)) != 1) {
		t->o.ERR_clear_error();
		ticket_reason(t, "no random octets for a new key", 0);
		return -1;
	}
	return 0;
}

/*
 * Reads the key file into t->keys, creating it when missing and rotating
 * it when its key is older than TICKET_ROTATE.  Returns 0, or -1 with a
 * reason in t->desc (the session then sends no tickets).
 */
static int
ticket_keys_load(struct tls *t, bool create)
{
	char tmp[4200];
	struct ticket_key k[TICKET_KEYS_MAX + 1];
	struct stat st, st2;
	time_t now = time(NULL);
	ssize_t n;
	size_t len, nk;
	int fd, tfd, tries;

	for (tries = 0; tries < 3; tries++) {
		fd = open(t->ticket_file, O_RDONLY | O_NOFOLLOW | O_CLOEXEC |
		    O_NOCTTY | O_NONBLOCK);
		if (fd == -1 && errno == ENOENT && create) {
			/*
			 * The first session: a complete file appears under
			 * the name at once (link() fails when another
			 * process was first; then its key is read).
			 */
			if (ticket_new_key(t, &k[0]) == -1 ||
			    (tfd = ticket_write_temp(t, k, 1, tmp,
			    sizeof(tmp))) == -1)
				return -1;
			(void)close(tfd);
			if (link(tmp, t->ticket_file) == -1 &&
			    errno != EEXIST) {
				ticket_reason(t, "cannot create", errno);
				(void)unlink(tmp);
				return -1;
			}
			(void)unlink(tmp);
			continue;
		}
		if (fd == -1 && errno == ENOENT) {
			t->nkeys = 0;	/* --check-config: made later */
			return 0;
		}
		if (fd == -1) {
			ticket_reason(t, errno == ELOOP ?
			    "is a symbolic link" : "cannot open",
			    errno == ELOOP ? 0 : errno);
			return -1;
		}
		if (fstat(fd, &st) == -1) {
			ticket_reason(t, "cannot stat", errno);
			(void)close(fd);
			return -1;
		}
		/* --check-config as root may look at the service's file. */
		if (!S_ISREG(st.st_mode) || st.st_nlink != 1 ||
		    (st.st_uid != geteuid() && (create || geteuid() != 0)) ||
		    (st.st_mode & 077) != 0) {
			ticket_reason(t, "must be a regular file of this user "
			    "with one link and no group or other access", 0);
			(void)close(fd);
			return -1;
		}
		if (st.st_size < TICKET_KEY_SIZE ||
		    st.st_size > TICKET_KEY_SIZE * TICKET_KEYS_MAX ||
		    st.st_size % TICKET_KEY_SIZE != 0) {
			ticket_reason(t, "must hold 1 to 4 keys of 80 octets",
			    0);
			(void)close(fd);
			return -1;
		}
		len = (size_t)st.st_size;
		n = pread(fd, t->keys, len, 0);
		if (n != (ssize_t)len) {
			ticket_reason(t, "cannot read", n == -1 ? errno : EIO);
			(void)close(fd);
			return -1;
		}
		t->nkeys = len / TICKET_KEY_SIZE;
		if (!create || (now - st.st_mtime < TICKET_ROTATE &&
		    st.st_mtime <= now + CLOCK_SKEW)) {
			(void)close(fd);
			return 0;
		}
		/*
		 * Rotation, by one process: the others keep the keys they
		 * read, which stay valid.  The lock is on the old file, so
		 * the winner checks that the name still leads there.
		 */
		if (flock(fd, LOCK_EX | LOCK_NB) == -1) {
			(void)close(fd);
			return 0;
		}
		if (lstat(t->ticket_file, &st2) == -1 ||
		    st2.st_ino != st.st_ino || st2.st_dev != st.st_dev) {
			(void)close(fd);
			continue;	/* rotated meanwhile: read it again */
		}
		nk = 1;
		if (ticket_new_key(t, &k[0]) == -1) {
			(void)close(fd);
			return 0;
		}
		/* The previous key decrypts for one more period. */
		if (now - st.st_mtime < 2 * TICKET_ROTATE &&
		    st.st_mtime <= now + CLOCK_SKEW)
			k[nk++] = t->keys[0];
		if ((tfd = ticket_write_temp(t, k, nk, tmp, sizeof(tmp))) ==
		    -1) {
			(void)close(fd);
			return 0;	/* serve with the old keys */
		}
		if (rename(tmp, t->ticket_file) == -1) {
			ticket_reason(t, "cannot replace", errno);
			(void)unlink(tmp);
			(void)close(tfd);
			(void)close(fd);
			return 0;
		}
		(void)close(tfd);
		(void)close(fd);
		memcpy(t->keys, k, nk * sizeof(k[0]));
		t->nkeys = nk;
		explicit_bzero(k, sizeof(k));
		return 0;
	}
	ticket_reason(t, "keeps changing", 0);
	return -1;
}

/*
 * OpenSSL's ticket key callback: enc 1 encrypts a new ticket with the
 * current key; enc 0 finds the key a ticket names.  Returns 1, 2 (valid
 * but renew it under the current key), 0 (unknown: full handshake) or -1.
 */
static int
ticket_cb(SSL *ssl, unsigned char name[TICKET_NAME], unsigned char *iv,
    EVP_CIPHER_CTX *cctx, EVP_MAC_CTX *hctx, int enc)
{
	struct tls *t = cb_tls;
	const struct ticket_key *k;
	OSSL_PARAM params[3];
	size_t i;

	(void)ssl;
	if (t == NULL || t->nkeys == 0)
		return 0;
	if (enc) {
		k = &t->keys[0];
		if (t->o.RAND_bytes(iv, 16) != 1)
			return -1;
		memcpy(name, k->name, TICKET_NAME);
		if (t->o.EVP_EncryptInit_ex(cctx, t->o.EVP_aes_256_cbc(), NULL,
		    k->aes, iv) != 1)
			return -1;
	} else {
		for (i = 0; i < t->nkeys; i++)
			if (memcmp(name, t->keys[i].name, TICKET_NAME) == 0)
				break;
		if (i == t->nkeys)
			return 0;
		k = &t->keys[i];
		if (t->o.EVP_DecryptInit_ex(cctx, t->o.EVP_aes_256_cbc(), NULL,
		    k->aes, iv) != 1)
			return -1;
	}
	params[0] = t->o.OSSL_PARAM_construct_octet_string(
	    OSSL_MAC_PARAM_KEY, (void *)(uintptr_t)k->hmac, sizeof(k->hmac));
	params[1] = t->o.OSSL_PARAM_construct_utf8_string(
	    OSSL_MAC_PARAM_DIGEST, (char *)(uintptr_t)"SHA256", 0);
	params[2] = t->o.OSSL_PARAM_construct_end();
	if (t->o.EVP_MAC_CTX_set_params(hctx, params) != 1)
		return -1;
	return (!enc && k != &t->keys[0]) ? 2 : 1;
}

/* ---- context and certificate ----------------------------------------- */

/*
 * OpenSSL's certificate callback: runs after the ClientHello of a full
 * handshake (not for a resumed one) and loads the PEM files then.
 */
static int
cert_cb(SSL *ssl, void *arg)
{
	struct tls *t = arg;

	log_debug("TLS: full handshake, loading tls-cert and tls-key");
	(void)snprintf(t->desc, sizeof(t->desc), "cannot load tls-cert %s",
	    t->cert);
	if (t->o.SSL_use_certificate_chain_file(ssl, t->cert) != 1) {
		t->cb_err = ssl_reason(t, t->desc);
		return 0;
	}
	(void)snprintf(t->desc, sizeof(t->desc), "cannot load tls-key %s",
	    t->key);
	if (t->o.SSL_use_PrivateKey_file(ssl, t->key, SSL_FILETYPE_PEM) != 1) {
		t->cb_err = ssl_reason(t, t->desc);
		return 0;
	}
	if (t->o.SSL_check_private_key(ssl) != 1) {
		t->cb_err = ssl_reason(t, "tls-key does not match tls-cert");
		return 0;
	}
	return 1;
}

/*
 * Loads OpenSSL and makes the server context; ticket keys are read (and
 * the key file created or rotated when create is set).  Idempotent.
 */
static int
tls_load_ctx(struct tls *t, bool create, const char **errstr)
{
	bool tickets = false;

	if (t->ctx != NULL)
		return 0;
	if (t->o.lib == NULL && ossl_load(&t->o, errstr) == -1)
		return -1;
	/*
	 * No openssl.cnf: the policy below is the handler's own, and
	 * reading the system file costs every process.  No table of legacy
	 * cipher names (libssl fetches its ciphers from the provider by
	 * name; the digest table stays: a certificate's signature strength
	 * is looked up there, and without it every CA certificate of a
	 * chain is "ca md too weak") and no error strings until an error
	 * needs them (ssl_reason()): together about 1-1.5 ms of a fresh
	 * process's CPU (doc/design.md 7, bench/tlscost).
	 */
	if (t->o.OPENSSL_init_ssl(OPENSSL_INIT_NO_LOAD_CONFIG |
	    OPENSSL_INIT_NO_ADD_ALL_CIPHERS |
	    OPENSSL_INIT_NO_LOAD_CRYPTO_STRINGS, NULL) != 1) {
		*errstr = ssl_reason(t, "cannot initialise OpenSSL");
		return -1;
	}
	if ((t->ctx = t->o.SSL_CTX_new(t->o.TLS_server_method())) == NULL) {
		*errstr = ssl_reason(t, "cannot create TLS context");
		return -1;
	}
	/* The macros of ssl.h, spelled out through the loaded table. */
	if (t->o.SSL_CTX_ctrl(t->ctx, SSL_CTRL_SET_MIN_PROTO_VERSION,
	    TLS1_2_VERSION, NULL) != 1) {
		*errstr = ssl_reason(t, "cannot require TLS 1.2");
		return -1;
	}
	t->o.SSL_CTX_set_options(t->ctx, SSL_OP_NO_RENEGOTIATION |
	    SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_COMPRESSION);
	t->o.SSL_CTX_ctrl(t->ctx, SSL_CTRL_SET_SESS_CACHE_MODE,
	    SSL_SESS_CACHE_OFF, NULL);
	if (t->ticket_file != NULL) {
		if (ticket_keys_load(t, create) == 0)
			tickets = true;
		else if (!create) {
			*errstr = t->desc;
			return -1;
		} else
			log_warnx("%s; no TLS session tickets", t->desc);
	}
	if (tickets) {
		cb_tls = t;
		(void)t->o.SSL_CTX_set_timeout(t->ctx, TICKET_LIFETIME);
		if (t->o.SSL_CTX_set_tlsext_ticket_key_evp_cb(t->ctx,
		    ticket_cb) != 1) {
			*errstr = ssl_reason(t, "cannot set the ticket key "
			    "callback");
			return -1;
		}
	} else {
		t->o.SSL_CTX_set_options(t->ctx, SSL_OP_NO_TICKET);
		(void)t->o.SSL_CTX_set_num_tickets(t->ctx, 0);
	}
	t->o.SSL_CTX_set_cert_cb(t->ctx, cert_cb, t);
	return 0;
}

int
tls_load(struct tls *t, const char **errstr)
{
	return tls_load_ctx(t, true, errstr);
}

int
tls_check(struct tls *t, const char **errstr)
{
	if (tls_load_ctx(t, false, errstr) == -1)
		return -1;
	(void)snprintf(t->desc, sizeof(t->desc), "cannot load tls-cert %s",
	    t->cert);
	if (t->o.SSL_CTX_use_certificate_chain_file(t->ctx, t->cert) != 1) {
		*errstr = ssl_reason(t, t->desc);
		return -1;
	}
	(void)snprintf(t->desc, sizeof(t->desc), "cannot load tls-key %s",
	    t->key);
	if (t->o.SSL_CTX_use_PrivateKey_file(t->ctx, t->key,
	    SSL_FILETYPE_PEM) != 1) {
		*errstr = ssl_reason(t, t->desc);
		return -1;
	}
	if (t->o.SSL_CTX_check_private_key(t->ctx) != 1) {
		*errstr = ssl_reason(t, "tls-key does not match tls-cert");
		return -1;
	}
	return 0;
}

/* ---- the connection --------------------------------------------------- */

/* Maps an OpenSSL "want" to poll events; -1 for a real failure. */
static int
want_events(struct tls *t, int r, short *ev)
{
	switch (t->o.SSL_get_error(t->ssl, r)) {
	case SSL_ERROR_WANT_READ:
		*ev = POLLIN;
		return 0;
	case SSL_ERROR_WANT_WRITE:
		*ev = POLLOUT;
		return 0;
	default:
		return -1;
	}
}

static ssize_t
tls_read(void *ctx, void *buf, size_t len, short *ev)
{
	struct tls *t = ctx;
	size_t n;
	int r;

	if ((r = t->o.SSL_read_ex(t->ssl, buf, len, &n)) == 1)
		return (ssize_t)n;
	if (t->o.SSL_get_error(t->ssl, r) == SSL_ERROR_ZERO_RETURN)
		return 0;
	if (want_events(t, r, ev) == 0) {
		errno = EAGAIN;
		return -1;
	}
	t->o.ERR_clear_error();
	errno = EIO;
	return -1;
}

static ssize_t
tls_write(void *ctx, const void *buf, size_t len, short *ev)
{
	struct tls *t = ctx;
	size_t n;
	int r;

	if ((r = t->o.SSL_write_ex(t->ssl, buf, len, &n)) == 1)
		return (ssize_t)n;
	if (want_events(t, r, ev) == 0) {
		errno = EAGAIN;
		return -1;
	}
	t->o.ERR_clear_error();
	errno = EPIPE;
	return -1;
}

static bool
tls_pending(void *ctx)
{
	struct tls *t = ctx;

	return t->o.SSL_pending(t->ssl) > 0;
}

static int64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int
tls_accept(struct tls *t, int in_fd, int out_fd, unsigned int timeout,
    struct io_transport *tr, const char **errstr)
{
	int64_t deadline = mono_ms() + (int64_t)timeout * 1000, left;
	struct pollfd pfd;
	short ev;
	int r;

	if (tls_load(t, errstr) == -1)
		return -1;
	if ((t->ssl = t->o.SSL_new(t->ctx)) == NULL ||
	    t->o.SSL_set_rfd(t->ssl, in_fd) != 1 ||
	    t->o.SSL_set_wfd(t->ssl, out_fd) != 1) {
		*errstr = ssl_reason(t, "cannot set up TLS");
		return -1;
	}
	t->o.SSL_ctrl(t->ssl, SSL_CTRL_MODE, SSL_MODE_ENABLE_PARTIAL_WRITE |
	    SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER, NULL);
	while ((r = t->o.SSL_accept(t->ssl)) != 1) {
		if (want_events(t, r, &ev) == -1) {
			*errstr = t->cb_err != NULL ? t->cb_err :
			    ssl_reason(t, "TLS handshake failed");
			return -1;
		}
		if ((left = deadline - mono_ms()) <= 0) {
			*errstr = "TLS handshake timed out";
			return -1;
		}
		pfd.fd = (ev & POLLOUT) ? out_fd : in_fd;
		pfd.events = ev;
		if (poll(&pfd, 1, (int)left) == -1 && errno != EINTR) {
			*errstr = "poll failed during the TLS handshake";
			return -1;
		}
	}
	/*
	 * The tickets went out with the handshake (TLS 1.3 sends them right
	 * after it): the keys are not needed again in this process.
	 */
	explicit_bzero(t->keys, sizeof(t->keys));
	t->nkeys = 0;
	(void)snprintf(t->desc, sizeof(t->desc), "%s/%s",
	    t->o.SSL_get_version(t->ssl),
	    t->o.SSL_CIPHER_get_name(t->o.SSL_get_current_cipher(t->ssl)));
	tr->read = tls_read;
	tr->write = tls_write;
	tr->pending = tls_pending;
	tr->ctx = t;
	return 0;
}

const char *
tls_describe(struct tls *t)
{
	return t->desc;
}

bool
tls_resumed(struct tls *t)
{
	return t->ssl != NULL && t->o.SSL_session_reused(t->ssl) == 1;
}

void
tls_free(struct tls *t)
{
	if (t == NULL)
		return;
	if (t->ssl != NULL) {
		if (t->o.SSL_is_init_finished(t->ssl))
			(void)t->o.SSL_shutdown(t->ssl);
		t->o.SSL_free(t->ssl);
	}
	if (t->ctx != NULL)
		t->o.SSL_CTX_free(t->ctx);
	if (t->o.lib != NULL)
		(void)dlclose(t->o.lib);
	if (cb_tls == t)
		cb_tls = NULL;
	explicit_bzero(t->keys, sizeof(t->keys));
	free(t);
}

/*
 * SCRAM -PLUS channel binding.  Its three OpenSSL functions are looked up
 * here when a -PLUS exchange asks, so the table above stays as it is.
 * tls-unique is the first Finished of the handshake: the client's in a
 * full handshake, the server's own in a resumed one (RFC 5929 3.1).
 */
#define CB_EXPORTER_LABEL	"EXPORTER-Channel-Binding"	/* RFC 9266 */
#define CB_EXPORTER_LEN		32

int
tls_channel_binding(struct tls *t, enum tls_cb type, unsigned char *buf,
    size_t size, size_t *len_out)
{
	__typeof__(&SSL_version) version;
	__typeof__(&SSL_export_keying_material) export;
	__typeof__(&SSL_get_finished) fin;
	size_t n;

	if (t == NULL || t->ssl == NULL || !t->o.SSL_is_init_finished(t->ssl))
		return -1;
	version = (__typeof__(version))dlsym(t->o.lib, "SSL_version");
	export = (__typeof__(export))dlsym(t->o.lib,
	    "SSL_export_keying_material");
	if (version == NULL || export == NULL)
		return -1;
	if (type == TLS_CB_EXPORTER) {
		if (version(t->ssl) != TLS1_3_VERSION || size < CB_EXPORTER_LEN)
			return -1;
		if (export(t->ssl, buf, CB_EXPORTER_LEN, CB_EXPORTER_LABEL,
		    sizeof(CB_EXPORTER_LABEL) - 1, NULL, 0, 0) != 1) {
			t->o.ERR_clear_error();
			return -1;
		}
		*len_out = CB_EXPORTER_LEN;
		return 0;
	}
	if (version(t->ssl) != TLS1_2_VERSION)
		return -1;
	fin = (__typeof__(fin))dlsym(t->o.lib, tls_resumed(t) ?
	    "SSL_get_finished" : "SSL_get_peer_finished");
	if (fin == NULL || (n = fin(t->ssl, buf, size)) == 0 || n > size)
		return -1;
	*len_out = n;
	return 0;
}
