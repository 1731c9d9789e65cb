/*
 * popbench.c: the POP3 load client of `make bench` (bench/README.md).
 *
 * Three modes, each printing one line of key=value words on stdout:
 *   login     N worker processes loop connect, USER, PASS, STAT, QUIT
 *             for a number of seconds: sessions per second.
 *   fetch     one session: STAT, UIDL, LIST, then RETR of every message
 *             with a window of W commands in flight, QUIT: MB/s.  Each
 *             RETR must end in ".\r\n"; the octets left after removing
 *             the dot-stuffing and the terminator must equal the LIST
 *             size (spec 3); mismatches are counted and reported.
 *   stattime  one session: the time from sending PASS to the answer of
 *             the STAT that follows it (cold and warm login).
 * With --rss, fetch and stattime also find the process that holds the
 * server end of the connection (through /proc/net/tcp and /proc/PID/fd)
 * just before QUIT, and report that process's VmHWM: the peak RSS of the
 * serving process over the whole session, and its private memory then
 * (Private_Clean + Private_Dirty of /proc/PID/smaps_rollup: what the
 * session costs beyond shared library pages).
 * With --tls every connection starts with a TLS handshake (implicit TLS,
 * port 995 style; OpenSSL, no certificate check: loopback only);
 * --resume makes each login worker offer the session of its previous
 * connection and count how many were resumed; --sigalgs=rsa|ecdsa limits
 * the signature algorithms offered, which picks the server's certificate
 * when it has both.  login --tls also reports the median and 90th
 * percentile of the time from connect() to the end of SSL_connect().
 * --sasl=scram-sha-256 logs in with AUTH SCRAM-SHA-256 (RFC 5802, RFC
 * 7677) instead of USER and PASS, and checks the server's signature.
 *
 * Trusts nothing the server sends: every line is bounded, every session
 * has a deadline, the message count is bounded, and every worker loop
 * ends after a fixed time or count.  Connects to 127.0.0.1 only unless
 * told otherwise.  Not part of the handler; never linked into it.
 */
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sys/mman.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <openssl/ssl.h>

#define RBUF		(256 * 1024)	/* receive buffer */
#define MAX_LINE	4096		/* longest status or listing line */
#define MAX_MSGS	4000000		/* bound on a listing */
#define MAX_WINDOW	1024
#define MAX_CLIENTS	256

struct opts {
	const char	*host;
	int		 port;
	const char	*user;
	const char	*pass;
	int		 clients;
	double		 duration;	/* login: seconds of load */
	uint64_t	 max_sessions;	/* login: per worker */
	double		 timeout;	/* one session, seconds */
	int		 window;	/* fetch: RETRs in flight */
	int64_t		 expect_count;	/* -1: not checked */
	int64_t		 expect_octets;
	bool		 rss;
	bool		 quiet;
	bool		 tls;
	bool		 resume;
	const char	*sigalgs;
	bool		 scram;		/* AUTH SCRAM-SHA-256, not USER/PASS */
};

static void	usage(void) __attribute__((noreturn));

static SSL_CTX		*tls_ctx;	/* --tls */
static SSL_SESSION	*tls_sess;	/* --resume: the last session */
static uint64_t		 tls_resumed;	/* --resume: connections resumed */

/*
 * login --tls: the time from connect() to the end of SSL_connect() of
 * every connection, in a histogram per worker (shared memory, summed by
 * the parent): 32 buckets per power of two of microseconds, so a
 * percentile is within about 3 %.
 */
#define HS_SUB		32
#define HS_BUCKETS	(36 * HS_SUB)
static uint32_t		*hs_hist;	/* this worker's row, or NULL */

struct conn {
	int		 fd;
	SSL		*ssl;
	double		 deadline;	/* CLOCK_MONOTONIC seconds */
	size_t		 start, end;
	char		 sendq[MAX_WINDOW * 16];
	size_t		 sendlen;
	char		 buf[RBUF];
};

enum bstate { B_BOL, B_MID, B_DOT, B_DOTCR };

struct body {
	enum bstate	 st;
	bool		 prev_cr;
	uint64_t	 octets;	/* un-stuffed, no terminator */
	uint64_t	 bare_lf;	/* LF not preceded by CR */
};

