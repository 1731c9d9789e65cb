/*
 * pop3-handler.c: main().  Reads the options and the config file into one
 * struct config, handles the helper modes, finds the peer, and runs one
 * session on fd 0/1 (spec 1).  Runs before authentication with whatever
 * identity the launcher gave; it opens only the config file.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <poll.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "auth.h"
#include "checkuser.h"
#include "config.h"
#include "io.h"
#include "log.h"
#include "ntlm.h"
#include "proxy.h"
#include "sasl.h"
#include "session.h"
#include "tls.h"
#include "util.h"

enum mode {
	MODE_SERVE,
	MODE_CHECK_CONFIG,
	MODE_HASH_PASSWORD,
	MODE_CHECK_USER,
};

static const char usage[] =
"usage: pop3-handler [--config=FILE] [--name=value ...] [--debug]\n"
"       pop3-handler --check-config | --check-user=NAME\n"
"       pop3-handler --hash-password [--scheme=yescrypt|ntlm|scram-sha-256|\n"
"                    scram-sha-1] [--iterations=N]   (SCRAM: default 10000,\n"
"                    at least 4096)\n"
"       pop3-handler --version | --help\n"
"\n"
"Serves one POP3 session on fd 0/1 (inetd style).  Settings, each also a\n"
"\"name = value\" line in the --config file (the command line wins):\n";

static bool
fd_is_socket(int fd)
{
	struct stat st;

	return fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode);
}

/*
 * spec 1: a bad setting gives a clear message and exit 2; the only byte
 * sent on a socket is one -ERR line.  Under xinetd fd 2 may be the
 * socket, so the message then goes to syslog instead.
 */
static void __attribute__((format(printf, 1, 2), noreturn))
config_error(const char *fmt, ...)
{
	static const char line[] = "-ERR [SYS/PERM] Server misconfigured\r\n";
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	(void)vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (!fd_is_socket(STDERR_FILENO))
		fprintf(stderr, "pop3-handler: %s\n", msg);
	else {
		log_init(LOGTO_SYSLOG);
		log_warnx("%s", msg);
	}
	if (fd_is_socket(STDOUT_FILENO))
		(void)!write(STDOUT_FILENO, line, sizeof(line) - 1);
	exit(EXIT_CONFIG);
}

static void
read_config_file(struct config *c, const char *path)
{
	char line[CONFIG_MAX_LINE + 2], buf[CONFIG_MAX_LINE + 2];
	const char *name, *value, *errstr;
	unsigned int lineno = 0;
	size_t len;
	FILE *f;
	int r;

	if ((f = fopen(path, "re")) == NULL)
		config_error("%s: %s", path, strerror(errno));
	while (fgets(line, sizeof(line), f) != NULL) {
		lineno++;
		len = strlen(line);
		if (len > 0 && line[len - 1] == '\n')
			line[--len] = '\0';
		else if (!feof(f))
			config_error("%s:%u: line too long", path, lineno);
		r = config_parse_line(line, len, buf, sizeof(buf), &name,
		    &value, &errstr);
		if (r == -1)
			config_error("%s:%u: %s", path, lineno, errstr);
		if (r == 1 && config_set(c, name, value, &errstr) == -1)
			config_error("%s:%u: %s: %s", path, lineno, name,
			    errstr);
	}
	if (ferror(f))
		config_error("%s: read error", path);
	fclose(f);
}

/* Splits "--name=value" (or "--name" for yes) into a copy in buf. */
static void
split_option(const char *arg, char *buf, size_t size, const char **name,
    const char **value)
{
	char *eq;

	if (strncmp(arg, "--", 2) != 0 || strlcpy_(buf, arg + 2, size) >= size)
		config_error("bad argument: %s (see --help)", arg);
	*name = buf;
	if ((eq = strchr(buf, '=')) != NULL) {
		*eq = '\0';
		*value = eq + 1;
	} else
		*value = NULL;
}

