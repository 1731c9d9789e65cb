/*
 * fuzz_command.c: the whole command path (spec 2, 3, 4, 7).  The input is
 * the client's byte stream; it reaches session_serve() through io.c on a
 * memfd standing for the socket.  This covers what the session keeps
 * private: the line reader, the keyword split and lookup, the arguments,
 * message numbers through parse_u32(), the PASS remainder, AUTH PLAIN
 * and its "+ " continuation, the bad-command and auth-failure limits,
 * and, after a login, STAT LIST RETR TOP DELE RSET UIDL NOOP QUIT on a
 * small Maildir.
 *
 * The world is made once in a temporary directory: a passwd file with
 * alice (password "secret", a cheap $5$rounds=1000$ hash so a login costs
 * well under a millisecond) and a locked account, alice's Maildir with
 * three messages, and a penalty file for the peer 192.0.2.7 (with
 * auth-fail-delay 0 its waits are 0).  Messages a QUIT removed are put
 * back after each input.  No uid or gid is set in the passwd file, so a
 * login never drops privileges and the next input runs as the same user.
 * The directory is removed at exit.  sandbox_maildir() is a stub here:
 * Landlock would shut this process out of the passwd file, and libFuzzer
 * out of its corpus, after the first login.
 *
 * The replies go to a second memfd and are checked afterwards: they
 * start with the greeting, and every line ends with CRLF and is at most
 * 512 octets with it (C0001; the messages' own lines are short).  The
 * session's log goes to stderr, which is /dev/null while a session
 * runs; FUZZ_VERBOSE=1 in the environment keeps it.
 */
#define _GNU_SOURCE		/* memfd_create() */

#include <sys/mman.h>
#include <sys/stat.h>

#include <crypt.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "../auth.h"
#include "../config.h"
#include "../io.h"
#include "../log.h"
#include "../maildir.h"
#include "../sandbox.h"
#include "../session.h"
#include "fuzz.h"

#ifdef FUZZ_REPLAY
#include <sanitizer/common_interface_defs.h>
#endif

#define PASSWORD	"secret"
#define PEER		"192.0.2.7"	/* TEST-NET-1: penalised */
#define SALT		"$5$rounds=1000$fuzzsaltfuzzsalt$"

struct fuzz_msg {
	const char	*sub;		/* where it is delivered */
	const char	*name;
	const char	*curname;	/* its name once in cur/ */
	const char	*body;
};

static const struct fuzz_msg msgs[] = {
	{ "cur", "1700000000.M1P1.fuzz,S=46,W=51",
	    "1700000000.M1P1.fuzz,S=46,W=51",
	    "From: a@example\nSubject: one\n\nHello\n.dot line\n" },
	{ "cur", "1700000001.M2P1.fuzz:2,", "1700000001.M2P1.fuzz:2,",
	    "Subject: two\r\n\r\nbody 1\r\n..\r\n.\r\nno final newline" },
	{ "new", "1700000003.M4P1.fuzz", "1700000003.M4P1.fuzz:2,",
	    "Subject: three\n\n1\n2\n3\n4\n5\n" },
};

static struct world {
	bool		 ready;
	char		 dir[256];
	char		 passwd[300];
	char		 maildir[300];
	char		 penalty[300];
	struct config	 cfg;
	int		 in_fd;		/* memfd: the input */
	int		 out_fd;	/* memfd: the replies */
	int		 null_fd;	/* /dev/null */
	int		 err_fd;	/* the real stderr */
	bool		 verbose;
} w;

static void
put_file(const char *path, const char *text)
{
	FILE	*f;

	if ((f = fopen(path, "w")) == NULL || fputs(text, f) == EOF ||
	    fclose(f) == EOF) {
		perror(path);
		abort();
	}
}

/* Puts back every message that UPDATE removed. */
static void
restore_msgs(void)
{
	char	 cur[512], del[512];
	size_t	 i;

	for (i = 0; i < sizeof(msgs) / sizeof(msgs[0]); i++) {
		(void)snprintf(cur, sizeof(cur), "%s/cur/%s", w.maildir,
		    msgs[i].curname);
		(void)snprintf(del, sizeof(del), "%s/%s/%s", w.maildir,
		    msgs[i].sub, msgs[i].name);
		if (access(cur, F_OK) == -1 && access(del, F_OK) == -1)
			put_file(del, msgs[i].body);
	}
}

static int
rm_one(const char *path, const struct stat *st, int type, struct FTW *f)
{
	(void)st;
	(void)f;
	return type == FTW_DP ? rmdir(path) : unlink(path);
}

