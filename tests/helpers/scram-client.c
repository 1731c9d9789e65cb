/*
 * scram-client: a POP3 SCRAM client for tests/auth-scram.bats, with the
 * channel binding no Debian POP3 client does (spec 4.1): OpenSSL for TLS,
 * GNU SASL's client side for the mechanism.  Every line the server sends
 * goes to stdout as received (CRLF kept); errors go to stderr.
 *
 *	scram-client [options] PORT
 *	  -m MECH      SCRAM-SHA-256 (default), SCRAM-SHA-1, ...-PLUS
 *	  -u USER -p PASSWORD [-z AUTHZID]
 *	  -t none|stls|implicit   TLS mode (default none)
 *	  -V 1.2|1.3   the only TLS version offered (default: library's)
 *	  -b           corrupt the channel binding (one octet flipped)
 *	  -c NAME      the binding type to claim (default: tls-exporter on
 *	               TLS 1.3, tls-unique on TLS 1.2)
 *	  -q           QUIT after STAT on success
 *	  -x LINE      send LINE and CRLF first (a PROXY v1 header)
 *
 * Exit status: 0 when the server answered +OK to the AUTH, 1 on -ERR,
 * 2 on a usage or connection error.  A test tool, never installed.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <gsasl.h>
#include <openssl/ssl.h>

struct conn {
	int	 fd;
	SSL	*ssl;
	char	 buf[16384];
	size_t	 len;
};

static const char *user, *password, *authzid, *cbname;
static int badcb;
static SSL *cb_ssl;

static int
conn_write(struct conn *c, const char *s)
{
	size_t len = strlen(s);

	if (c->ssl != NULL)
		return SSL_write(c->ssl, s, (int)len) == (int)len ? 0 : -1;
	return write(c->fd, s, len) == (ssize_t)len ? 0 : -1;
}

/* Reads one line (CRLF kept) into line; echoes it to stdout. */
static int
conn_line(struct conn *c, char *line, size_t size)
{
	char *nl;
	ssize_t n;
	size_t k;

	for (;;) {
		if ((nl = memchr(c->buf, '\n', c->len)) != NULL) {
			k = (size_t)(nl - c->buf) + 1;
			if (k >= size)
				return -1;
			memcpy(line, c->buf, k);
			line[k] = '\0';
			memmove(c->buf, c->buf + k, c->len - k);
			c->len -= k;
			fputs(line, stdout);
			fflush(stdout);
			return 0;
		}
		if (c->len == sizeof(c->buf))
			return -1;
		if (c->ssl != NULL)
			n = SSL_read(c->ssl, c->buf + c->len,
			    (int)(sizeof(c->buf) - c->len));
		else
			n = read(c->fd, c->buf + c->len,
			    sizeof(c->buf) - c->len);
		if (n <= 0)
			return -1;
		c->len += (size_t)n;
	}
}

static int
tls_start(struct conn *c, const char *version)
{
	SSL_CTX *ctx;

	if ((ctx = SSL_CTX_new(TLS_client_method())) == NULL)
		return -1;
	if (version != NULL) {
		int v = strcmp(version, "1.2") == 0 ? TLS1_2_VERSION :
		    TLS1_3_VERSION;
		SSL_CTX_set_min_proto_version(ctx, v);
		SSL_CTX_set_max_proto_version(ctx, v);
	}
	if ((c->ssl = SSL_new(ctx)) == NULL || !SSL_set_fd(c->ssl, c->fd) ||
	    SSL_connect(c->ssl) != 1) {
		fprintf(stderr, "scram-client: TLS handshake failed\n");
		return -1;
	}
	cb_ssl = c->ssl;
	return 0;
}

/* The client's view of the binding; -b flips its first octet. */
static int
set_cb(Gsasl_session *s, Gsasl_property prop)
{
	unsigned char cb[64];
	size_t len;
	char *b64;

	if (cb_ssl == NULL)
		return GSASL_NO_CALLBACK;
	if (prop == GSASL_CB_TLS_EXPORTER) {
		len = 32;
		if (SSL_export_keying_material(cb_ssl, cb, len,
		    "EXPORTER-Channel-Binding", 24, NULL, 0, 0) != 1)
			return GSASL_NO_CALLBACK;
	} else {
		/* The client sends the first Finished of a full handshake. */
		len = SSL_get_finished(cb_ssl, cb, sizeof(cb));
		if (len == 0 || len > sizeof(cb))
			return GSASL_NO_CALLBACK;
	}
	if (badcb)
		cb[0] ^= 0x01;
	if (gsasl_base64_to((char *)cb, len, &b64, NULL) != GSASL_OK)
		return GSASL_NO_CALLBACK;
	gsasl_property_set(s, prop, b64);
	gsasl_free(b64);
	return GSASL_OK;
}

/* -c, else RFC 9266 on TLS 1.3 and RFC 5929 on TLS 1.2. */
static const char *
cb_name(void)
{
	if (cbname != NULL)
		return cbname;
	return SSL_version(cb_ssl) == TLS1_3_VERSION ? "tls-exporter" :
	    "tls-unique";
}