static enum mode
parse_args(struct config *c, int argc, char **argv, bool *debug,
    const char **check_user, const char **scheme, const char **iterations)
{
	char buf[CONFIG_MAX_LINE];
	const char *name, *value, *errstr;
	enum mode mode = MODE_SERVE;
	int i;

	for (i = 1; i < argc; i++) {
		split_option(argv[i], buf, sizeof(buf), &name, &value);
		if (!strcmp(name, "config") && value != NULL)
			read_config_file(c, value);
	}
	for (i = 1; i < argc; i++) {
		split_option(argv[i], buf, sizeof(buf), &name, &value);
		if (!strcmp(name, "config") && value != NULL)
			continue;
		if (!strcmp(name, "check-user") && value != NULL) {
			mode = MODE_CHECK_USER;
			*check_user = argv[i] + sizeof("--check-user=") - 1;
			continue;
		}
		if (!strcmp(name, "scheme") && value != NULL) {
			*scheme = argv[i] + sizeof("--scheme=") - 1;
			continue;
		}
		if (!strcmp(name, "iterations") && value != NULL) {
			*iterations = argv[i] + sizeof("--iterations=") - 1;
			continue;
		}
		if (value == NULL) {
			if (!strcmp(name, "help")) {
				fputs(usage, stdout);
				config_usage(stdout);
				exit(0);
			}
			if (!strcmp(name, "version")) {
				printf("pop3-handler %s\n", POP3_VERSION);
				exit(0);
			}
			if (!strcmp(name, "check-config"))
				mode = MODE_CHECK_CONFIG;
			else if (!strcmp(name, "hash-password"))
				mode = MODE_HASH_PASSWORD;
			else if (!strcmp(name, "debug"))
				*debug = true;
			else if (!strcmp(name, "implicit-tls") ||
			    !strcmp(name, "secured") ||
			    !strcmp(name, "proxy-protocol"))
				(void)config_set(c, name, "yes", &errstr);
			else
				config_error("--%s: unknown option or missing "
				    "value (see --help)", name);
			continue;
		}
		if (config_set(c, name, value, &errstr) == -1)
			config_error("--%s=%s: %s", name, value, errstr);
	}
	return mode;
}

/* Reads one line of stdin into pw without its line end; false at EOF. */
static bool
read_pw_line(char *pw, size_t size)
{
	size_t len;

	if (fgets(pw, (int)size, stdin) == NULL)
		return false;
	len = strlen(pw);
	if (len > 0 && pw[len - 1] == '\n')
		pw[--len] = '\0';
	if (len > 0 && pw[len - 1] == '\r')
		pw[--len] = '\0';
	return true;
}

/*
 * spec 4.1: on a terminal, prompts on stderr with echo off and asks
 * twice (a mismatch: -1 with a message); otherwise reads the first line
 * of stdin as it is.  Returns 0 and the length in *len_out, or -1.
 */
static int
read_password(char *pw, size_t size, size_t *len_out)
{
	char again[MAX_PASSWORD + 2] = "";
	struct termios old, quiet;
	bool got, same;

	if (!isatty(STDIN_FILENO) || tcgetattr(STDIN_FILENO, &old) == -1) {
		if (!read_pw_line(pw, size))
			goto eof;
		*len_out = strlen(pw);
		return 0;
	}
	quiet = old;
	quiet.c_lflag &= ~(tcflag_t)ECHO;
	quiet.c_lflag |= ECHONL;
	if (tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet) == -1)
		goto eof;
	fputs("Password: ", stderr);
	got = read_pw_line(pw, size);
	if (got) {
		fputs("Retype password: ", stderr);
		got = read_pw_line(again, sizeof(again));
	}
	(void)tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
	same = got && strcmp(pw, again) == 0;
	explicit_bzero(again, sizeof(again));
	if (!got)
		goto eof;
	if (!same) {
		explicit_bzero(pw, size);
		fprintf(stderr, "pop3-handler: the passwords do not match\n");
		return -1;
	}
	*len_out = strlen(pw);
	return 0;
eof:
	fprintf(stderr, "pop3-handler: no password on stdin\n");
	return -1;
}

/* --hash-password --scheme=yescrypt: a $y$ hash field. */
static int
hash_yescrypt(const char *pw, size_t len, uint32_t iter)
{
	char hash[AUTH_MAX_HASH];

	(void)len;
	(void)iter;
	if (auth_hash_password(pw, hash, sizeof(hash)) == -1) {
		fprintf(stderr, "pop3-handler: cannot hash the password\n");
		return EXIT_CONFIG;
	}
	printf("%s\n", hash);
	return 0;
}