static double
now(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
warnmsg(const struct opts *o, const char *what, const char *detail)
{
	if (!o->quiet)
		fprintf(stderr, "popbench: %s: %s\n", what, detail);
}

/* Waits for events until the session deadline; -1 on timeout. */
static int
wait_fd(struct conn *c, short events)
{
	struct pollfd	 pfd;
	double		 left;
	int		 n;

	for (;;) {
		left = c->deadline - now();
		if (left <= 0) {
			errno = ETIMEDOUT;
			return -1;
		}
		pfd.fd = c->fd;
		pfd.events = events;
		pfd.revents = 0;
		n = poll(&pfd, 1, (int)(left * 1000) + 1);
		if (n > 0)
			return 0;
		if (n < 0 && errno != EINTR)
			return -1;
	}
}

/*
 * read()/write() on the connection, through TLS when it runs: -1 with
 * errno EAGAIN and *ev the poll events to wait for, 0 at EOF.
 */
static ssize_t
cread(struct conn *c, void *buf, size_t len, short *ev)
{
	size_t	 n;
	int	 r;

	*ev = POLLIN;
	if (c->ssl == NULL)
		return read(c->fd, buf, len);
	if ((r = SSL_read_ex(c->ssl, buf, len, &n)) == 1)
		return (ssize_t)n;
	switch (SSL_get_error(c->ssl, r)) {
	case SSL_ERROR_ZERO_RETURN:
		return 0;
	case SSL_ERROR_WANT_READ:
		errno = EAGAIN;
		return -1;
	case SSL_ERROR_WANT_WRITE:
		*ev = POLLOUT;
		errno = EAGAIN;
		return -1;
	case SSL_ERROR_SYSCALL:
		ERR_clear_error();
		if (errno == 0)
			return 0;
		return -1;
	default:
		ERR_clear_error();
		errno = EPROTO;
		return -1;
	}
}

static ssize_t
cwrite(struct conn *c, const void *buf, size_t len, short *ev)
{
	size_t	 n;
	int	 r;

	*ev = POLLOUT;
	if (c->ssl == NULL)
		return write(c->fd, buf, len);
	if ((r = SSL_write_ex(c->ssl, buf, len, &n)) == 1)
		return (ssize_t)n;
	switch (SSL_get_error(c->ssl, r)) {
	case SSL_ERROR_WANT_READ:
		*ev = POLLIN;
		errno = EAGAIN;
		return -1;
	case SSL_ERROR_WANT_WRITE:
		errno = EAGAIN;
		return -1;
	default:
		ERR_clear_error();
		errno = EPIPE;
		return -1;
	}
}

/* The client handshake on c->fd, offering tls_sess when resuming. */
static int
tls_connect(struct conn *c, const struct opts *o)
{
	short	 ev;
	int	 r;

	if ((c->ssl = SSL_new(tls_ctx)) == NULL ||
	    SSL_set_fd(c->ssl, c->fd) != 1) {
		errno = ENOMEM;
		return -1;
	}
	if (o->resume && tls_sess != NULL)
		(void)SSL_set_session(c->ssl, tls_sess);
	while ((r = SSL_connect(c->ssl)) != 1) {
		switch (SSL_get_error(c->ssl, r)) {
		case SSL_ERROR_WANT_READ:
			ev = POLLIN;
			break;
		case SSL_ERROR_WANT_WRITE:
			ev = POLLOUT;
			break;
		default:
			ERR_clear_error();
			errno = EPROTO;
			return -1;
		}
		if (wait_fd(c, ev) == -1)
			return -1;
	}
	if (o->resume && SSL_session_reused(c->ssl))
		tls_resumed++;
	return 0;
}

static size_t
hs_bucket(uint64_t us)
{
	int	 e;
	size_t	 b;

	if (us < HS_SUB)
		return (size_t)us;
	e = 63 - __builtin_clzll(us);		/* >= 5 */
	b = (size_t)(e - 4) * HS_SUB + ((us >> (e - 5)) & (HS_SUB - 1));
	return b < HS_BUCKETS ? b : HS_BUCKETS - 1;
}

/* The middle of bucket b, in microseconds. */
static double
hs_value(size_t b)
{
	int	 e;
	double	 low, width;

	if (b < HS_SUB)
		return (double)b + 0.5;
	e = (int)(b / HS_SUB) + 4;
	width = (double)(1ULL << (e - 5));
	low = (double)(HS_SUB + b % HS_SUB) * width;
	return low + width / 2;
}

static int
conn_open(struct conn *c, const struct opts *o)
{
	struct sockaddr_in	 sin;
	socklen_t		 len;
	int			 one = 1, err;
	double			 t0 = now();

	c->start = c->end = c->sendlen = 0;
	c->deadline = t0 + o->timeout;
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)o->port);
	if (inet_pton(AF_INET, o->host, &sin.sin_addr) != 1) {
		errno = EINVAL;
		return -1;
	}
	c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd == -1)
		return -1;
	(void)setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(c->fd, (struct sockaddr *)&sin, sizeof(sin)) == -1) {
		if (errno != EINPROGRESS)
			goto fail;
		if (wait_fd(c, POLLOUT) == -1)
			goto fail;
		len = sizeof(err);
		if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1)
			goto fail;
		if (err != 0) {
			errno = err;
			goto fail;
		}
	}
	if (o->tls && tls_connect(c, o) == -1)
		goto fail;
	if (o->tls && hs_hist != NULL)
		hs_hist[hs_bucket((uint64_t)((now() - t0) * 1e6))]++;
	return 0;
 fail:
	err = errno;
	if (c->ssl != NULL)
		SSL_free(c->ssl);
	c->ssl = NULL;
	(void)close(c->fd);
	c->fd = -1;
	errno = err;
	return -1;
}

static void
conn_close(struct conn *c)
{
	if (c->ssl != NULL) {
		/*
		 * TLS 1.3 tickets arrive after the handshake: keep the last.
		 * Without close_notify OpenSSL marks the session spoiled.
		 */
		(void)SSL_shutdown(c->ssl);
		ERR_clear_error();
		if (tls_sess != NULL)
			SSL_SESSION_free(tls_sess);
		tls_sess = SSL_get1_session(c->ssl);
		SSL_free(c->ssl);
		c->ssl = NULL;
	}
	if (c->fd != -1)
		(void)close(c->fd);
	c->fd = -1;
}

/* Reads more bytes into the buffer; -1 on EOF, error or timeout. */
static int
conn_fill(struct conn *c)
{
	ssize_t	 n;
	short	 ev;

	if (c->start == c->end)
		c->start = c->end = 0;
	else if (c->end == sizeof(c->buf) && c->start > 0) {
		memmove(c->buf, c->buf + c->start, c->end - c->start);
		c->end -= c->start;
		c->start = 0;
	}
	if (c->end == sizeof(c->buf)) {
		errno = ENOBUFS;
		return -1;
	}
	for (;;) {
		n = cread(c, c->buf + c->end, sizeof(c->buf) - c->end, &ev);
		if (n > 0) {
			c->end += (size_t)n;
			return 0;
		}
		if (n == 0) {
			errno = ECONNRESET;
			return -1;
		}
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			return -1;
		if (wait_fd(c, ev) == -1)
			return -1;
	}
}

