/*
 * tls.c: the OpenSSL server context, the handshake with a deadline, and
 * the read/write shims io.c calls (SPEC 8, RFC 2595, RFC 8314).
 *
 * Runs before authentication and sees hostile bytes first: it accepts
 * TLS 1.2 and newer only, never renegotiates, and reports failures as
 * reasons without secrets.  It does not read or write protocol lines.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "tls.h"

struct tls {
	SSL_CTX		*ctx;
	SSL		*ssl;
	char		 desc[4200];	/* error context, then the session */
};

static const char *
ssl_reason(const char *what)
{
	static char buf[256];
	unsigned long e = ERR_get_error();

	if (e != 0 && ERR_GET_LIB(e) == ERR_LIB_SYS)
		(void)snprintf(buf, sizeof(buf), "%s: %s", what,
		    strerror(ERR_GET_REASON(e)));
	else if (e == 0)
		(void)snprintf(buf, sizeof(buf), "%s", what);
	else
		(void)snprintf(buf, sizeof(buf), "%s: %s", what,
		    ERR_reason_error_string(e) != NULL ?
		    ERR_reason_error_string(e) : "unknown error");
	ERR_clear_error();
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
	if ((t->ctx = SSL_CTX_new(TLS_server_method())) == NULL) {
		*errstr = ssl_reason("cannot create TLS context");
		goto fail;
	}
	if (!SSL_CTX_set_min_proto_version(t->ctx, TLS1_2_VERSION)) {
		*errstr = ssl_reason("cannot require TLS 1.2");
		goto fail;
	}
	SSL_CTX_set_options(t->ctx, SSL_OP_NO_RENEGOTIATION |
	    SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_COMPRESSION);
	SSL_CTX_set_session_cache_mode(t->ctx, SSL_SESS_CACHE_OFF);
	(void)snprintf(t->desc, sizeof(t->desc), "cannot load tls-cert %s",
	    cert);
	if (SSL_CTX_use_certificate_chain_file(t->ctx, cert) != 1) {
		*errstr = ssl_reason(t->desc);
		goto fail;
	}
	(void)snprintf(t->desc, sizeof(t->desc), "cannot load tls-key %s", key);
	if (SSL_CTX_use_PrivateKey_file(t->ctx, key, SSL_FILETYPE_PEM) != 1) {
		*errstr = ssl_reason(t->desc);
		goto fail;
	}
	if (SSL_CTX_check_private_key(t->ctx) != 1) {
		*errstr = ssl_reason("tls-key does not match tls-cert");
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
	switch (SSL_get_error(t->ssl, r)) {
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

	if ((r = SSL_read_ex(t->ssl, buf, len, &n)) == 1)
		return (ssize_t)n;
	if (SSL_get_error(t->ssl, r) == SSL_ERROR_ZERO_RETURN)
		return 0;
	if (want_events(t, r, ev) == 0) {
		errno = EAGAIN;
		return -1;
	}
	ERR_clear_error();
	errno = EIO;
	return -1;
}

static ssize_t
tls_write(void *ctx, const void *buf, size_t len, short *ev)
{
	struct tls *t = ctx;
	size_t n;
	int r;

	if ((r = SSL_write_ex(t->ssl, buf, len, &n)) == 1)
		return (ssize_t)n;
	if (want_events(t, r, ev) == 0) {
		errno = EAGAIN;
		return -1;
	}
	ERR_clear_error();
	errno = EPIPE;
	return -1;
}

static bool
tls_pending(void *ctx)
{
	struct tls *t = ctx;

	return SSL_pending(t->ssl) > 0;
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

	if ((t->ssl = SSL_new(t->ctx)) == NULL ||
	    SSL_set_rfd(t->ssl, in_fd) != 1 ||
	    SSL_set_wfd(t->ssl, out_fd) != 1) {
		*errstr = ssl_reason("cannot set up TLS");
		return -1;
	}
	SSL_set_mode(t->ssl, SSL_MODE_ENABLE_PARTIAL_WRITE |
	    SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	while ((r = SSL_accept(t->ssl)) != 1) {
		if (want_events(t, r, &ev) == -1) {
			*errstr = ssl_reason("TLS handshake failed");
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
	    SSL_get_version(t->ssl), SSL_get_cipher_name(t->ssl));
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
		if (SSL_is_init_finished(t->ssl))
			(void)SSL_shutdown(t->ssl);
		SSL_free(t->ssl);
	}
	SSL_CTX_free(t->ctx);
	free(t);
}