/* --hash-password --scheme=ntlm: the ntlm= extra field (spec 4.2). */
static int
hash_ntlm(const char *pw, size_t len, uint32_t iter)
{
	uint8_t h[NTLM_HASH_LEN];
	const char *errstr;
	int i;

	(void)iter;
	if (ntlm_nt_hash(pw, len, h, &errstr) == -1) {
		fprintf(stderr, "pop3-handler: %s\n", errstr);
		return EXIT_CONFIG;
	}
	printf("ntlm=");
	for (i = 0; i < NTLM_HASH_LEN; i++)
		printf("%02x", h[i]);
	printf("\n");
	explicit_bzero(h, sizeof(h));
	return 0;
}

/*
 * --scheme=scram-sha-256|scram-sha-1: Dovecot's {SCRAM-SHA-*} field
 * (spec 4.1), iter PBKDF2 rounds.
 */
static int
hash_scram(const char *pw, enum scram_hash h, uint32_t iter)
{
	char hash[AUTH_MAX_HASH];
	const char *errstr;

	if (sasl_hash_password(h, iter, pw, hash, sizeof(hash), &errstr) ==
	    -1) {
		fprintf(stderr, "pop3-handler: %s\n", errstr);
		return EXIT_CONFIG;
	}
	printf("%s\n", hash);
	explicit_bzero(hash, sizeof(hash));
	return 0;
}

static int
hash_scram256(const char *pw, size_t len, uint32_t iter)
{
	(void)len;
	return hash_scram(pw, SCRAM_SHA_256, iter);
}

static int
hash_scram1(const char *pw, size_t len, uint32_t iter)
{
	(void)len;
	return hash_scram(pw, SCRAM_SHA_1, iter);
}

/*
 * spec 4.1: --scheme=NAME picks a row; the first is the default.  iter
 * says whether --iterations applies.
 */
static const struct hash_scheme {
	const char	*name;
	int		(*run)(const char *pw, size_t len, uint32_t iter);
	bool		 iter;
} hash_schemes[] = {
	{ "yescrypt", hash_yescrypt, false },
	{ "ntlm", hash_ntlm, false },
	{ "scram-sha-256", hash_scram256, true },
	{ "scram-sha-1", hash_scram1, true },
	{ NULL, NULL, false }
};

static int
hash_password(const char *scheme, const char *iterations)
{
	const struct hash_scheme *hs = hash_schemes;
	char pw[MAX_PASSWORD + 2];
	uint32_t iter = SASL_SCRAM_ITER;
	size_t len;
	int st;

	while (scheme != NULL && hs->name != NULL && strcmp(hs->name, scheme))
		hs++;
	if (hs->name == NULL)
		config_error("--scheme=%s: unknown scheme (yescrypt, ntlm, "
		    "scram-sha-256, scram-sha-1)", scheme);
	if (iterations != NULL && !hs->iter)
		config_error("--iterations is for the SCRAM schemes");
	if (iterations != NULL && (parse_u32(iterations, &iter) != NUM_OK ||
	    iter < AUTH_MIN_SCRAM_ITER || iter > AUTH_MAX_SCRAM_ITER))
		config_error("--iterations=%s: not a number in %u..%u",
		    iterations, AUTH_MIN_SCRAM_ITER, AUTH_MAX_SCRAM_ITER);
	if (read_password(pw, sizeof(pw), &len) == -1)
		return EXIT_CONFIG;
	st = hs->run(pw, len, iter);
	explicit_bzero(pw, sizeof(pw));
	return st;
}

/*
 * spec 1: the penalty file's directory must exist or be creatable by
 * the service account; --check-config says so, it does not create it.
 */
static void
check_penalty_dir(const char *file)
{
	char dir[4096], *slash;
	struct stat sb;

	if (file == NULL || strlcpy_(dir, file, sizeof(dir)) >= sizeof(dir) ||
	    (slash = strrchr(dir, '/')) == NULL || slash == dir)
		return;
	*slash = '\0';
	if (stat(dir, &sb) == 0)
		return;
	fprintf(stderr, "pop3-handler: note: penalty-file %s: directory %s: "
	    "%s; the first failed login creates it (mode 0700) only if the "
	    "service account may; create it (install -d -m 0700 -o "
	    "SERVICE-USER %s) or set penalty-file = none\n", file, dir,
	    strerror(errno), dir);
}