/* Sends the queued commands. */
static int
conn_flush(struct conn *c)
{
	size_t	 off = 0;
	ssize_t	 n;
	short	 ev;

	while (off < c->sendlen) {
		n = cwrite(c, c->sendq + off, c->sendlen - off, &ev);
		if (n > 0) {
			off += (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			if (wait_fd(c, ev) == -1)
				return -1;
			continue;
		}
		return -1;
	}
	c->sendlen = 0;
	return 0;
}

static int
conn_queue(struct conn *c, const char *cmd)
{
	size_t	 len = strlen(cmd);

	if (len + 2 > sizeof(c->sendq) - c->sendlen) {
		errno = ENOBUFS;
		return -1;
	}
	memcpy(c->sendq + c->sendlen, cmd, len);
	memcpy(c->sendq + c->sendlen + len, "\r\n", 2);
	c->sendlen += len + 2;
	return 0;
}

static int
conn_send(struct conn *c, const char *cmd)
{
	if (conn_queue(c, cmd) == -1)
		return -1;
	return conn_flush(c);
}

/*
 * Returns the next line without CRLF (NUL-terminated, valid until the
 * next read); a line over MAX_LINE or without CR before LF fails.
 */
static int
conn_line(struct conn *c, char **line_out)
{
	char	*p, *s;
	size_t	 len;

	for (;;) {
		s = c->buf + c->start;
		p = memchr(s, '\n', c->end - c->start);
		if (p != NULL) {
			len = (size_t)(p - s);
			c->start += len + 1;
			if (len == 0 || s[len - 1] != '\r' || len > MAX_LINE) {
				errno = EPROTO;
				return -1;
			}
			s[len - 1] = '\0';
			*line_out = s;
			return 0;
		}
		if (c->end - c->start > MAX_LINE) {
			errno = EPROTO;
			return -1;
		}
		if (c->start > 0 && c->end > sizeof(c->buf) - MAX_LINE - 2) {
			memmove(c->buf, s, c->end - c->start);
			c->end -= c->start;
			c->start = 0;
		}
		if (conn_fill(c) == -1)
			return -1;
	}
}

/* Reads one status line and requires "+OK". */
static int
expect_ok(struct conn *c, char **line_out)
{
	char	*line;

	if (conn_line(c, &line) == -1)
		return -1;
	if (strncmp(line, "+OK", 3) != 0) {
		errno = EPROTO;
		return -1;
	}
	if (line_out != NULL)
		*line_out = line;
	return 0;
}

/*
 * Feeds received bytes of a multi-line body to the un-stuffing counter.
 * Returns the bytes consumed; *done is set once ".\r\n" was consumed.
 */
static size_t
body_feed(struct body *b, const char *p, size_t len, bool *done)
{
	const char	*s = p, *end = p + len, *lf;

	while (p < end) {
		switch (b->st) {
		case B_MID:
			if ((lf = memchr(p, '\n', (size_t)(end - p))) == NULL) {
				b->octets += (uint64_t)(end - p);
				b->prev_cr = end[-1] == '\r';
				p = end;
				break;
			}
			if (!(lf > p ? lf[-1] == '\r' : b->prev_cr))
				b->bare_lf++;
			b->octets += (uint64_t)(lf + 1 - p);
			p = lf + 1;
			b->st = B_BOL;
			break;
		case B_BOL:
			b->prev_cr = false;
			if (*p == '.') {
				b->st = B_DOT;
				p++;
			} else
				b->st = B_MID;
			break;
		case B_DOT:
			/* The dot is dropped: stuffing or the terminator. */
			if (*p == '\r') {
				b->st = B_DOTCR;
				p++;
			} else
				b->st = B_MID;
			break;
		case B_DOTCR:
			if (*p == '\n') {
				*done = true;
				return (size_t)(p + 1 - s);
			}
			b->octets++;		/* the CR of "." CR x */
			b->prev_cr = true;
			b->st = B_MID;
			break;
		}
	}
	return (size_t)(p - s);
}

/* Reads a multi-line body to its terminator. */
static int
read_body(struct conn *c, struct body *b)
{
	bool	 done = false;
	size_t	 used;

	memset(b, 0, sizeof(*b));
	b->st = B_BOL;
	for (;;) {
		if (c->end > c->start) {
			used = body_feed(b, c->buf + c->start,
			    c->end - c->start, &done);
			c->start += used;
			if (done)
				return 0;
		}
		if (conn_fill(c) == -1)
			return -1;
	}
}

/* Sends QUIT, reads +OK, then waits (bounded) for the server to close. */
static int
quit(struct conn *c)
{
	char	 tmp[512];
	ssize_t	 n;
	short	 ev;

	if (conn_send(c, "QUIT") == -1 || expect_ok(c, NULL) == -1)
		return -1;
	for (;;) {
		n = cread(c, tmp, sizeof(tmp), &ev);
		if (n == 0)
			return 0;
		if (n > 0)
			continue;
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			return 0;	/* reset after QUIT: still done */
		if (wait_fd(c, ev) == -1)
			return -1;
	}
}

/* ---- AUTH SCRAM-SHA-256 (RFC 5802, RFC 7677, RFC 5034): the client ---- */

#define SCRAM_NONCE	18		/* random octets: 24 base64 chars */
#define SCRAM_MAX_ITER	10000000	/* a bound on the server's count */
#define SCRAM_BUF	4096
#define HASH_LEN	SHA256_DIGEST_LENGTH

/*
 * The salted password for the last salt and count seen.  A client may
 * keep it (RFC 5802 5.1); without it each login would spend the client's
 * CPU on PBKDF2 beside the servers being measured, which store only the
 * derived keys and never run PBKDF2 for a user with keys.
 */
static struct {
	bool		 valid;
	char		 salt[SCRAM_BUF];	/* base64, as the server sent it */
	unsigned long	 iter;
	unsigned char	 salted[HASH_LEN];
} scram_cache;

/* Base64 of len octets into out (size octets); -1 if it does not fit. */
static int
b64_enc(char *out, size_t size, const unsigned char *in, size_t len)
{
	if (len > SCRAM_BUF || size < 4 * ((len + 2) / 3) + 1)
		return -1;
	(void)EVP_EncodeBlock((unsigned char *)out, in, (int)len);
	return 0;
}

/* Decodes padded base64 of inlen chars; the octet count or -1. */
static ssize_t
b64_dec(unsigned char *out, size_t size, const char *in, size_t inlen)
{
	int	 n, pad = 0;

	if (inlen == 0 || inlen % 4 != 0 || inlen > SCRAM_BUF ||
	    size < inlen / 4 * 3)
		return -1;
	if (in[inlen - 1] == '=')
		pad = in[inlen - 2] == '=' ? 2 : 1;
	if ((n = EVP_DecodeBlock(out, (const unsigned char *)in,
	    (int)inlen)) < 0 || n < pad)
		return -1;
	return n - pad;
}

/* Reads "+ BASE64" and decodes it into a NUL-terminated string. */
static int
scram_challenge(struct conn *c, char *out, size_t size)
{
	char	*line;
	ssize_t	 n;

	if (conn_line(c, &line) == -1)
		return -1;
	if (strncmp(line, "+ ", 2) != 0 ||
	    (n = b64_dec((unsigned char *)out, size - 1, line + 2,
	    strlen(line + 2))) < 0 || memchr(out, '\0', (size_t)n) != NULL) {
		errno = EPROTO;
		return -1;
	}
	out[n] = '\0';
	return 0;
}

/* HMAC-SHA-256 of a string. */
static int
hmac256(const unsigned char *key, size_t klen, const char *msg,
    unsigned char out[HASH_LEN])
{
	unsigned int	 len = HASH_LEN;

	return HMAC(EVP_sha256(), key, (int)klen, (const unsigned char *)msg,
	    strlen(msg), out, &len) == NULL || len != HASH_LEN ? -1 : 0;
}

/*
 * The exchange after the greeting: the client's first message as the
 * initial response, the proof, then the server's signature, which must
 * match before the empty response that ends the exchange.
 */
static int
scram_login(struct conn *c, const struct opts *o)
{
	static char	 cmd[SCRAM_BUF * 2 + 32], sfirst[SCRAM_BUF],
			 sfinal[SCRAM_BUF], bare[SCRAM_BUF], msg[SCRAM_BUF * 3];
	char		 cnonce[SCRAM_NONCE * 2], name[1600], b64[SCRAM_BUF * 2];
	char		 proof64[64], *nonce, *salt, *iter, *p, *end;
	unsigned char	 raw[SCRAM_NONCE], salt_raw[SCRAM_BUF];
	unsigned char	 ckey[HASH_LEN], skey[HASH_LEN], stored[HASH_LEN];
	unsigned char	 sig[HASH_LEN], want[HASH_LEN], got[HASH_LEN + 3];
	const char	*u;
	size_t		 i, k = 0;
	ssize_t		 slen;
	unsigned long	 count;
	int		 len;

	/* saslname: "," and "=" escaped (RFC 5802 5.1). */
	for (u = o->user; *u != '\0' && k + 4 < sizeof(name); u++) {
		if (*u == ',' || *u == '=') {
			memcpy(name + k, *u == ',' ? "=2C" : "=3D", 3);
			k += 3;
		} else
			name[k++] = *u;
	}
	name[k] = '\0';
	if (RAND_bytes(raw, sizeof(raw)) != 1 ||
	    b64_enc(cnonce, sizeof(cnonce), raw, sizeof(raw)) == -1)
		goto proto;
	len = snprintf(bare, sizeof(bare), "n=%s,r=%s", name, cnonce);
	if (len < 0 || (size_t)len >= sizeof(bare))
		goto proto;
	(void)snprintf(msg, sizeof(msg), "n,,%s", bare);
	if (b64_enc(b64, sizeof(b64), (unsigned char *)msg, strlen(msg)) == -1)
		goto proto;
	(void)snprintf(cmd, sizeof(cmd), "AUTH SCRAM-SHA-256 %s", b64);
	if (conn_send(c, cmd) == -1 ||
	    scram_challenge(c, sfirst, sizeof(sfirst)) == -1)
		return -1;
	/* r=NONCE,s=SALT,i=COUNT[,extensions]; "m=" is not understood. */
	if (strncmp(sfirst, "r=", 2) != 0 ||
	    (p = strstr(sfirst, ",s=")) == NULL ||
	    (iter = strstr(p + 3, ",i=")) == NULL)
		goto proto;
	nonce = sfirst + 2;
	salt = p + 3;
	if ((size_t)(p - nonce) <= strlen(cnonce) ||
	    strncmp(nonce, cnonce, strlen(cnonce)) != 0 ||
	    memchr(nonce, ',', (size_t)(p - nonce)) != NULL)
		goto proto;
	errno = 0;
	count = strtoul(iter + 3, &end, 10);
	if (errno != 0 || end == iter + 3 || (*end != '\0' && *end != ',') ||
	    count == 0 || count > SCRAM_MAX_ITER ||
	    (size_t)(iter - salt) >= sizeof(scram_cache.salt))
		goto proto;
	if (!scram_cache.valid || scram_cache.iter != count ||
	    strlen(scram_cache.salt) != (size_t)(iter - salt) ||
	    memcmp(scram_cache.salt, salt, (size_t)(iter - salt)) != 0) {
		if ((slen = b64_dec(salt_raw, sizeof(salt_raw), salt,
		    (size_t)(iter - salt))) <= 0 ||
		    PKCS5_PBKDF2_HMAC(o->pass, (int)strlen(o->pass), salt_raw,
		    (int)slen, (int)count, EVP_sha256(), HASH_LEN,
		    scram_cache.salted) != 1)
			goto proto;
		memcpy(scram_cache.salt, salt, (size_t)(iter - salt));
		scram_cache.salt[iter - salt] = '\0';
		scram_cache.iter = count;
		scram_cache.valid = true;
	}
	/* The final message without proof: "biws" is base64("n,,"). */
	len = snprintf(cmd, sizeof(cmd), "c=biws,r=%.*s", (int)(p - nonce),
	    nonce);
	if (len < 0 || (size_t)len >= sizeof(cmd))
		goto proto;
	len = snprintf(msg, sizeof(msg), "%s,%s,%s", bare, sfirst, cmd);
	if (len < 0 || (size_t)len >= sizeof(msg))
		goto proto;
	if (hmac256(scram_cache.salted, HASH_LEN, "Client Key", ckey) == -1 ||
	    SHA256(ckey, HASH_LEN, stored) == NULL ||
	    hmac256(stored, HASH_LEN, msg, sig) == -1 ||
	    hmac256(scram_cache.salted, HASH_LEN, "Server Key", skey) == -1 ||
	    hmac256(skey, HASH_LEN, msg, want) == -1)
		goto proto;
	for (i = 0; i < HASH_LEN; i++)
		sig[i] ^= ckey[i];		/* now the ClientProof */
	if (b64_enc(proof64, sizeof(proof64), sig, HASH_LEN) == -1)
		goto proto;
	len = snprintf(sfinal, sizeof(sfinal), "%s,p=%s", cmd, proof64);
	if (len < 0 || (size_t)len >= sizeof(sfinal) ||
	    b64_enc(b64, sizeof(b64), (unsigned char *)sfinal,
	    (size_t)len) == -1)
		goto proto;
	if (conn_send(c, b64) == -1 ||
	    scram_challenge(c, sfinal, sizeof(sfinal)) == -1)
		return -1;
	/* v=ServerSignature: the server knew the keys too. */
	if (strncmp(sfinal, "v=", 2) != 0 ||
	    b64_dec(got, sizeof(got), sfinal + 2, strcspn(sfinal + 2, ",")) !=
	    HASH_LEN || CRYPTO_memcmp(got, want, HASH_LEN) != 0)
		goto proto;
	if (conn_send(c, "") == -1 || expect_ok(c, NULL) == -1)
		return -1;
	return 0;
 proto:
	errno = EPROTO;
	return -1;
}

static int
login(struct conn *c, const struct opts *o)
{
	char	 cmd[600];

	if (expect_ok(c, NULL) == -1)
		return -1;
	if (o->scram)
		return scram_login(c, o);
	(void)snprintf(cmd, sizeof(cmd), "USER %s", o->user);
	if (conn_send(c, cmd) == -1 || expect_ok(c, NULL) == -1)
		return -1;
	(void)snprintf(cmd, sizeof(cmd), "PASS %s", o->pass);
	if (conn_send(c, cmd) == -1 || expect_ok(c, NULL) == -1)
		return -1;
	return 0;
}

static int
parse_stat(const char *line, uint64_t *count_out, uint64_t *octets_out)
{
	unsigned long long	 n, sz;
	int			 used = 0;

	if (sscanf(line, "+OK %llu %llu%n", &n, &sz, &used) != 2 ||
	    line[used] != '\0' || n > MAX_MSGS) {
		errno = EPROTO;
		return -1;
	}
	*count_out = n;
	*octets_out = sz;
	return 0;
}

/* ---- peak RSS of the process at the server end of the connection ---- */

static uint64_t
sock_inode(int lport, int rport)
{
	FILE			*f;
	char			 line[512];
	unsigned int		 la, lp, ra, rp, st;
	unsigned long		 ino;
	uint64_t		 found = 0;

	if ((f = fopen("/proc/net/tcp", "r")) == NULL)
		return 0;
	while (fgets(line, sizeof(line), f) != NULL) {
		if (sscanf(line, " %*u: %8X:%4X %8X:%4X %2X %*s %*s %*s %*u "
		    "%*u %lu", &la, &lp, &ra, &rp, &st, &ino) != 6)
			continue;
		if ((int)lp == lport && (int)rp == rport && ino != 0) {
			found = ino;
			break;
		}
	}
	(void)fclose(f);
	return found;
}

static bool
pid_has_inode(long pid, const char *want)
{
	char		 path[64], link[64];
	DIR		*d;
	struct dirent	*e;
	ssize_t		 n;
	bool		 hit = false;

	(void)snprintf(path, sizeof(path), "/proc/%ld/fd", pid);
	if ((d = opendir(path)) == NULL)
		return false;
	while (!hit && (e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		n = readlinkat(dirfd(d), e->d_name, link, sizeof(link) - 1);
		if (n <= 0)
			continue;
		link[n] = '\0';
		hit = strcmp(link, want) == 0;
	}
	(void)closedir(d);
	return hit;
}

static long
status_kb(long pid, const char *key)
{
	char	 path[64], line[256];
	FILE	*f;
	long	 v = -1;
	size_t	 klen = strlen(key);

	(void)snprintf(path, sizeof(path), "/proc/%ld/status", pid);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL)
		if (strncmp(line, key, klen) == 0 && line[klen] == ':') {
			v = strtol(line + klen + 1, NULL, 10);
			break;
		}
	(void)fclose(f);
	return v;
}

/* Private_Clean + Private_Dirty of /proc/PID/smaps_rollup, or -1. */
static long
private_kb(long pid)
{
	char	 path[64], line[256];
	FILE	*f;
	long	 v = -1, n;

	(void)snprintf(path, sizeof(path), "/proc/%ld/smaps_rollup", pid);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, "Private_Clean: %ld", &n) == 1 ||
		    sscanf(line, "Private_Dirty: %ld", &n) == 1)
			v = (v < 0 ? 0 : v) + n;
	(void)fclose(f);
	return v;
}

