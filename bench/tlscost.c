/*
 * tlscost.c: what a fresh handler process pays for TLS, step by step
 * (doc/design.md 7).  Each run is a new process (fork + exec of itself) that
 * does what tls.c does for an implicit TLS session and times every step
 * in CPU time (CLOCK_PROCESS_CPUTIME_ID) and minor page faults:
 *
 *   dlopen    dlopen("libssl.so.3") with RTLD_NOW: mapping and relocating
 *             libssl and libcrypto
 *   init      OPENSSL_init_ssl() (with or without OPENSSL_INIT_NO_LOAD_CONFIG)
 *   ctx       SSL_CTX_new(TLS_server_method()) and the settings tls.c makes
 *   pem       certificate chain and key from PEM, and the match check
 *   hs        the server's part of a full handshake (TLS 1.3, X25519):
 *             SSL_accept() calls only; the client runs in the same process
 *             over memory BIOs and is not counted
 *   hs_res    the same for a resumed handshake (a ticket from a key that
 *             the previous process wrote, as tls-ticket-key-file does)
 *   free      SSL_shutdown(), SSL_free(), SSL_CTX_free(), dlclose(): what
 *             tls_free() does at the end of a session
 *   exit      the rest of the process's life, from wait4()'s rusage
 *             (atexit handlers, the kernel tearing the process down)
 *
 * usage: tlscost CERT KEY [RUNS=30] [noconf|conf] [OPTIONS]
 * OPTIONS, comma-separated, add OPENSSL_init_ssl() flags: noaddall,
 * noaddciphers, nocryptostrings, nosslstrings, nostrings (both),
 * noatexit.
 * Prints the median of each step over RUNS processes.  A bench tool,
 * never installed.  It is not linked with OpenSSL: like the handler it
 * dlopen()s libssl, and reaches every function (the client's too)
 * through dlsym().
 */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/pem.h>
#include <openssl/ssl.h>

static void	*lib;
/* A function of the loaded libssl (or its libcrypto), with its type. */
#define F(name)	((__typeof__(&name))dlsym(lib, #name))

#define STEPS	8
static const char *const names[STEPS] = { "dlopen", "init", "ctx", "pem",
    "hs", "hs_res", "free", "exit" };