static void
cleanup(void)
{
	if (w.ready)
		(void)nftw(w.dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static void
setup(void)
{
	struct crypt_data	 cd;
	struct passwd_entry	 e;
	const char		*tmp, *hash, *sub[] = { "cur", "new", "tmp" };
	char			 path[512], line[1024];
	size_t			 i;

	tmp = getenv("TMPDIR") != NULL ? getenv("TMPDIR") : "/tmp";
	(void)snprintf(w.dir, sizeof(w.dir), "%s/pop3-fuzz.XXXXXX", tmp);
	if (mkdtemp(w.dir) == NULL) {
		perror("mkdtemp");
		abort();
	}
	w.ready = true;
	atexit(cleanup);
	(void)snprintf(w.maildir, sizeof(w.maildir), "%s/home/Maildir",
	    w.dir);
	(void)snprintf(path, sizeof(path), "%s/home", w.dir);
	if (mkdir(path, 0700) == -1 || mkdir(w.maildir, 0700) == -1)
		abort();
	for (i = 0; i < 3; i++) {
		(void)snprintf(path, sizeof(path), "%s/%s", w.maildir, sub[i]);
		if (mkdir(path, 0700) == -1)
			abort();
	}
	restore_msgs();

	memset(&cd, 0, sizeof(cd));
	if ((hash = crypt_r(PASSWORD, SALT, &cd)) == NULL || hash[0] != '$')
		abort();
	(void)snprintf(w.passwd, sizeof(w.passwd), "%s/passwd", w.dir);
	(void)snprintf(line, sizeof(line),
	    "# fuzz world\nalice:%s::::%s/home::\ncarol:!::::%s/home::\n",
	    hash, w.dir, w.dir);
	put_file(w.passwd, line);

	config_defaults(&w.cfg);
	w.cfg.passwd_file = w.passwd;
	w.cfg.hostname = "fuzz.example";
	w.cfg.auth_fail_delay = 0;
	w.cfg.plaintext_auth = PLAINTEXT_ALWAYS;
	w.cfg.log = LOGTO_STDERR;
	log_init(LOGTO_STDERR);
	signal(SIGPIPE, SIG_IGN);

	if ((w.in_fd = memfd_create("fuzz-client", 0)) == -1 ||
	    (w.out_fd = memfd_create("fuzz-server", 0)) == -1 ||
	    (w.null_fd = open("/dev/null", O_WRONLY)) == -1 ||
	    (w.err_fd = dup(STDERR_FILENO)) == -1)
		abort();
	w.verbose = getenv("FUZZ_VERBOSE") != NULL;
#ifdef FUZZ_REPLAY
	/* libFuzzer does this itself under -close_fd_mask=2. */
	if (!w.verbose)
		__sanitizer_set_report_fd((void *)(intptr_t)w.err_fd);
#endif
	/* The dummy hash of unknown users then costs what alice's does. */
	if (auth_lookup(w.passwd, "alice", &e) == -1)
		abort();
}

/* C0001 and the greeting, on what the session wrote. */
static void
check_replies(void)
{
	static const char	 greet[] =
	    "+OK fuzz.example POP3 server ready\r\n";
	struct stat		 st;
	char			*out, *p, *end, *lf;

	if (fstat(w.out_fd, &st) == -1)
		abort();
	fuzz_check(st.st_size >= (off_t)sizeof(greet) - 1);
	out = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE,
	    w.out_fd, 0);
	if (out == MAP_FAILED)
		abort();
	fuzz_check(memcmp(out, greet, sizeof(greet) - 1) == 0);
	end = out + st.st_size;
	for (p = out; p < end; p = lf + 1) {
		lf = memchr(p, '\n', (size_t)(end - p));
		fuzz_check(lf != NULL && lf > p && lf[-1] == '\r');
		fuzz_check(lf - p + 1 <= MAX_REPLY);
	}
	(void)munmap(out, (size_t)st.st_size);
}

/* The sandbox stays off in the fuzzer (see above). */
int
sandbox_maildir(int dirfd, const char *path)
{
	(void)dirfd;
	(void)path;
	return -1;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct io	*io;
	int		 st;

	if (!w.ready)
		setup();
	if (ftruncate(w.in_fd, 0) == -1 || ftruncate(w.out_fd, 0) == -1 ||
	    lseek(w.out_fd, 0, SEEK_SET) == -1 ||
	    pwrite(w.in_fd, data, size, 0) != (ssize_t)size ||
	    lseek(w.in_fd, 0, SEEK_SET) == -1)
		abort();
	if ((io = io_new(w.in_fd, w.out_fd, w.cfg.max_command_length)) ==
	    NULL)
		abort();
	if (!w.verbose)
		(void)dup2(w.null_fd, STDERR_FILENO);
	st = session_serve(&w.cfg, io, false, PEER, NULL, false);
	if (!w.verbose)
		(void)dup2(w.err_fd, STDERR_FILENO);
	io_free(io);
	log_set_user(NULL);
	fuzz_check(st == EXIT_QUIT || st == EXIT_ERROR);
	check_replies();
	restore_msgs();
	return 0;
}
