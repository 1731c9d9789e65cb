/*
 * session.c: the POP3 session's loop (spec 2, 3, 7): it reads a line,
 * splits it, looks the keyword up in the command table of the state and
 * calls the handler; every protocol reply leaves through session_reply().
 * CAPA, STLS and the end of a session live here; the credentials are
 * session-auth.c's and session-login.c's, the TRANSACTION commands
 * session-mail.c's.
 *
 * Before login it trusts nothing: the line comes bounded from io.c, names
 * are checked by auth_valid_username() before any lookup, and passwords
 * are cleared after use.  It does not parse files or touch the Maildir
 * itself; auth.c and maildir.c return results and reasons.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "io.h"
#include "log.h"
#include "maildir.h"
#include "policy.h"
#include "readahead.h"
#include "session.h"
#include "session-int.h"
#include "tls.h"

#define MAX_KEYWORD	8	/* longer keywords are unknown */

struct command {
	const char	*name;
	enum cmd_result	(*run)(struct session *, char *args);
};

static enum cmd_result	cmd_capa(struct session *, char *);
static enum cmd_result	cmd_stls(struct session *, char *);
static enum cmd_result	cmd_apop(struct session *, char *);
static enum cmd_result	cmd_quit_auth(struct session *, char *);

static const struct command auth_cmds[] = {
	{ "CAPA", cmd_capa }, { "USER", cmd_user }, { "PASS", cmd_pass },
	{ "AUTH", cmd_auth }, { "STLS", cmd_stls }, { "APOP", cmd_apop },
	{ "QUIT", cmd_quit_auth }, { NULL, NULL }
};

static const struct command trans_cmds[] = {
	{ "CAPA", cmd_capa }, { "STAT", cmd_stat }, { "LIST", cmd_list },
	{ "RETR", cmd_retr }, { "DELE", cmd_dele }, { "NOOP", cmd_noop },
	{ "RSET", cmd_rset }, { "TOP", cmd_top }, { "UIDL", cmd_uidl },
	{ "QUIT", cmd_quit_trans }, { NULL, NULL }
};

enum cmd_result
session_close(struct session *s, int st)
{
	s->closing = true;
	s->exit = st;
	return CMD_CLOSE;
}

void
session_set_end(struct session *s, const char *reason)
{
	if (s->end_reason == NULL)
		s->end_reason = reason;
}

bool
session_escape_put(char *buf, size_t size, size_t *o, unsigned char c)
{
	static const char hex[] = "0123456789abcdef";

	if (c > 0x20 && c < 0x7f && c != ',' && c != '\\' && c != '=') {
		if (*o + 1 >= size)
			return false;
		buf[(*o)++] = (char)c;
		return true;
	}
	if (*o + 4 >= size)
		return false;
	buf[(*o)++] = '\\';
	buf[(*o)++] = 'x';
	buf[(*o)++] = hex[c >> 4];
	buf[(*o)++] = hex[c & 0xf];
	return true;
}

/*
 * spec 9, after Dovecot's "Aborted login": one event=aborted line for a
 * session that ends in AUTHORIZATION, with why, the attempts, the names
 * tried and whether TLS protected it (the tls= word when it did).
 */
static void
log_aborted(const struct session *s)
{
	const char *why = s->end_reason;

	if (why == NULL)
		why = s->exit == EXIT_AUTOLOGOUT ? "timeout" : "disconnect";
	/* A TLS client on the plaintext port: a ClientHello's record type. */
	if (!s->tls_active && s->auth_attempts == 0 &&
	    io_first_octet(s->io) == 0x16)
		why = "tls-on-plaintext-port";
	/* Dovecot's "tried to use disallowed plaintext auth". */
	if (s->plaintext_refused && s->auth_attempts == 0 &&
	    (!strcmp(why, "quit") || !strcmp(why, "disconnect") ||
	    !strcmp(why, "timeout")))
		why = "plaintext-refused";
	log_event(EVENT_ABORTED, "aborted login: reason=%s attempts=%u%s%s%s"
	    "%s", why, s->auth_attempts, s->tried[0] != '\0' ? " users=" : "",
	    s->tried, s->tried_more ? ",..." : "", s->tls_active ? "" :
	    s->cfg->secured ? " tls=secured" : " tls=no");
}

