/*
 * log.c: logging to the journal, syslog or stderr (spec 9), with
 * OpenSMTPD's vocabulary: fatal(), fatalx(), log_warn(), log_warnx(),
 * log_info(), log_debug(), plus log_event() for the structured entries.
 *
 * This file keeps the only mutable file-scope state outside main()
 * (style 3.2): the backend, the debug switch and the session's user, peer
 * and TLS description that are attached to every entry.
 *
 * It trusts nothing it is given: user names and peers come from the
 * network, so every byte below 0x20 and 0x7f in a message or a context
 * field is written as \xNN before it reaches any backend.  It never writes
 * to fd 1 or fd 2 except with the stderr backend (under xinetd fd 2 may be
 * the socket).  Before log_init() runs, messages go to stderr when fd 2 is
 * not a socket, and to the LOGTO_AUTO choice otherwise.  Passwords are never
 * handed to this file.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "log.h"
#include "util.h"

/* The backends of pop3.h, plus "not initialised yet". */
enum {
	BACKEND_AUTO = LOGTO_AUTO,
	BACKEND_JOURNAL = LOGTO_JOURNAL,
	BACKEND_SYSLOG = LOGTO_SYSLOG,
	BACKEND_STDERR = LOGTO_STDERR,
	BACKEND_NONE = -1,		/* log_init() not called yet */
};

#include <stddef.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <syslog.h>

#define LOG_IDENT	"pop3-handler"
#define JOURNAL_SOCKET	"/run/systemd/journal/socket"
#define MAX_RAW		1024	/* one formatted message before escaping */
#define MAX_ESC		(MAX_RAW * 4 + 1)
#define MAX_CTX		(MAX_USERNAME * 4 + 1)

static int	backend = BACKEND_NONE;
static int	journal_fd = -1;
static bool	debug_on;
static bool	syslog_open;
static char	ctx_user[MAX_CTX];
static char	ctx_peer[MAX_CTX];
static char	ctx_tls[MAX_CTX];
static char	ctx_mech[32];

static const char *const event_names[] = {
	[EVENT_LOGIN] = "login",
	[EVENT_LOGIN_FAILED] = "login-failed",
	[EVENT_LOGOUT] = "logout",
	[EVENT_AUTOLOGOUT] = "autologout",
	[EVENT_ERROR] = "error",
	[EVENT_ABORTED] = "aborted",
};

/*
 * Copies src into dst (size dsize) with control bytes written as \xNN.
 * A word (a context field of an event line) also escapes space and
 * backslash, so a client-chosen user name cannot forge another
 * "remote=" word for a log scanner such as fail2ban.
 */
static void
escape_as(char *dst, size_t dsize, const char *src, bool word)
{
	static const char	 hex[] = "0123456789abcdef";
	size_t			 o = 0;
	unsigned char		 c;

	for (; (c = (unsigned char)*src) != '\0'; src++) {
		if (c < 0x20 || c == 0x7f || (word && (c == ' ' || c == '\\'))) {
			if (o + 4 >= dsize)
				break;
			dst[o++] = '\\';
			dst[o++] = 'x';
			dst[o++] = hex[c >> 4];
			dst[o++] = hex[c & 0xf];
		} else {
			if (o + 1 >= dsize)
				break;
			dst[o++] = (char)c;
		}
	}
	dst[o] = '\0';
}

static void
escape(char *dst, size_t dsize, const char *src)
{
	escape_as(dst, dsize, src, false);
}

static int
auto_backend(void)
{
	struct stat	st;

	if (stat(JOURNAL_SOCKET, &st) == 0 && S_ISSOCK(st.st_mode))
		return BACKEND_JOURNAL;
	return BACKEND_SYSLOG;
}

static void
open_syslog(void)
{
	if (!syslog_open) {
		/* Never LOG_PERROR: fd 2 may be the client's socket. */
		openlog(LOG_IDENT, LOG_PID, LOG_MAIL);
		syslog_open = true;
	}
}

void
log_init(enum log_backend b)
{
	backend = b == LOGTO_AUTO ? auto_backend() : (int)b;
	if (backend == BACKEND_SYSLOG)
		open_syslog();
}

/* The backend in force; before log_init(), stderr unless it is a socket. */
static int
current_backend(void)
{
	struct stat	st;

	if (backend != BACKEND_NONE)
		return backend;
	if (fstat(STDERR_FILENO, &st) == 0 && !S_ISSOCK(st.st_mode))
		return BACKEND_STDERR;
	return auto_backend();
}

