/*
 * tls.c: the OpenSSL server context, the handshake with a deadline, and
 * the read/write shims io.c calls (SPEC 8, RFC 2595, RFC 8314).
 *
 * Runs before authentication and sees hostile bytes first: it accepts
 * TLS 1.2 and newer only, never renegotiates, and reports failures as
 * reasons without secrets.  It does not read or write protocol lines.
 *
 * OpenSSL is loaded with dlopen() only when TLS is configured, so a
 * plaintext session does not pay for mapping and relocating libssl and
 * libcrypto (issue 6: about 0.5 ms and 1.7 MiB per process).  It is still
 * the system's shared library, so security updates apply as usual.
 */
#include <dlfcn.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "tls.h"

/* Every OpenSSL function this file calls, looked up in libssl. */
#define OSSL_FUNCS(X)							\
	X(TLS_server_method) X(SSL_CTX_new) X(SSL_CTX_free)		\
	X(SSL_CTX_ctrl) X(SSL_CTX_set_options)				\
	X(SSL_CTX_use_certificate_chain_file)				\
	X(SSL_CTX_use_PrivateKey_file) X(SSL_CTX_check_private_key)	\
	X(SSL_new) X(SSL_free) X(SSL_ctrl) X(SSL_set_rfd) X(SSL_set_wfd)	\
	X(SSL_accept) X(SSL_get_error) X(SSL_read_ex) X(SSL_write_ex)	\
	X(SSL_pending) X(SSL_get_version) X(SSL_get_current_cipher)	\
	X(SSL_CIPHER_get_name) X(SSL_is_init_finished) X(SSL_shutdown)	\
	X(ERR_get_error) X(ERR_reason_error_string) X(ERR_clear_error)

/* GNU typeof keeps each pointer's type identical to the prototype. */
#define OSSL_PTR(f)	__typeof__(&f) f;
struct ossl {
	void	*lib;
	OSSL_FUNCS(OSSL_PTR)
};

#define OSSL_SONAME	"libssl.so." OPENSSL_MSTR(OPENSSL_SHLIB_VERSION)

struct tls {
	struct ossl	 o;
	SSL_CTX		*ctx;
	SSL		*ssl;
	char		 desc[4200];	/* error context, then the session */
};

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

static const char *
ssl_reason(struct tls *t, const char *what)
{
	static char buf[256];
	unsigned long e = t->o.ERR_get_error();

	if (e != 0 && ERR_GET_LIB(e) == ERR_LIB_SYS)
		(void)snprintf(buf, sizeof(buf), "%s: %s", what,
		    strerror(ERR_GET_REASON(e)));
	else if (e == 0)
		(void)snprintf(buf, sizeof(buf), "%s", what);
	else
		(void)snprintf(buf, sizeof(buf), "%s: %s", what,
		    t->o.ERR_reason_error_string(e) != NULL ?
		    t->o.ERR_reason_error_string(e) : "unknown error");
	t->o.ERR_clear_error();
	return buf;
}

struct tls *
tls_new(const char *cert, const char *key, const char **errstr)
{
	struct tls *t;

	if ((t = calloc(1, sizeof(*t))) == NULL) {
		*errstr = "out of memory";
		return NULL;
	}
	if (ossl_load(&t->o, errstr) == -1)
		goto fail;
	if ((t->ctx = t->o.SSL_CTX_new(t->o.TLS_server_method())) == NULL) {
		*errstr = ssl_reason(t, "cannot create TLS context");
		goto fail;
	}
	/* The macros of ssl.h, spelled out through the loaded table. */
	if (t->o.SSL_CTX_ctrl(t->ctx, SSL_CTRL_SET_MIN_PROTO_VERSION,
	    TLS1_2_VERSION, NULL) != 1) {
		*errstr = ssl_reason(t, "cannot require TLS 1.2");
		goto fail;
	}
	t->o.SSL_CTX_set_options(t->ctx, SSL_OP_NO_RENEGOTIATION |
	    SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_COMPRESSION);
	t->o.SSL_CTX_ctrl(t->ctx, SSL_CTRL_SET_SESS_CACHE_MODE,
	    SSL_SESS_CACHE_OFF, NULL);
	(void)snprintf(t->desc, sizeof(t->desc), "cannot load tls-cert %s",
	    cert);
	if (t->o.SSL_CTX_use_certificate_chain_file(t->ctx, cert) != 1) {
		*errstr = ssl_reason(t, t->desc);
		goto fail;
	}
	(void)snprintf(t->desc, sizeof(t->desc), "cannot load tls-key %s", key);
	if (t->o.SSL_CTX_use_PrivateKey_file(t->ctx, key,
	    SSL_FILETYPE_PEM) != 1) {
		*errstr = ssl_reason(t, t->desc);
		goto fail;
	}
	if (t->o.SSL_CTX_check_private_key(t->ctx) != 1) {
		*errstr = ssl_reason(t, "tls-key does not match tls-cert");
		goto fail;
	}
	return t;
fail:
	tls_free(t);
	return NULL;
}

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
			*errstr = ssl_reason(t, "TLS handshake failed");
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
	free(t);
}

/*
 * SCRAM -PLUS channel binding.  Its four OpenSSL functions are looked up
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
	__typeof__(&SSL_session_reused) reused;
	size_t n;

	if (t == NULL || t->ssl == NULL || !t->o.SSL_is_init_finished(t->ssl))
		return -1;
	version = (__typeof__(version))dlsym(t->o.lib, "SSL_version");
	export = (__typeof__(export))dlsym(t->o.lib,
	    "SSL_export_keying_material");
	reused = (__typeof__(reused))dlsym(t->o.lib, "SSL_session_reused");
	if (version == NULL || export == NULL || reused == NULL)
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
	fin = (__typeof__(fin))dlsym(t->o.lib, reused(t->ssl) ?
	    "SSL_get_finished" : "SSL_get_peer_finished");
	if (fin == NULL || (n = fin(t->ssl, buf, size)) == 0 || n > size)
		return -1;
	*len_out = n;
	return 0;
}