void __attribute__((format(printf, 2, 3)))
session_reply(struct session *s, const char *fmt, ...)
{
	char buf[MAX_REPLY];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf) - 2, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(buf) - 2) {
		log_warnx("reply too long, replaced");
		n = snprintf(buf, sizeof(buf), "-ERR [SYS/PERM] Internal error");
	}
	buf[n++] = '\r';
	buf[n++] = '\n';
	if (io_write(s->io, buf, (size_t)n) == -1 && !s->closing) {
		session_set_end(s, io_timed_out(s->io) ? "timeout" :
		    "disconnect");
		session_close(s, io_timed_out(s->io) ? EXIT_AUTOLOGOUT :
		    EXIT_ERROR);
	}
}

enum cmd_result __attribute__((format(printf, 2, 3)))
session_bad(struct session *s, const char *fmt, ...)
{
	char buf[MAX_REPLY];
	va_list ap;

	if (++s->bad_commands >= MAX_BAD_COMMANDS) {
		session_reply(s, "-ERR Too many errors");
		log_event(EVENT_ERROR, "too many bad commands");
		session_set_end(s, "too-many-errors");
		return session_close(s, EXIT_ERROR);
	}
	va_start(ap, fmt);
	(void)vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	session_reply(s, "%s", buf);
	return CMD_BAD;
}

static bool
is_blank(char c)
{
	return c == ' ' || c == '\t';
}

int
session_split_args(char *args, char **argv, int max)
{
	int n = 0;

	while (*args != '\0') {
		if (n == max)
			return max + 1;
		argv[n++] = args;
		while (*args != '\0' && !is_blank(*args))
			args++;
		if (*args == '\0')
			break;
		*args++ = '\0';
		while (is_blank(*args))
			args++;
	}
	return n;
}

/* spec 1: where a password may travel. */
bool
session_plaintext_allowed(const struct session *s)
{
	switch (s->cfg->plaintext_auth) {
	case PLAINTEXT_ALWAYS:
		return true;
	case PLAINTEXT_NEVER:
		return s->tls_active || s->cfg->secured;
	case PLAINTEXT_TLS:
	default:
		return s->tls_active || s->cfg->secured || s->loopback;
	}
}

static bool
tls_configured(const struct session *s)
{
	return s->tls != NULL;
}

enum cmd_result
session_refuse_plaintext(struct session *s)
{
	s->plaintext_refused = true;
	session_reply(s, "-ERR [AUTH] Plaintext authentication is disallowed "
	    "on this connection; use STLS");
	return CMD_DONE;
}

/* spec 8: STLS only where TLS is configured, not active, not protected. */
static bool
stls_offered(const struct session *s)
{
	return tls_configured(s) && !s->tls_active && !s->cfg->secured;
}

/*
 * spec 4.3: the settings before login; after it the user's values, with
 * RFC 2449's USER tag where they differ from the settings (NEVER takes
 * no tag; LOGIN-DELAY 0 is not announced).
 */
static void
capa_policy(struct session *s)
{
	bool		 after = s->state == STATE_TRANSACTION;
	uint32_t	 exp = after ? s->pol.expire_days : s->cfg->expire_days;
	uint32_t	 del = after ? s->pol.login_delay : s->cfg->login_delay;

	if (exp == EXPIRE_NEVER)
		session_reply(s, "EXPIRE NEVER");
	else
		session_reply(s, "EXPIRE %u%s", (unsigned int)exp,
		    after && s->pol.user_expire ? " USER" : "");
	if (del > 0)
		session_reply(s, "LOGIN-DELAY %u%s", (unsigned int)del,
		    after && s->pol.user_delay ? " USER" : "");
}