/* Prints rss_* words for the server-side owner(s) of the connection. */
static void
report_rss(int fd)
{
	struct sockaddr_in	 a, b;
	socklen_t		 la = sizeof(a), lb = sizeof(b);
	char			 want[64], path[64], comm[20], best[64];
	uint64_t		 ino;
	DIR			*d;
	struct dirent		*e;
	long			 pid, hwm, anon, besthwm = -1;
	long			 bestanon = -1, bestpriv = -1;
	int			 owners = 0;
	FILE			*f;
	char			*end;

	if (getsockname(fd, (struct sockaddr *)&a, &la) == -1 ||
	    getpeername(fd, (struct sockaddr *)&b, &lb) == -1 ||
	    (ino = sock_inode(ntohs(b.sin_port), ntohs(a.sin_port))) == 0 ||
	    (d = opendir("/proc")) == NULL) {
		printf(" rss_hwm_kb=-1 rss_owners=0");
		return;
	}
	(void)snprintf(want, sizeof(want), "socket:[%" PRIu64 "]", ino);
	best[0] = '\0';
	while ((e = readdir(d)) != NULL) {
		pid = strtol(e->d_name, &end, 10);
		if (*end != '\0' || pid <= 0 || pid == (long)getpid())
			continue;
		if (!pid_has_inode(pid, want))
			continue;
		owners++;
		hwm = status_kb(pid, "VmHWM");
		anon = status_kb(pid, "RssAnon");
		if (hwm <= besthwm)
			continue;
		besthwm = hwm;
		bestanon = anon;
		bestpriv = private_kb(pid);
		comm[0] = '\0';
		(void)snprintf(path, sizeof(path), "/proc/%ld/comm", pid);
		if ((f = fopen(path, "r")) != NULL) {
			if (fgets(comm, sizeof(comm), f) == NULL)
				comm[0] = '\0';
			(void)fclose(f);
		}
		comm[strcspn(comm, "\n ")] = '\0';
		(void)snprintf(best, sizeof(best), "%ld/%s", pid, comm);
	}
	(void)closedir(d);
	printf(" rss_hwm_kb=%ld rss_anon_kb=%ld private_kb=%ld rss_owners=%d "
	    "rss_proc=%s", besthwm, bestanon, bestpriv, owners,
	    best[0] != '\0' ? best : "none");
}