static double
cpu_us(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static long
minflt(void)
{
	struct rusage ru;

	(void)getrusage(RUSAGE_SELF, &ru);
	return ru.ru_minflt;
}

/*
 * The child: one process, the server through dlopen()ed pointers exactly
 * as tls.c, the client through the linked library (same objects: dlopen
 * of an already loaded library is cheap, so the client is set up last
 * and the server's dlopen is measured first).
 */
/* OPENSSL_init_ssl() flags from "conf" and a comma-separated list. */
static uint64_t
init_flags(int noconf, const char *opts)
{
	uint64_t f = noconf ? OPENSSL_INIT_NO_LOAD_CONFIG : 0;

	if (strstr(opts, "noaddall") != NULL ||
	    strstr(opts, "noaddciphers") != NULL)
		f |= OPENSSL_INIT_NO_ADD_ALL_CIPHERS;
	if (strstr(opts, "noaddall") != NULL)
		f |= OPENSSL_INIT_NO_ADD_ALL_DIGESTS;
	if (strstr(opts, "nostrings") != NULL ||
	    strstr(opts, "nosslstrings") != NULL)
		f |= OPENSSL_INIT_NO_LOAD_SSL_STRINGS;
	if (strstr(opts, "nostrings") != NULL ||
	    strstr(opts, "nocryptostrings") != NULL)
		f |= OPENSSL_INIT_NO_LOAD_CRYPTO_STRINGS;
	if (strstr(opts, "noatexit") != NULL)
		f |= OPENSSL_INIT_NO_ATEXIT;
	return f;
}

static int
child(const char *cert, const char *key, int noconf, const char *sessfile,
    const char *opts)
{
	double t[STEPS + 1], c0;
	long f[STEPS + 1];
	int (*init)(uint64_t, const OPENSSL_INIT_SETTINGS *);
	SSL_CTX *(*ctxnew)(const SSL_METHOD *);
	const SSL_METHOD *(*meth)(void);
	SSL_CTX *sctx, *cctx;
	SSL *s, *c;
	BIO *sb, *cb;
	SSL_SESSION *sess = NULL;
	double hs[2] = { 0, 0 };
	long hsf[2] = { 0, 0 };
	int round, r, i;
	FILE *fp;
	__typeof__(&SSL_do_handshake) handshake;

	t[0] = cpu_us(); f[0] = minflt();
	if ((lib = dlopen("libssl.so.3", RTLD_NOW | RTLD_LOCAL)) == NULL)
		return 1;
	init = (int (*)(uint64_t, const OPENSSL_INIT_SETTINGS *))
	    dlsym(lib, "OPENSSL_init_ssl");
	ctxnew = (SSL_CTX *(*)(const SSL_METHOD *))dlsym(lib, "SSL_CTX_new");
	meth = (const SSL_METHOD *(*)(void))dlsym(lib, "TLS_server_method");
	t[1] = cpu_us(); f[1] = minflt();
	if (init(init_flags(noconf, opts), NULL) != 1)
		return 1;
	t[2] = cpu_us(); f[2] = minflt();
	if ((sctx = ctxnew(meth())) == NULL)
		return 1;
	F(SSL_CTX_ctrl)(sctx, SSL_CTRL_SET_MIN_PROTO_VERSION, TLS1_2_VERSION, NULL);
	F(SSL_CTX_ctrl)(sctx, SSL_CTRL_SET_SESS_CACHE_MODE, SSL_SESS_CACHE_OFF, NULL);
	t[3] = cpu_us(); f[3] = minflt();
	if (F(SSL_CTX_use_certificate_chain_file)(sctx, cert) != 1 ||
	    F(SSL_CTX_use_PrivateKey_file)(sctx, key, SSL_FILETYPE_PEM) != 1 ||
	    F(SSL_CTX_check_private_key)(sctx) != 1)
		return 1;
	t[4] = cpu_us(); f[4] = minflt();
	/* The client: not counted. */
	if ((cctx = F(SSL_CTX_new)(F(TLS_client_method)())) == NULL)
		return 1;
	F(SSL_CTX_set_verify)(cctx, SSL_VERIFY_NONE, NULL);
	/* A fixed ticket key, as a key file shared by processes gives. */
	{
		static unsigned char keys[80];
		memset(keys, 7, sizeof(keys));
		F(SSL_CTX_ctrl)(sctx, SSL_CTRL_SET_TLSEXT_TICKET_KEYS, sizeof(keys), keys);
	}
	if ((fp = fopen(sessfile, "r")) != NULL) {
		sess = F(PEM_read_SSL_SESSION)(fp, NULL, NULL, NULL);
		fclose(fp);
	}
	handshake = F(SSL_do_handshake);
	for (round = 0; round < 2; round++) {
		s = F(SSL_new)(sctx);
		c = F(SSL_new)(cctx);
		if (round == 1 && sess != NULL)
			F(SSL_set_session)(c, sess);
		F(BIO_new_bio_pair)(&sb, 0, &cb, 0);
		F(SSL_set_bio)(s, sb, sb);
		F(SSL_set_bio)(c, cb, cb);
		F(SSL_set_accept_state)(s);
		F(SSL_set_connect_state)(c);
		for (i = 0; i < 20; i++) {
			r = handshake(c);
			c0 = cpu_us();
			long f0 = minflt();
			(void)handshake(s);
			hs[round] += cpu_us() - c0;
			hsf[round] += minflt() - f0;
			if (r == 1 && F(SSL_is_init_finished)(s))
				break;
		}
		/* Let the client read the tickets. */
		{
			char b[16];
			(void)F(SSL_write)(s, "x", 1);
			(void)F(SSL_read)(c, b, sizeof(b));
		}
		if (round == 0) {
			SSL_SESSION *ns = F(SSL_get1_session)(c);
			if ((fp = fopen(sessfile, "w")) != NULL) {
				F(PEM_write_SSL_SESSION)(fp, ns);
				fclose(fp);
			}
			F(SSL_SESSION_free)(ns);
		} else if (!F(SSL_session_reused)(c))
			hs[1] = -1;
		F(SSL_free)(c);
		if (round == 0)
			F(SSL_free)(s);
	}
	/* What tls_free() does at the end of a session. */
	F(SSL_CTX_free)(cctx);
	c0 = cpu_us();
	{
		long f0 = minflt();

		(void)F(SSL_shutdown)(s);
		F(SSL_free)(s);
		F(SSL_CTX_free)(sctx);
		(void)dlclose(lib);
		t[5] = cpu_us() - c0;
		f[5] = minflt() - f0;
	}
	/* The parent adds what exit() costs (atexit handlers). */
	printf("%.1f %ld %.1f %ld %.1f %ld %.1f %ld %.1f %ld %.1f %ld "
	    "%.1f %ld %.1f %ld\n",
	    t[1] - t[0], f[1] - f[0], t[2] - t[1], f[2] - f[1],
	    t[3] - t[2], f[3] - f[2], t[4] - t[3], f[4] - f[3],
	    hs[0], hsf[0], hs[1], hsf[1], t[5], f[5], cpu_us(), minflt());
	fflush(stdout);
	return 0;
}

static int
cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

int
main(int argc, char **argv)
{
	static double v[STEPS * 2][1001];
	char line[512], sessfile[] = "/tmp/tlscost.XXXXXX";
	int runs, i, k, n = 0, fd, p[2], ok, st;
	double x[16];
	struct rusage ru;
	FILE *in;

	if (argc >= 7 && strcmp(argv[1], "--child") == 0)
		return child(argv[2], argv[3], atoi(argv[4]), argv[5],
		    argv[6]);
	if (argc < 3) {
		fprintf(stderr, "usage: tlscost CERT KEY [RUNS] [noconf|conf] "
		    "[noaddall,nostrings,noatexit]\n");
		return 2;
	}
	runs = argc > 3 ? atoi(argv[3]) : 30;
	if (runs < 1 || runs > 1000)
		return 2;
	if ((fd = mkstemp(sessfile)) == -1)
		return 1;
	close(fd);
	for (i = 0; i < runs; i++) {
		if (pipe(p) == -1)
			return 1;
		if (fork() == 0) {
			char *args[] = { argv[0], "--child", argv[1], argv[2],
			    (char *)(argc > 4 && !strcmp(argv[4], "conf") ?
			    "0" : "1"), sessfile,
			    argc > 5 ? argv[5] : (char *)"", NULL };
			dup2(p[1], 1);
			close(p[0]);
			execv("/proc/self/exe", args);
			_exit(127);
		}
		close(p[1]);
		in = fdopen(p[0], "r");
		ok = 0;
		if (fgets(line, sizeof(line), in) != NULL &&
		    sscanf(line, "%lf %lf %lf %lf %lf %lf %lf %lf %lf %lf"
		    " %lf %lf %lf %lf %lf %lf", &x[0], &x[1], &x[2], &x[3],
		    &x[4], &x[5], &x[6], &x[7], &x[8], &x[9], &x[10], &x[11],
		    &x[12], &x[13], &x[14], &x[15]) == 16)
			ok = 1;
		fclose(in);
		/* exit: the process's whole CPU time and faults (wait4)
		 * minus what it had used when it printed. */
		if (wait4(-1, &st, 0, &ru) > 0 && ok && WIFEXITED(st) &&
		    WEXITSTATUS(st) == 0) {
			x[14] = (double)ru.ru_utime.tv_sec * 1e6 +
			    (double)ru.ru_utime.tv_usec +
			    (double)ru.ru_stime.tv_sec * 1e6 +
			    (double)ru.ru_stime.tv_usec - x[14];
			x[15] = (double)ru.ru_minflt - x[15];
			for (k = 0; k < 16; k++)
				v[k][n] = x[k];
			n++;
		}
	}
	unlink(sessfile);
	if (n < 2)
		return 1;
	printf("median of %d fresh processes (%s%s%s), CPU microseconds and "
	    "minor page faults:\n", n - 1, argc > 4 && !strcmp(argv[4],
	    "conf") ? "openssl.cnf loaded" : "OPENSSL_INIT_NO_LOAD_CONFIG",
	    argc > 5 ? ", " : "", argc > 5 ? argv[5] : "");
	for (k = 0; k < STEPS; k++) {
		/* hs_res of the first run has no session: skip run 0. */
		qsort(v[2 * k] + 1, (size_t)n - 1, sizeof(double), cmp);
		qsort(v[2 * k + 1] + 1, (size_t)n - 1, sizeof(double), cmp);
		printf("  %-7s %8.1f us %6.0f faults\n", names[k],
		    v[2 * k][1 + (n - 1) / 2], v[2 * k + 1][1 + (n - 1) / 2]);
	}
	return 0;
}