/*
 * spec 3, RFC 2449 section 5: the same list in both states, so what
 * AUTHORIZATION announces is still announced after login.
 */
static enum cmd_result
cmd_capa(struct session *s, char *args)
{
	(void)args;
	session_reply(s, "+OK Capability list follows");
	session_reply(s, "TOP");
	session_reply(s, "UIDL");
	session_reply(s, "RESP-CODES");
	session_reply(s, "AUTH-RESP-CODE");
	session_reply(s, "PIPELINING");
	capa_policy(s);
	if (session_plaintext_allowed(s))
		session_reply(s, "USER");
	session_capa_sasl(s);
	if (stls_offered(s))
		session_reply(s, "STLS");
	session_reply(s, "IMPLEMENTATION pop3-handler");
	session_reply(s, ".");
	return CMD_DONE;
}

/*
 * spec 8, RFC 2595: answer, drop whatever the client pipelined in
 * plaintext, hand fd 0/1 to the handshake, and start AUTHORIZATION over.
 */
static enum cmd_result
cmd_stls(struct session *s, char *args)
{
	const char *errstr;

	if (*args != '\0')
		return session_bad(s, "-ERR Too many arguments");
	if (!tls_configured(s))
		return session_bad(s, "-ERR TLS is not configured");
	if (s->tls_active)
		return session_bad(s, "-ERR TLS is already active");
	/* spec 8: secured = yes: stunnel's TLS is there already. */
	if (s->cfg->secured)
		return session_bad(s, "-ERR The transport is already "
		    "protected; STLS is not available");
	if (tls_load(s->tls, &errstr) == -1) {	/* OpenSSL, loaded now */
		log_warnx("STLS: %s", errstr);
		session_reply(s, "-ERR [SYS/TEMP] TLS is not available");
		return CMD_DONE;
	}
	session_reply(s, "+OK Begin TLS negotiation");
	if (s->closing || io_flush(s->io) == -1)
		return session_close(s, EXIT_ERROR);
	io_discard_input(s->io);
	if (tls_accept(s->tls, io_in_fd(s->io), io_out_fd(s->io),
	    s->cfg->timeout_unauth, &s->tr, &errstr) == -1) {
		log_event(EVENT_ERROR, "STLS: %s", errstr);
		session_set_end(s, "tls-handshake-failed");
		return session_close(s, EXIT_ERROR);
	}
	io_set_transport(s->io, &s->tr);
	s->tls_active = true;
	s->have_user = false;
	s->auth_pending = NULL;
	log_set_tls(tls_describe(s->tls));
	log_debug("STLS: %s, %s", tls_describe(s->tls),
	    tls_resumed(s->tls) ? "resumed" : "full handshake");
	return CMD_DONE;
}

static enum cmd_result
cmd_apop(struct session *s, char *args)
{
	(void)args;
	return session_bad(s, "-ERR APOP not supported");	/* V0012 */
}

static enum cmd_result
cmd_quit_auth(struct session *s, char *args)
{
	(void)args;
	session_reply(s, "+OK Bye");
	session_set_end(s, "quit");
	return session_close(s, EXIT_QUIT);
}

static const struct command *
lookup(const struct command *table, const char *name)
{
	for (; table->name != NULL; table++)
		if (!strcmp(table->name, name))
			return table;
	return NULL;
}