/* ---- modes ---- */

static int
one_login_session(const struct opts *o)
{
	struct conn	*c;
	char		*line;
	uint64_t	 n, sz;
	int		 rv = -1;
	static struct conn cbuf;

	c = &cbuf;
	if (conn_open(c, o) == -1)
		return -1;
	if (login(c, o) == -1 || conn_send(c, "STAT") == -1 ||
	    expect_ok(c, &line) == -1 || parse_stat(line, &n, &sz) == -1)
		goto out;
	if (o->expect_count >= 0 && (int64_t)n != o->expect_count) {
		errno = EPROTO;
		goto out;
	}
	if (quit(c) == -1)
		goto out;
	rv = 0;
 out:
	conn_close(c);
	return rv;
}

/* The value below which a share q of the counts lies, in ms. */
static double
hs_percentile(const uint64_t *sum, uint64_t total, double q)
{
	uint64_t	 seen = 0;
	size_t		 b;

	for (b = 0; b < HS_BUCKETS; b++) {
		seen += sum[b];
		if ((double)seen >= q * (double)total)
			return hs_value(b) / 1000;
	}
	return -1;
}

static void
worker(const struct opts *o, double end, int wfd)
{
	uint64_t	 ok = 0, failed = 0, consecutive = 0;
	char		 msg[128];
	int		 len;

	while (now() < end && ok + failed < o->max_sessions) {
		if (one_login_session(o) == 0) {
			ok++;
			consecutive = 0;
			continue;
		}
		if (failed == 0)
			warnmsg(o, "login session failed",
			    strerror(errno));
		failed++;
		/* A dead server: stop hammering it. */
		if (++consecutive >= 50)
			break;
	}
	len = snprintf(msg, sizeof(msg), "%" PRIu64 " %" PRIu64 " %" PRIu64
	    "\n", ok, failed, tls_resumed);
	if (len > 0 && write(wfd, msg, (size_t)len) != len)
		_exit(1);
	_exit(0);
}