static int
callback(Gsasl *ctx, Gsasl_session *s, Gsasl_property prop)
{
	(void)ctx;
	switch (prop) {
	case GSASL_AUTHID:
		return gsasl_property_set(s, prop, user);
	case GSASL_PASSWORD:
		return gsasl_property_set(s, prop, password);
	case GSASL_AUTHZID:
		return authzid != NULL ? gsasl_property_set(s, prop, authzid) :
		    GSASL_NO_CALLBACK;
	case GSASL_CB_TLS_EXPORTER:
	case GSASL_CB_TLS_UNIQUE:
		if (cb_ssl == NULL || strcmp(cb_name(), prop ==
		    GSASL_CB_TLS_EXPORTER ? "tls-exporter" : "tls-unique"))
			return GSASL_NO_CALLBACK;
		return set_cb(s, prop);
	default:
		return GSASL_NO_CALLBACK;
	}
}

static int
usage(void)
{
	fprintf(stderr, "usage: scram-client [-m MECH] -u USER -p PASSWORD "
	    "[-z AUTHZID] [-t none|stls|implicit] [-V 1.2|1.3] [-b] "
	    "[-c CBNAME] [-q] PORT\n");
	return 2;
}

int
main(int argc, char **argv)
{
	const char *mech = "SCRAM-SHA-256", *tls = "none", *version = NULL;
	const char *first = NULL;
	struct sockaddr_in sin;
	struct conn c;
	Gsasl *ctx;
	Gsasl_session *s;
	char line[16384], cmd[16384], *in, *o;
	int ch, quit = 0, rc;

	while ((ch = getopt(argc, argv, "m:u:p:z:t:V:bc:qx:")) != -1) {
		switch (ch) {
		case 'm': mech = optarg; break;
		case 'u': user = optarg; break;
		case 'p': password = optarg; break;
		case 'z': authzid = optarg; break;
		case 't': tls = optarg; break;
		case 'V': version = optarg; break;
		case 'b': badcb = 1; break;
		case 'c': cbname = optarg; break;
		case 'q': quit = 1; break;
		case 'x': first = optarg; break;
		default: return usage();
		}
	}
	if (optind != argc - 1 || user == NULL || password == NULL)
		return usage();
	memset(&c, 0, sizeof(c));
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((unsigned short)atoi(argv[optind]));
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((c.fd = socket(AF_INET, SOCK_STREAM, 0)) == -1 ||
	    connect(c.fd, (struct sockaddr *)&sin, sizeof(sin)) == -1) {
		perror("scram-client: connect");
		return 2;
	}
	if (first != NULL && (conn_write(&c, first) == -1 ||
	    conn_write(&c, "\r\n") == -1))
		return 2;
	if (strcmp(tls, "implicit") == 0 && tls_start(&c, version) == -1)
		return 2;
	if (conn_line(&c, line, sizeof(line)) == -1)
		return 2;
	if (strcmp(tls, "stls") == 0) {
		if (conn_write(&c, "STLS\r\n") == -1 ||
		    conn_line(&c, line, sizeof(line)) == -1 ||
		    strncmp(line, "+OK", 3) != 0 || tls_start(&c, version) == -1)
			return 2;
	}
	if (gsasl_init(&ctx) != GSASL_OK)
		return 2;
	gsasl_callback_set(ctx, callback);
	if (gsasl_client_start(ctx, mech, &s) != GSASL_OK) {
		fprintf(stderr, "scram-client: no client for %s\n", mech);
		return 2;
	}
	snprintf(cmd, sizeof(cmd), "AUTH %s\r\n", mech);
	if (conn_write(&c, cmd) == -1)
		return 2;
	for (;;) {
		if (conn_line(&c, line, sizeof(line)) == -1)
			return 2;
		if (strncmp(line, "+ ", 2) != 0 && strcmp(line, "+\r\n") != 0)
			break;
		in = line + (line[1] == ' ' ? 2 : 1);
		in[strcspn(in, "\r\n")] = '\0';
		rc = gsasl_step64(s, in, &o);
		if (rc != GSASL_OK && rc != GSASL_NEEDS_MORE) {
			fprintf(stderr, "scram-client: %s\n",
			    gsasl_strerror(rc));
			(void)conn_write(&c, "*\r\n");
			(void)conn_line(&c, line, sizeof(line));
			return 1;
		}
		snprintf(cmd, sizeof(cmd), "%s\r\n", o);
		gsasl_free(o);
		if (conn_write(&c, cmd) == -1)
			return 2;
	}
	if (strncmp(line, "+OK", 3) != 0)
		return 1;
	if (quit) {
		if (conn_write(&c, "STAT\r\nQUIT\r\n") == -1 ||
		    conn_line(&c, line, sizeof(line)) == -1 ||
		    conn_line(&c, line, sizeof(line)) == -1)
			return 2;
	}
	gsasl_finish(s);
	gsasl_done(ctx);
	return 0;
}