/* Splits a line into an upper-cased keyword and its arguments. */
static enum cmd_result
dispatch(struct session *s, char *line)
{
	const struct command *table, *other, *cmd;
	char kw[MAX_KEYWORD + 1], *args, *end;
	size_t n = 0;

	while (is_blank(*line))
		line++;
	while (line[n] != '\0' && !is_blank(line[n]) && n <= MAX_KEYWORD)
		n++;
	if (n == 0 || n > MAX_KEYWORD ||
	    (line[n] != '\0' && !is_blank(line[n])))
		return session_bad(s, "-ERR Unknown command");
	for (size_t i = 0; i < n; i++)
		kw[i] = (line[i] >= 'a' && line[i] <= 'z') ?
		    (char)(line[i] - 'a' + 'A') : line[i];
	kw[n] = '\0';
	args = line + n;
	while (is_blank(*args))
		args++;
	table = s->state == STATE_AUTHORIZATION ? auth_cmds : trans_cmds;
	other = s->state == STATE_AUTHORIZATION ? trans_cmds : auth_cmds;
	if ((cmd = lookup(table, kw)) == NULL) {
		if (lookup(other, kw) != NULL)
			return session_bad(s, "-ERR %s is only valid %s login",
			    kw, s->state == STATE_AUTHORIZATION ? "after" :
			    "before");
		return session_bad(s, "-ERR Unknown command");
	}
	if (cmd->run != cmd_pass) {
		/* Trailing blanks are ignored, PASS aside (V0011). */
		end = args + strlen(args);
		while (end > args && is_blank(end[-1]))
			*--end = '\0';
	}
	return cmd->run(s, args);
}

static void
session_init(struct session *s, const struct config *cfg, struct io *io,
    bool loopback, struct tls *tls, bool tls_active)
{
	memset(s, 0, sizeof(*s));
	s->tls = tls;
	s->tls_active = tls_active;
	s->state = STATE_AUTHORIZATION;
	s->cfg = cfg;
	s->io = io;
	s->loopback = loopback;
	s->exit = EXIT_ERROR;
	io_set_timeout(io, cfg->timeout_unauth);
}

/* One command line: a pending AUTH continuation takes it first. */
static void
session_line(struct session *s, char *line, size_t len)
{
	if (memchr(line, '\0', len) != NULL) {
		s->auth_pending = NULL;
		(void)session_bad(s, "-ERR Command contains a NUL octet");
		return;
	}
	if (s->auth_pending != NULL) {
		(void)session_auth_continue(s, line);
		explicit_bzero(line, len);
		return;
	}
	(void)dispatch(s, line);
}

/* Sends the greeting and serves commands until the session ends. */
static int
session_run(struct session *s)
{
	enum io_status st;
	char *line;
	size_t len;

	session_reply(s, "+OK %s POP3 server ready", s->cfg->hostname);
	while (!s->closing) {
		/* RFC 5034: a continuation line may be longer (io.h). */
		io_set_max_line(s->io, s->auth_pending != NULL ?
		    MAX_AUTH_LINE : s->cfg->max_command_length);
		st = io_getline(s->io, &line, &len);
		switch (st) {
		case IO_OK:
			session_line(s, line, len);
			break;
		case IO_TOO_LONG:
			s->auth_pending = NULL;
			(void)session_bad(s, "-ERR Command line too long");
			break;
		case IO_TIMEOUT:
			/* V0002, V0003: announce, close, no UPDATE. */
			session_set_end(s, "timeout");
			session_reply(s, "-ERR Autologout; idle for too long");
			(void)session_close(s, EXIT_AUTOLOGOUT);
			break;
		case IO_EOF:
		case IO_ERROR:
			session_set_end(s, "disconnect");
			(void)session_close(s, EXIT_ERROR);
			break;
		}
	}
	/*
	 * spec 5: no UPDATE without QUIT.  Saying so explains to an
	 * administrator why a client sees those messages again.
	 */
	if (s->state == STATE_AUTHORIZATION)
		log_aborted(s);
	else
		session_log_unfinished(s);
	session_auth_end(s);
	io_finish(s->io);
	free(s->retrieved);
	readahead_free(s->ra);
	policy_free(&s->pol);
	if (s->snap != NULL)
		maildir_close(s->snap);
	return s->exit;
}

int
session_serve(const struct config *cfg, struct io *io, bool loopback,
    const char *peer, struct tls *tls, bool tls_active)
{
	struct session s;

	session_init(&s, cfg, io, loopback, tls, tls_active);
	s.peer = peer;
	return session_run(&s);
}