static int
mode_login(const struct opts *o)
{
	pid_t		 pids[MAX_CLIENTS];
	int		 fds[MAX_CLIENTS];
	int		 p[2], i, st, alive;
	double		 t0, end, hard, t1;
	uint64_t	 ok = 0, failed = 0, resumed = 0, a, b, r;
	char		 buf[128];
	ssize_t		 n;
	pid_t		 w;
	uint32_t	*hist = NULL;
	static uint64_t	 hsum[HS_BUCKETS];
	uint64_t	 hn = 0;
	size_t		 k;

	if (o->tls) {
		hist = mmap(NULL, (size_t)o->clients * HS_BUCKETS *
		    sizeof(*hist), PROT_READ | PROT_WRITE,
		    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
		if (hist == MAP_FAILED)
			return -1;
	}
	t0 = now();
	end = t0 + o->duration;
	hard = end + o->timeout + 5;
	for (i = 0; i < o->clients; i++) {
		if (pipe(p) == -1)
			return -1;
		if ((pids[i] = fork()) == -1)
			return -1;
		if (pids[i] == 0) {
			(void)close(p[0]);
			if (hist != NULL)
				hs_hist = hist + (size_t)i * HS_BUCKETS;
			worker(o, end, p[1]);
		}
		(void)close(p[1]);
		fds[i] = p[0];
	}
	/* Every worker stops by itself; past the hard limit it is killed. */
	for (alive = o->clients; alive > 0; ) {
		w = waitpid(-1, &st, WNOHANG);
		if (w > 0) {
			alive--;
			continue;
		}
		if (now() > hard) {
			for (i = 0; i < o->clients; i++)
				if (pids[i] > 0)
					(void)kill(pids[i], SIGKILL);
			while (waitpid(-1, &st, 0) > 0)
				;
			break;
		}
		(void)usleep(2000);
	}
	t1 = now();
	for (i = 0; i < o->clients; i++) {
		n = read(fds[i], buf, sizeof(buf) - 1);
		if (n > 0) {
			buf[n] = '\0';
			if (sscanf(buf, "%" SCNu64 " %" SCNu64 " %" SCNu64,
			    &a, &b, &r) == 3) {
				ok += a;
				failed += b;
				resumed += r;
			}
		} else
			failed++;
		(void)close(fds[i]);
	}
	printf("sessions=%" PRIu64 " failed=%" PRIu64 " secs=%.3f rate=%.1f",
	    ok, failed, t1 - t0, (double)ok / (t1 - t0));
	/* The first connection of each worker has nothing to offer. */
	if (o->resume)
		printf(" resumed=%" PRIu64 " resumed_pct=%.1f", resumed,
		    ok > (uint64_t)o->clients ? 100.0 * (double)resumed /
		    (double)(ok - (uint64_t)o->clients) : 0.0);
	if (hist != NULL) {
		for (i = 0; i < o->clients; i++)
			for (k = 0; k < HS_BUCKETS; k++)
				hsum[k] += hist[(size_t)i * HS_BUCKETS + k];
		for (k = 0; k < HS_BUCKETS; k++)
			hn += hsum[k];
		if (hn > 0)
			printf(" handshakes=%" PRIu64 " hs_p50_ms=%.2f "
			    "hs_p90_ms=%.2f", hn, hs_percentile(hsum, hn, 0.5),
			    hs_percentile(hsum, hn, 0.9));
		(void)munmap(hist, (size_t)o->clients * HS_BUCKETS *
		    sizeof(*hist));
	}
	printf("\n");
	return failed == 0 && ok > 0 ? 0 : 1;
}

static int
multiline_count(struct conn *c, uint64_t *sizes, uint64_t n,
    uint64_t *lines_out)
{
	char			*line;
	unsigned long long	 k, v;
	int			 used;
	uint64_t		 lines = 0;

	for (;;) {
		if (conn_line(c, &line) == -1)
			return -1;
		if (strcmp(line, ".") == 0)
			break;
		if (++lines > n) {
			errno = EPROTO;
			return -1;
		}
		if (sizes == NULL)
			continue;
		used = 0;
		if (sscanf(line, "%llu %llu%n", &k, &v, &used) != 2 ||
		    line[used] != '\0' || k == 0 || k > n) {
			errno = EPROTO;
			return -1;
		}
		sizes[k - 1] = v;
	}
	*lines_out = lines;
	return 0;
}

static int
mode_fetch(const struct opts *o)
{
	static struct conn	 cbuf;
	struct conn		*c = &cbuf;
	struct body		 b;
	char			*line, cmd[64];
	uint64_t		 n, total, lines, sent = 0, done = 0;
	uint64_t		 got = 0, mismatch = 0, bare = 0, badstat = 0;
	uint64_t		*sizes = NULL;
	double			 t0, t1;
	const char		*stage = "connect";

	if (conn_open(c, o) == -1)
		goto fail;
	stage = "login";
	if (login(c, o) == -1)
		goto fail;
	t0 = now();
	stage = "STAT";
	if (conn_send(c, "STAT") == -1 || expect_ok(c, &line) == -1 ||
	    parse_stat(line, &n, &total) == -1)
		goto fail;
	if ((o->expect_count >= 0 && (int64_t)n != o->expect_count) ||
	    (o->expect_octets >= 0 && (int64_t)total != o->expect_octets))
		badstat = 1;
	if ((sizes = calloc(n + 1, sizeof(*sizes))) == NULL)
		goto fail;
	stage = "UIDL";
	if (conn_send(c, "UIDL") == -1 || expect_ok(c, NULL) == -1 ||
	    multiline_count(c, NULL, n, &lines) == -1 || lines != n)
		goto fail;
	stage = "LIST";
	if (conn_send(c, "LIST") == -1 || expect_ok(c, NULL) == -1 ||
	    multiline_count(c, sizes, n, &lines) == -1 || lines != n)
		goto fail;
	stage = "RETR";
	while (done < n) {
		while (sent < n && sent - done < (uint64_t)o->window) {
			(void)snprintf(cmd, sizeof(cmd), "RETR %" PRIu64,
			    sent + 1);
			if (conn_queue(c, cmd) == -1)
				goto fail;
			sent++;
		}
		if (conn_flush(c) == -1 || expect_ok(c, NULL) == -1 ||
		    read_body(c, &b) == -1)
			goto fail;
		if (b.octets != sizes[done]) {
			if (mismatch == 0 && !o->quiet)
				fprintf(stderr, "popbench: RETR %" PRIu64
				    ": %" PRIu64 " octets, LIST said %"
				    PRIu64 "\n", done + 1, b.octets,
				    sizes[done]);
			mismatch++;
		}
		bare += b.bare_lf;
		got += b.octets;
		done++;
	}
	t1 = now();
	printf("msgs=%" PRIu64 " octets=%" PRIu64 " secs=%.4f mbps=%.2f "
	    "mismatches=%" PRIu64 " bare_lf=%" PRIu64 " stat_mismatch=%"
	    PRIu64 " stat_octets=%" PRIu64, n, got, t1 - t0,
	    (double)got / 1e6 / (t1 - t0), mismatch, bare, badstat, total);
	if (o->rss)
		report_rss(c->fd);
	stage = "QUIT";
	if (quit(c) == -1) {
		printf(" quit=failed\n");
		goto fail;
	}
	printf("\n");
	free(sizes);
	conn_close(c);
	return mismatch == 0 && bare == 0 && badstat == 0 ? 0 : 3;
 fail:
	warnmsg(o, "fetch failed at", stage);
	if (!o->quiet)
		fprintf(stderr, "popbench: %s\n", strerror(errno));
	free(sizes);
	conn_close(c);
	return 1;
}

static int
mode_stattime(const struct opts *o)
{
	static struct conn	 cbuf;
	struct conn		*c = &cbuf;
	char			*line, cmd[600];
	uint64_t		 n, total;
	double			 t0, t1, t2;

	if (conn_open(c, o) == -1 || expect_ok(c, NULL) == -1)
		goto fail;
	(void)snprintf(cmd, sizeof(cmd), "USER %s", o->user);
	if (conn_send(c, cmd) == -1 || expect_ok(c, NULL) == -1)
		goto fail;
	(void)snprintf(cmd, sizeof(cmd), "PASS %s", o->pass);
	t0 = now();
	if (conn_send(c, cmd) == -1 || expect_ok(c, NULL) == -1)
		goto fail;
	t1 = now();
	if (conn_send(c, "STAT") == -1 || expect_ok(c, &line) == -1 ||
	    parse_stat(line, &n, &total) == -1)
		goto fail;
	t2 = now();
	printf("secs=%.4f pass_secs=%.4f count=%" PRIu64 " octets=%" PRIu64
	    " count_ok=%d", t2 - t0, t1 - t0, n, total,
	    o->expect_count < 0 || (int64_t)n == o->expect_count);
	if (o->rss)
		report_rss(c->fd);
	if (quit(c) == -1) {
		printf(" quit=failed\n");
		goto fail;
	}
	printf("\n");
	conn_close(c);
	return o->expect_count < 0 || (int64_t)n == o->expect_count ? 0 : 3;
 fail:
	if (!o->quiet)
		fprintf(stderr, "popbench: stattime failed: %s\n",
		    strerror(errno));
	conn_close(c);
	return 1;
}

/* The client context: TLS 1.2+, no certificate check (loopback). */
static int
tls_setup(const struct opts *o)
{
	static const char rsa[] = "rsa_pss_rsae_sha256:rsa_pss_rsae_sha384:"
	    "rsa_pss_rsae_sha512:rsa_pkcs1_sha256:rsa_pkcs1_sha384";
	static const char ecdsa[] = "ecdsa_secp256r1_sha256:"
	    "ecdsa_secp384r1_sha384";

	if ((tls_ctx = SSL_CTX_new(TLS_client_method())) == NULL ||
	    SSL_CTX_set_min_proto_version(tls_ctx, TLS1_2_VERSION) != 1)
		return -1;
	SSL_CTX_set_verify(tls_ctx, SSL_VERIFY_NONE, NULL);
	/* Sessions are kept by hand (SSL_get1_session), not cached. */
	(void)SSL_CTX_set_session_cache_mode(tls_ctx, SSL_SESS_CACHE_OFF);
	if (!o->resume)
		SSL_CTX_set_options(tls_ctx, SSL_OP_NO_TICKET);
	if (o->sigalgs != NULL) {
		if (strcmp(o->sigalgs, "rsa") != 0 &&
		    strcmp(o->sigalgs, "ecdsa") != 0)
			usage();
		if (SSL_CTX_set1_sigalgs_list(tls_ctx,
		    strcmp(o->sigalgs, "rsa") == 0 ? rsa : ecdsa) != 1)
			return -1;
	}
	return 0;
}

static void
usage(void)
{
	fprintf(stderr,
	    "usage: popbench login|fetch|stattime -p PORT -u USER -w PASS\n"
	    "  [-H 127.0.0.1] [-T session-timeout-s=60] [-q]\n"
	    "  login:    [-c clients=16] [-d seconds=10] [-n max-per-worker]\n"
	    "  fetch:    [-W window=1] [--rss]\n"
	    "  stattime: [--rss]\n"
	    "  fetch, login, stattime: [--expect-count N]\n"
	    "  all: [--tls] (implicit TLS) [--sigalgs=rsa|ecdsa]\n"
	    "  login:    [--resume] (offer the previous TLS session)\n"
	    "  login, fetch: [--sasl=scram-sha-256] (AUTH, not USER/PASS)\n"
	    "  fetch:    [--expect-octets N]\n");
	exit(2);
}

static long long
num(const char *s, long long lo, long long hi)
{
	char		*end;
	long long	 v;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < lo || v > hi)
		usage();
	return v;
}