void
log_set_debug(bool on)
{
	debug_on = on;
}

static void
set_ctx(char *dst, const char *s)
{
	if (s == NULL)
		dst[0] = '\0';
	else
		escape_as(dst, MAX_CTX, s, true);
}

void
log_set_user(const char *s)
{
	set_ctx(ctx_user, s);
}

void
log_set_peer(const char *s)
{
	set_ctx(ctx_peer, s);
}

void
log_set_tls(const char *s)
{
	set_ctx(ctx_tls, s);
}

void
log_set_mech(const char *s)
{
	/* Names come from the mechanism table, never from the client. */
	(void)strlcpy_(ctx_mech, s != NULL ? s : "", sizeof(ctx_mech));
}

/* "event=login user=u remote=r tls=t " with unset fields left out. */
static void
event_words(char *buf, size_t size, int ev)
{
	int	n;

	n = snprintf(buf, size, "event=%s %s%s%s%s%s%s%s%s%s%s%s%s",
	    event_names[ev],
	    ctx_user[0] ? "user=" : "", ctx_user, ctx_user[0] ? " " : "",
	    ctx_peer[0] ? "remote=" : "", ctx_peer, ctx_peer[0] ? " " : "",
	    ctx_tls[0] ? "tls=" : "", ctx_tls, ctx_tls[0] ? " " : "",
	    ctx_mech[0] ? "mech=" : "", ctx_mech, ctx_mech[0] ? " " : "");
	if (n < 0)
		buf[0] = '\0';
}

/* One writev() so that concurrent handlers' lines do not interleave. */
static void
write_stderr(const char *msg)
{
	struct iovec	iov[3];

	iov[0].iov_base = (void *)(LOG_IDENT ": ");
	iov[0].iov_len = sizeof(LOG_IDENT ": ") - 1;
	iov[1].iov_base = (void *)msg;
	iov[1].iov_len = strlen(msg);
	iov[2].iov_base = (void *)"\n";
	iov[2].iov_len = 1;
	/* Nothing useful can be done when stderr itself fails. */
	if (writev(STDERR_FILENO, iov, 3) == -1)
		return;
}

/* Adds "NAME=value" to the iovec list when value is set. */
static void
add_field(struct iovec *iov, int *n, char *buf, size_t size,
    const char *name, const char *value)
{
	int	len;

	if (value == NULL || value[0] == '\0')
		return;
	len = snprintf(buf, size, "%s=%s", name, value);
	if (len < 0)
		return;
	if ((size_t)len >= size)
		len = (int)size - 1;
	iov[*n].iov_base = buf;
	iov[*n].iov_len = (size_t)len;
	(*n)++;
}

/*
 * Sends one entry in the journal's native protocol: one datagram of
 * "NAME=value" lines, as sd_journal_sendv() writes it.  Values are escaped
 * before they get here, so none holds a newline and the simple form
 * suffices.  Speaking it directly spares every session the cost of
 * loading libsystemd and its six dependencies (doc/design.md 8).
 */
static int
journal_send(const struct iovec *fields, int n)
{
	static const char nl = '\n';
	struct sockaddr_un sa;
	struct iovec iov[16];
	struct msghdr mh;
	int i;

	if (n > 8)
		return -1;
	if (journal_fd == -1 && (journal_fd = socket(AF_UNIX,
	    SOCK_DGRAM | SOCK_CLOEXEC, 0)) == -1)
		return -1;
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	memcpy(sa.sun_path, JOURNAL_SOCKET, sizeof(JOURNAL_SOCKET));
	for (i = 0; i < n; i++) {
		iov[2 * i] = fields[i];
		iov[2 * i + 1].iov_base = (void *)&nl;
		iov[2 * i + 1].iov_len = 1;
	}
	memset(&mh, 0, sizeof(mh));
	mh.msg_name = &sa;
	mh.msg_namelen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) +
	    sizeof(JOURNAL_SOCKET));
	mh.msg_iov = iov;
	mh.msg_iovlen = (size_t)(2 * n);
	return sendmsg(journal_fd, &mh, MSG_NOSIGNAL) == -1 ? -1 : 0;
}