static int
check_config(const struct config *c)
{
	const char *errstr;
	struct tls *t;
	int bad;

	if (c->tls_cert != NULL) {
		/* Everything a session loads only when TLS is used. */
		if ((t = tls_new(c->tls_cert, c->tls_key,
		    c->tls_ticket_key_file, &errstr)) == NULL ||
		    tls_check(t, &errstr) == -1) {
			fprintf(stderr, "pop3-handler: %s\n", errstr);
			tls_free(t);
			return EXIT_CONFIG;
		}
		tls_free(t);
	}
	if ((bad = auth_check_file(c->passwd_file)) == -1) {
		fprintf(stderr, "pop3-handler: cannot read %s: %s\n",
		    c->passwd_file, strerror(errno));
		return EXIT_CONFIG;
	}
	if (bad > 0) {
		fprintf(stderr, "pop3-handler: %s: %d bad line%s\n",
		    c->passwd_file, bad, bad == 1 ? "" : "s");
		return EXIT_CONFIG;
	}
	check_penalty_dir(c->penalty_file);
	printf("configuration OK\n");
	return 0;
}

/*
 * spec 9: the peer from getpeername(0); pipes and socketpairs are local.
 * Writes a printable address into buf and returns whether it is loopback.
 */
static bool
find_peer(char *buf, size_t size)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
	socklen_t len = sizeof(ss);
	const uint8_t *a;

	if (getpeername(STDIN_FILENO, (struct sockaddr *)&ss, &len) == -1) {
		(void)strlcpy_(buf, errno == ENOTSOCK ? "local" : "unknown",
		    size);
		return errno == ENOTSOCK;
	}
	switch (ss.ss_family) {
	case AF_INET:
		inet_ntop(AF_INET, &sin->sin_addr, buf, size);
		return (ntohl(sin->sin_addr.s_addr) >> 24) == 127;
	case AF_INET6:
		proxy_ntop6(&sin6->sin6_addr, buf, size);
		a = sin6->sin6_addr.s6_addr;
		if (IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr))
			return a[12] == 127;
		return IN6_IS_ADDR_LOOPBACK(&sin6->sin6_addr);
	case AF_UNIX:
		(void)strlcpy_(buf, "local", size);
		return true;
	default:
		(void)strlcpy_(buf, "unknown", size);
		return false;
	}
}

/*
 * spec 9: reads a PROXY v1/v2 header from fd 0 without reading past it,
 * within the unauthenticated idle limit.  Returns 0 or -1 (close).
 */
static int
read_proxy_header(unsigned int timeout, struct proxy_result *res,
    const char **errstr)
{
	unsigned char buf[PROXY_V2_MAX];
	struct timespec t0, t1;
	struct pollfd pfd;
	size_t len = 0, want;
	int64_t left;
	ssize_t n;
	int r;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		if ((r = proxy_parse(buf, len, res, errstr)) > 0)
			return 0;
		if (r == -1)
			return -1;
		want = 1;
		if (len >= 16 && buf[0] == '\r')	/* v2: length known */
			want = 16 + ((size_t)buf[14] << 8 | buf[15]) - len;
		clock_gettime(CLOCK_MONOTONIC, &t1);
		left = (int64_t)timeout * 1000 -
		    ((int64_t)(t1.tv_sec - t0.tv_sec) * 1000 +
		    (t1.tv_nsec - t0.tv_nsec) / 1000000);
		pfd.fd = STDIN_FILENO;
		pfd.events = POLLIN;
		if (left <= 0 || poll(&pfd, 1, (int)left) == 0) {
			*errstr = "no PROXY header in time";
			return -1;
		}
		n = read(STDIN_FILENO, buf + len, want);
		if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN)) {
			*errstr = "connection closed before the PROXY header";
			return -1;
		}
		if (n > 0)
			len += (size_t)n;
	}
}

/*
 * Finds the peer (PROXY header first when configured), runs implicit TLS
 * when configured, and serves one session.  Returns the exit status.
 */