int
main(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "rss", no_argument, NULL, 'R' },
		{ "expect-count", required_argument, NULL, 'E' },
		{ "expect-octets", required_argument, NULL, 'O' },
		{ "tls", no_argument, NULL, 'S' },
		{ "resume", no_argument, NULL, 'r' },
		{ "sigalgs", required_argument, NULL, 'A' },
		{ "sasl", required_argument, NULL, 'M' },
		{ NULL, 0, NULL, 0 }
	};
	struct opts	 o;
	const char	*mode;
	int		 ch;

	memset(&o, 0, sizeof(o));
	o.host = "127.0.0.1";
	o.clients = 16;
	o.duration = 10;
	o.max_sessions = 10000000;
	o.timeout = 60;
	o.window = 1;
	o.expect_count = -1;
	o.expect_octets = -1;
	if (argc < 2)
		usage();
	mode = argv[1];
	optind = 2;
	while ((ch = getopt_long(argc, argv, "H:p:u:w:c:d:n:T:W:q", longopts,
	    NULL)) != -1) {
		switch (ch) {
		case 'H': o.host = optarg; break;
		case 'p': o.port = (int)num(optarg, 1, 65535); break;
		case 'u': o.user = optarg; break;
		case 'w': o.pass = optarg; break;
		case 'c': o.clients = (int)num(optarg, 1, MAX_CLIENTS); break;
		case 'd': o.duration = (double)num(optarg, 1, 3600); break;
		case 'n': o.max_sessions = (uint64_t)num(optarg, 1, 1LL << 40);
			break;
		case 'T': o.timeout = (double)num(optarg, 1, 3600); break;
		case 'W': o.window = (int)num(optarg, 1, MAX_WINDOW); break;
		case 'q': o.quiet = true; break;
		case 'R': o.rss = true; break;
		case 'E': o.expect_count = num(optarg, 0, MAX_MSGS); break;
		case 'O': o.expect_octets = num(optarg, 0, INT64_MAX); break;
		case 'S': o.tls = true; break;
		case 'r': o.resume = true; break;
		case 'A': o.sigalgs = optarg; break;
		case 'M':
			if (strcmp(optarg, "scram-sha-256") != 0)
				usage();
			o.scram = true;
			break;
		default: usage();
		}
	}
	if (o.port == 0 || o.user == NULL || o.pass == NULL ||
	    strlen(o.user) > 500 || strlen(o.pass) > 500)
		usage();
	(void)signal(SIGPIPE, SIG_IGN);
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (o.resume && !o.tls)
		usage();
	if (o.tls && tls_setup(&o) == -1) {
		fprintf(stderr, "popbench: cannot set up TLS\n");
		return 2;
	}
	if (strcmp(mode, "login") == 0)
		return mode_login(&o);
	if (strcmp(mode, "fetch") == 0)
		return mode_fetch(&o);
	if (strcmp(mode, "stattime") == 0)
		return mode_stattime(&o);
	usage();
	return 2;
}