static int
write_journal(int prio, int ev, const char *msg)
{
	char		 f_msg[MAX_ESC + 3 * MAX_CTX + 160], f_prio[16];
	char		 f_id[40];
	char		 f_user[MAX_CTX + 16], f_peer[MAX_CTX + 16];
	char		 f_tls[MAX_CTX + 16], f_ev[32], p[4], f_mech[48];
	struct iovec	 iov[9];
	int		 n = 0;

	(void)snprintf(p, sizeof(p), "%d", prio);
	add_field(iov, &n, f_msg, sizeof(f_msg), "MESSAGE", msg);
	add_field(iov, &n, f_prio, sizeof(f_prio), "PRIORITY", p);
	add_field(iov, &n, f_id, sizeof(f_id), "SYSLOG_IDENTIFIER",
	    LOG_IDENT);
	add_field(iov, &n, f_user, sizeof(f_user), "POP3_USER", ctx_user);
	add_field(iov, &n, f_peer, sizeof(f_peer), "POP3_REMOTE", ctx_peer);
	add_field(iov, &n, f_tls, sizeof(f_tls), "POP3_TLS", ctx_tls);
	add_field(iov, &n, f_mech, sizeof(f_mech), "POP3_MECH", ctx_mech);
	if (ev >= 0)
		add_field(iov, &n, f_ev, sizeof(f_ev), "POP3_EVENT",
		    event_names[ev]);
	return journal_send(iov, n);
}

/* Formats, escapes and sends one entry; ev < 0 for a plain message. */
static void
vlog(int prio, int ev, bool with_errno, const char *fmt, va_list ap)
{
	char	raw[MAX_RAW], esc[MAX_ESC + 3 * MAX_CTX + 128];
	char	words[3 * MAX_CTX + 128];
	int	saved = errno, b, n;

	n = vsnprintf(raw, sizeof(raw), fmt, ap);
	if (n < 0)
		(void)strlcpy_(raw, "(unformattable log message)",
		    sizeof(raw));
	if (with_errno) {
		size_t	len = strlen(raw);

		(void)snprintf(raw + len, sizeof(raw) - len, ": %s",
		    strerror(saved));
	}
	words[0] = '\0';
	if (ev >= 0)
		event_words(words, sizeof(words), ev);
	/* An event line is its key=value words, then the escaped text. */
	n = (int)strlen(words);
	if (raw[0] == '\0' && n > 0)
		words[n - 1] = '\0';
	(void)strlcpy_(esc, words, sizeof(esc));
	n = (int)strlen(esc);
	escape(esc + n, sizeof(esc) - (size_t)n, raw);

	b = current_backend();
	if (b == BACKEND_STDERR)
		write_stderr(esc);
	else if (b != BACKEND_JOURNAL || write_journal(prio, ev, esc) == -1) {
		/* syslog, or the journal refused the entry. */
		open_syslog();
		if (ev < 0 && ctx_user[0] != '\0')
			syslog(prio, "user=%s %s", ctx_user, esc);
		else
			syslog(prio, "%s", esc);
	}
	errno = saved;
}

void
log_warn(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	vlog(LOG_WARNING, -1, true, fmt, ap);
	va_end(ap);
}

void
log_warnx(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	vlog(LOG_WARNING, -1, false, fmt, ap);
	va_end(ap);
}

void
log_info(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	vlog(LOG_INFO, -1, false, fmt, ap);
	va_end(ap);
}

void
log_debug(const char *fmt, ...)
{
	va_list	ap;

	if (!debug_on)
		return;
	va_start(ap, fmt);
	vlog(LOG_DEBUG, -1, false, fmt, ap);
	va_end(ap);
}

void
fatal(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	vlog(LOG_CRIT, -1, true, fmt, ap);
	va_end(ap);
	exit(EXIT_CONFIG);
}

void
fatalx(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	vlog(LOG_CRIT, -1, false, fmt, ap);
	va_end(ap);
	exit(EXIT_CONFIG);
}

void
log_event(enum log_event ev, const char *fmt, ...)
{
	va_list	ap;
	int	prio;

	if ((int)ev < 0 || (size_t)ev >= sizeof(event_names) /
	    sizeof(event_names[0]))
		return;
	switch (ev) {
	case EVENT_LOGIN_FAILED:
		prio = LOG_NOTICE;
		break;
	case EVENT_ERROR:
		prio = LOG_ERR;
		break;
	default:
		prio = LOG_INFO;
		break;
	}
	va_start(ap, fmt);
	vlog(prio, (int)ev, false, fmt, ap);
	va_end(ap);
}