static int
serve(const struct config *cfg, struct tls *tls)
{
	struct io_transport tr;
	struct proxy_result pr;
	struct config proxied;
	char ptls[sizeof(pr.ssl_version) + sizeof(pr.ssl_cipher) + 8];
	const char *errstr;
	char peer[INET6_ADDRSTRLEN + 8];
	const char *peer_addr = peer;
	struct io *io;
	bool loopback;
	int st;

	loopback = find_peer(peer, sizeof(peer));
	log_set_peer(peer);
	if (cfg->proxy_protocol) {
		if (read_proxy_header(cfg->timeout_unauth, &pr, &errstr) == -1) {
			log_event(EVENT_ERROR, "PROXY header: %s", errstr);
			return EXIT_ERROR;
		}
		if (!pr.local) {
			loopback = pr.loopback;
			log_set_peer(pr.addr);
			peer_addr = pr.addr;
		}
		if (!pr.local && pr.ssl && !cfg->implicit_tls) {
			/*
			 * spec 9: the proxy ended TLS (send-proxy-v2-ssl).
			 * The transport is protected as with "secured": no
			 * STLS inside it, plaintext auth as under TLS.
			 */
			proxied = *cfg;
			proxied.secured = true;
			cfg = &proxied;
			tls = NULL;
			(void)snprintf(ptls, sizeof(ptls), "proxy:%s/%s",
			    pr.ssl_version[0] ? pr.ssl_version : "TLS",
			    pr.ssl_cipher[0] ? pr.ssl_cipher : "unknown");
			log_set_tls(ptls);
		}
	}
	if ((io = io_new(STDIN_FILENO, STDOUT_FILENO,
	    cfg->max_command_length)) == NULL) {
		log_warn("out of memory");
		return EXIT_ERROR;
	}
	if (cfg->implicit_tls) {
		/* spec 8, RFC 8314: the handshake comes before the greeting. */
		if (tls_accept(tls, STDIN_FILENO, STDOUT_FILENO,
		    cfg->timeout_unauth, &tr, &errstr) == -1) {
			log_event(EVENT_ERROR, "implicit TLS: %s", errstr);
			/* spec 9: as session.c writes it. */
			log_event(EVENT_ABORTED, "aborted login: "
			    "reason=tls-handshake-failed attempts=0 tls=no");
			io_free(io);
			return EXIT_ERROR;
		}
		io_set_transport(io, &tr);
		log_set_tls(tls_describe(tls));
		log_debug("implicit TLS: %s, %s", tls_describe(tls),
		    tls_resumed(tls) ? "resumed" : "full handshake");
	}
	st = session_serve(cfg, io, loopback, peer_addr, tls,
	    cfg->implicit_tls);
	io_free(io);
	return st;
}

int
main(int argc, char **argv)
{
	static char hostname[256];
	struct config cfg;
	struct tls *tls = NULL;
	const char *errstr, *check_user = NULL, *scheme = NULL;
	const char *iterations = NULL;
	bool debug = false;
	enum mode mode;
	int st;

	signal(SIGPIPE, SIG_IGN);
	config_defaults(&cfg);
	mode = parse_args(&cfg, argc, argv, &debug, &check_user, &scheme,
	    &iterations);
	if (mode == MODE_HASH_PASSWORD)
		return hash_password(scheme, iterations);
	if (scheme != NULL)
		config_error("--scheme is for --hash-password only");
	if (iterations != NULL)
		config_error("--iterations is for --hash-password only");
	if (cfg.passwd_file == NULL)
		config_error("passwd-file is not set (see --help)");
	if ((cfg.tls_cert == NULL) != (cfg.tls_key == NULL))
		config_error("tls-cert and tls-key must be set together");
	if (cfg.implicit_tls && cfg.tls_cert == NULL)
		config_error("implicit-tls needs tls-cert and tls-key");
	if (cfg.hostname == NULL) {
		if (gethostname(hostname, sizeof(hostname) - 1) == -1 ||
		    has_ctl(hostname, strlen(hostname)) || hostname[0] == '\0')
			(void)strlcpy_(hostname, "localhost", sizeof(hostname));
		cfg.hostname = hostname;
	}
	if (mode == MODE_CHECK_CONFIG) {
		log_init(LOGTO_STDERR);
		st = check_config(&cfg);
		config_free(&cfg);
		return st;
	}
	if (mode == MODE_CHECK_USER) {
		log_init(LOGTO_STDERR);
		st = checkuser_run(&cfg, check_user);
		config_free(&cfg);
		return st;
	}

	/* spec 8: no OpenSSL yet; STLS or implicit TLS loads it. */
	if (cfg.tls_cert != NULL && (tls = tls_new(cfg.tls_cert, cfg.tls_key,
	    cfg.tls_ticket_key_file, &errstr)) == NULL)
		config_error("%s", errstr);
	log_init(cfg.log);
	log_set_debug(debug);
	st = serve(&cfg, tls);
	tls_free(tls);
	config_free(&cfg);
	return st;
}
