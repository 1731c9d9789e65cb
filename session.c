/*
 * session.c: the POP3 state machine (spec 2, 3, 4, 7).  One command table
 * per state, one loop that reads a line, splits it, looks the keyword up
 * and calls the handler.  Only this file writes protocol replies.
 *
 * Before login it trusts nothing: the line comes bounded from io.c, names
 * are checked by auth_valid_username() before any lookup, and passwords
 * are cleared after use.  It does not parse files or touch the Maildir
 * itself; auth.c and maildir.c return results and reasons.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "auth.h"
#include "config.h"
#include "io.h"
#include "log.h"
#include "maildir.h"
#include "ntlm.h"
#include "penalty.h"
#include "policy.h"
#include "sandbox.h"
#include "sasl.h"
#include "session.h"
#include "tls.h"
#include "util.h"

#define MAX_KEYWORD	8	/* longer keywords are unknown */
#define MAX_ARGS	3
#define SASL_BUF	(MAX_COMMAND_LENGTH)

enum cmd_result {
	CMD_DONE,	/* replied; keep going */
	CMD_BAD,	/* replied -ERR; counted toward the bad-command limit */
	CMD_CLOSE,	/* replied; end the session (exit status in s->exit) */
};

struct command {
	const char	*name;
	enum cmd_result	(*run)(struct session *, char *args);
};

static enum cmd_result	cmd_capa(struct session *, char *);
static enum cmd_result	cmd_user(struct session *, char *);
static enum cmd_result	cmd_pass(struct session *, char *);
static enum cmd_result	cmd_auth(struct session *, char *);
static enum cmd_result	cmd_stls(struct session *, char *);
static enum cmd_result	cmd_apop(struct session *, char *);
static enum cmd_result	cmd_quit_auth(struct session *, char *);
static enum cmd_result	cmd_stat(struct session *, char *);
static enum cmd_result	cmd_list(struct session *, char *);
static enum cmd_result	cmd_retr(struct session *, char *);
static enum cmd_result	cmd_dele(struct session *, char *);
static enum cmd_result	cmd_noop(struct session *, char *);
static enum cmd_result	cmd_rset(struct session *, char *);
static enum cmd_result	cmd_top(struct session *, char *);
static enum cmd_result	cmd_uidl(struct session *, char *);
static enum cmd_result	cmd_quit_trans(struct session *, char *);

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

static bool			 plaintext_allowed(const struct session *);
static enum cmd_result	 plain_step(struct session *, char *);
static enum cmd_result	 login_start(struct session *);
static enum cmd_result	 login_step(struct session *, char *);
static enum cmd_result	 sasl_mech_step(struct session *, char *);
static bool			 gssapi_keytab_set(const struct session *);
static bool			 own_tls(const struct session *);
static enum cmd_result	 ntlm_step(struct session *, char *);
static bool			 mech_usable(const struct session *,
				    enum auth_mech);
static enum cmd_result	 auth_failed(struct session *, const char *);
static enum cmd_result	 auth_failed_text(struct session *, const char *,
				    const char *);

/*
 * spec 4.1: the SASL mechanisms, indexed by enum auth_mech.  A row with no
 * step is not built in; usable (NULL: always) is the connection's rule;
 * plaintext marks the mechanisms that carry a password in the clear
 * (refused with the plaintext reply where that is disallowed); start
 * (NULL: an empty "+ " challenge) begins an exchange without an initial
 * response; step takes each client line.
 */
struct mech {
	enum auth_mech	 id;
	const char	*name;
	bool		 plaintext;
	bool		(*usable)(const struct session *);
	enum cmd_result	(*start)(struct session *);
	enum cmd_result	(*step)(struct session *, char *);
};

static const struct mech mechs[MECH_COUNT] = {
	[MECH_PLAIN] = { MECH_PLAIN, "PLAIN", true, plaintext_allowed, NULL,
	    plain_step },
	[MECH_LOGIN] = { MECH_LOGIN, "LOGIN", true, plaintext_allowed,
	    login_start, login_step },
	[MECH_SCRAM_SHA_1] = { MECH_SCRAM_SHA_1, "SCRAM-SHA-1", false, NULL,
	    NULL, sasl_mech_step },
	[MECH_SCRAM_SHA_1_PLUS] = { MECH_SCRAM_SHA_1_PLUS, "SCRAM-SHA-1-PLUS",
	    false, own_tls, NULL, sasl_mech_step },
	[MECH_SCRAM_SHA_256] = { MECH_SCRAM_SHA_256, "SCRAM-SHA-256", false,
	    NULL, NULL, sasl_mech_step },
	[MECH_SCRAM_SHA_256_PLUS] = { MECH_SCRAM_SHA_256_PLUS,
	    "SCRAM-SHA-256-PLUS", false, own_tls, NULL, sasl_mech_step },
	[MECH_GSSAPI] = { MECH_GSSAPI, "GSSAPI", false, gssapi_keytab_set,
	    NULL, sasl_mech_step },
	[MECH_NTLM] = { MECH_NTLM, "NTLM", false, NULL, NULL, ntlm_step },
};

/* Ends the session with status st; the loop exits after this command. */
static enum cmd_result
session_close(struct session *s, int st)
{
	s->closing = true;
	s->exit = st;
	return CMD_CLOSE;
}

/*
 * spec 9: why a session that never logged in ended; the first reason
 * given wins (the words of the event=aborted line).
 */
static void
set_end(struct session *s, const char *reason)
{
	if (s->end_reason == NULL)
		s->end_reason = reason;
}

/* Appends c to the tried list as itself or \xNN; false when full. */
static bool
tried_put(char *buf, size_t size, size_t *o, unsigned char c)
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

/* spec 9: one credential check, for the event=aborted line. */
static void
count_attempt(struct session *s)
{
	if (s->auth_attempts < UINT32_MAX)
		s->auth_attempts++;
}

/*
 * spec 9: the name (len octets, hostile) an attempt gave, kept escaped in
 * s->tried unless it is there already or does not fit (then tried_more).
 */
static void
note_attempt(struct session *s, const char *name, size_t len)
{
	char one[MAX_USERNAME * 4 + 1];
	const char *p;
	size_t o = 0, i, n;

	for (i = 0; i < len && i < 64; i++)
		if (!tried_put(one, sizeof(one), &o, (unsigned char)name[i]))
			break;
	if (i < len && o + 3 < sizeof(one))
		o += (size_t)snprintf(one + o, sizeof(one) - o, "...");
	one[o] = '\0';
	n = strlen(s->tried);
	for (p = s->tried; p != NULL && *p != '\0'; p = strchr(p, ',')) {
		if (*p == ',')
			p++;
		if (strncmp(p, one, o) == 0 && (p[o] == ',' || p[o] == '\0'))
			return;
	}
	if (n + (n > 0) + o + 1 > sizeof(s->tried)) {
		s->tried_more = true;
		return;
	}
	(void)snprintf(s->tried + n, sizeof(s->tried) - n, "%s%s",
	    n > 0 ? "," : "", one);
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

/*
 * Queues one reply line with CRLF.  C0001: a line over 512 octets is a
 * bug; it is logged and replaced by a fixed error.
 */
static void __attribute__((format(printf, 2, 3)))
reply(struct session *s, const char *fmt, ...)
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
		set_end(s, io_timed_out(s->io) ? "timeout" : "disconnect");
		session_close(s, io_timed_out(s->io) ? EXIT_AUTOLOGOUT :
		    EXIT_ERROR);
	}
}

/* spec 2: a bad command's reply; the 20th is replaced by a close. */
static enum cmd_result __attribute__((format(printf, 2, 3)))
bad(struct session *s, const char *fmt, ...)
{
	char buf[MAX_REPLY];
	va_list ap;

	if (++s->bad_commands >= MAX_BAD_COMMANDS) {
		reply(s, "-ERR Too many errors");
		log_event(EVENT_ERROR, "too many bad commands");
		set_end(s, "too-many-errors");
		return session_close(s, EXIT_ERROR);
	}
	va_start(ap, fmt);
	(void)vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	reply(s, "%s", buf);
	return CMD_BAD;
}

static bool
is_blank(char c)
{
	return c == ' ' || c == '\t';
}

/*
 * Splits args (already trimmed) on blank runs into at most max words.
 * Returns the word count, or max + 1 when there are more.
 */
static int
split_args(char *args, char **argv, int max)
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

/* spec 2: message numbers are 1..count, decimal, no sign. */
static bool
get_msg(struct session *s, const char *arg, size_t *idx_out,
    enum cmd_result *res)
{
	enum parse_num r;
	uint32_t n;

	if ((r = parse_u32(arg, &n)) != NUM_OK) {
		*res = bad(s, "-ERR Invalid message number: %s",
		    parse_num_str(r));
		return false;
	}
	if (n == 0 || n > s->snap->count) {
		*res = bad(s, "-ERR No such message");
		return false;
	}
	if (s->snap->msgs[n - 1].deleted) {
		*res = bad(s, "-ERR Message %u is deleted", n);
		return false;
	}
	*idx_out = n - 1;
	return true;
}

/* Parses exactly one message-number argument. */
static bool
one_msg_arg(struct session *s, char *args, size_t *idx_out,
    enum cmd_result *res)
{
	char *argv[1];
	int argc = split_args(args, argv, 1);

	if (argc == 0) {
		*res = bad(s, "-ERR Missing message number");
		return false;
	}
	if (argc > 1) {
		*res = bad(s, "-ERR Too many arguments");
		return false;
	}
	return get_msg(s, argv[0], idx_out, res);
}

static void
live_totals(const struct session *s, size_t *count, uint64_t *octets)
{
	size_t i;

	*count = 0;
	*octets = 0;
	for (i = 0; i < s->snap->count; i++) {
		if (s->snap->msgs[i].deleted)
			continue;
		(*count)++;
		*octets += s->snap->msgs[i].size;
	}
}

/* spec 1: where a password may travel. */
static bool
plaintext_allowed(const struct session *s)
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

/* spec 4.1: -PLUS binds to the handler's own TLS, not to `secured`. */
static bool
own_tls(const struct session *s)
{
	return s->tls_active && s->tls != NULL;
}

static enum cmd_result
refuse_plaintext(struct session *s)
{
	s->plaintext_refused = true;
	reply(s, "-ERR [AUTH] Plaintext authentication is disallowed on "
	    "this connection; use STLS");
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
		reply(s, "EXPIRE NEVER");
	else
		reply(s, "EXPIRE %u%s", (unsigned int)exp,
		    after && s->pol.user_expire ? " USER" : "");
	if (del > 0)
		reply(s, "LOGIN-DELAY %u%s", (unsigned int)del,
		    after && s->pol.user_delay ? " USER" : "");
}

/*
 * spec 3, RFC 2449 section 5: the same list in both states, so what
 * AUTHORIZATION announces is still announced after login.
 */
static enum cmd_result
cmd_capa(struct session *s, char *args)
{
	char line[MAX_REPLY - 2];
	size_t n;
	int m;

	(void)args;
	reply(s, "+OK Capability list follows");
	reply(s, "TOP");
	reply(s, "UIDL");
	reply(s, "RESP-CODES");
	reply(s, "AUTH-RESP-CODE");
	reply(s, "PIPELINING");
	capa_policy(s);
	if (plaintext_allowed(s))
		reply(s, "USER");
	n = (size_t)snprintf(line, sizeof(line), "SASL");
	for (m = 0; m < MECH_COUNT; m++)
		if (mech_usable(s, (enum auth_mech)m) &&
		    n + strlen(mechs[m].name) + 1 < sizeof(line))
			n += (size_t)snprintf(line + n, sizeof(line) - n,
			    " %s", mechs[m].name);
	if (n > 4)
		reply(s, "%s", line);
	if (stls_offered(s))
		reply(s, "STLS");
	reply(s, "IMPLEMENTATION pop3-handler");
	reply(s, ".");
	return CMD_DONE;
}

static enum cmd_result
cmd_user(struct session *s, char *args)
{
	char *argv[1];
	int argc;

	if (!plaintext_allowed(s))
		return refuse_plaintext(s);
	argc = split_args(args, argv, 1);
	if (argc == 0)
		return bad(s, "-ERR Missing user name");
	if (argc > 1)
		return bad(s, "-ERR Too many arguments");
	/* V0008, V0009: +OK whatever the name; it is checked at PASS. */
	s->user_len = strlen(argv[0]);
	s->user_valid = auth_valid_username(argv[0], s->user_len);
	(void)strlcpy_(s->user, argv[0], sizeof(s->user));
	s->have_user = true;
	reply(s, "+OK Password required");
	return CMD_DONE;
}

/*
 * spec 4.2: nologin and allow_nets, checked once the credentials are
 * verified, whatever the mechanism: every one reaches session_login().
 * From a network not allowed the login fails exactly like a wrong
 * password (the nologin reason is not shown there); nologin answers
 * with its reason.  Both take the failure path (delay, count, close).
 * Returns true when the login may go on; else *res is the result.
 */
static bool
policy_check(struct session *s, const struct passwd_entry *e,
    enum cmd_result *res)
{
	char	 text[AUTH_MAX_REASON];
	size_t	 i;

	if (!auth_net_allowed(e, s->peer))
		*res = auth_failed(s, "not allowed");
	else if (e->nologin) {
		(void)strlcpy_(text, e->reason[0] != '\0' ? e->reason :
		    "Account disabled", sizeof(text));
		for (i = 0; text[i] != '\0'; i++)
			if ((unsigned char)text[i] < 0x20 || text[i] == 0x7f)
				text[i] = '?';	/* never a line break */
		*res = auth_failed_text(s, "nologin", text);
	} else
		return true;
	log_set_user(NULL);
	return false;
}

/* spec 4.3: a login too soon after the previous one: answer and close. */
static enum cmd_result
login_too_soon(struct session *s, const struct maildir_login *ml)
{
	uint64_t	 wait = ml->last + s->pol.login_delay > ml->now ?
	    ml->last + s->pol.login_delay - ml->now : 1;

	log_event(EVENT_LOGIN_FAILED, "login delay: previous login %llu s "
	    "ago, LOGIN-DELAY %u from %s", (unsigned long long)(ml->now >
	    ml->last ? ml->now - ml->last : 0),
	    (unsigned int)s->pol.login_delay,
	    s->peer != NULL ? s->peer : "unknown");
	reply(s, "-ERR [LOGIN-DELAY] Too soon after the last login; wait "
	    "%llu seconds", (unsigned long long)wait);
	return session_close(s, EXIT_ERROR);
}

/*
 * Enters TRANSACTION for a verified user: privilege drop, then the
 * Maildir snapshot (spec 4), after the policy of spec 4.2 (policy_check())
 * and with the LOGIN-DELAY gate of 4.3 (maildir_open()).  The only
 * AUTHORIZATION -> TRANSACTION path: every mechanism's success ends here.
 */
static enum cmd_result
session_login(struct session *s, const struct passwd_entry *e)
{
	char path[AUTH_MAX_HOME + 512];
	const char *errstr;
	struct maildir_login ml;
	enum cmd_result res;

	if (!policy_check(s, e, &res))
		return res;
	log_set_user(e->name);
	policy_init(&s->pol, s->cfg, e);
	memset(&ml, 0, sizeof(ml));
	ml.delay = s->pol.login_delay;
	ml.expire = s->pol.expire_days != EXPIRE_NEVER;
	ml.now = (uint64_t)time(NULL);
	ml.import = (enum uidmap_import)s->cfg->uidl_import;
	if (auth_become_user(e, &errstr) == -1) {
		log_event(EVENT_ERROR, "privilege drop failed: %s", errstr);
		reply(s, "-ERR [SYS/PERM] Unable to switch to the user");
		set_end(s, "server-error");
		return session_close(s, EXIT_ERROR);
	}
	if (maildir_expand_path(s->cfg->maildir, e->name, e->home, path,
	    sizeof(path)) == -1) {
		log_event(EVENT_ERROR, "maildir template gives no usable path");
		reply(s, "-ERR [SYS/TEMP] Unable to open maildrop");
		set_end(s, "server-error");
		return session_close(s, EXIT_ERROR);
	}
	if (maildir_open(path, s->cfg->uidl, &ml, &s->snap, &errstr) == -1) {
		if (ml.too_soon)
			return login_too_soon(s, &ml);
		/* spec 9: the file and the system error. */
		log_event(EVENT_ERROR, "cannot open maildrop %s: %s: %s", path,
		    errstr, strerror(errno));
		reply(s, "-ERR [SYS/TEMP] Unable to open maildrop");
		set_end(s, "server-error");
		return session_close(s, EXIT_ERROR);
	}
	if (s->cfg->log_retrievals && (s->retrieved = calloc(
	    s->snap->count + 1, 1)) == NULL)
		log_warnx("log-retrievals: out of memory, UIDLs not logged");
	/* style 3.8: from here on only the Maildir is reachable. */
	(void)sandbox_maildir(s->snap->dirfd, path);
	s->state = STATE_TRANSACTION;
	io_set_timeout(s->io, s->cfg->timeout_auth);
	reply(s, "+OK Logged in, %zu messages (%llu octets)", s->snap->count,
	    (unsigned long long)s->snap->total);
	log_event(EVENT_LOGIN, "logged in, %zu messages, %llu octets",
	    s->snap->count, (unsigned long long)s->snap->total);
	return CMD_DONE;
}

/*
 * spec 4: delay, answer, and close after max-auth-failures.  The entry
 * names the peer at the end of its text, after the user name the client
 * chose, so a fail2ban pattern anchored at the end cannot be fooled.
 */
static enum cmd_result
auth_failed_text(struct session *s, const char *why, const char *text)
{
	log_event(EVENT_LOGIN_FAILED, "authentication failed: %s from %s",
	    why, s->peer != NULL ? s->peer : "unknown");
	if (s->cfg->auth_fail_delay > 0) {
		(void)io_flush(s->io);
		sleep(s->cfg->auth_fail_delay);
	}
	reply(s, "-ERR [AUTH] %s", text);
	if (++s->auth_failures >= s->cfg->max_auth_failures) {
		set_end(s, "too-many-failures");
		return session_close(s, EXIT_ERROR);
	}
	return CMD_DONE;
}

static enum cmd_result
auth_failed(struct session *s, const char *why)
{
	return auth_failed_text(s, why, "Authentication failed");
}

/*
 * spec 4: the peer's recent failures in the penalty file delay a
 * credential check; penalty_done() writes the outcome back.  A penalty
 * file that cannot be used is reported once per connection.
 */
static void
penalty_wait(struct session *s)
{
	unsigned int wait;

	count_attempt(s);
	s->auth_warn = s->auth_failures == 0;
	s->auth_pen = penalty_check(s->cfg->penalty_file, s->peer,
	    s->cfg->auth_fail_delay, s->auth_warn, &wait) == 0;
	if (wait > 0) {
		/* spec 9: a user kept waiting needs a reason in the log. */
		log_info("penalty: waiting %u s before the check", wait);
		(void)io_flush(s->io);
		sleep(wait);
	}
}

/* Before session_login(): the file is out of reach after it. */
static void
penalty_done(struct session *s, bool failed)
{
	if (s->auth_pen)
		(void)penalty_note(s->cfg->penalty_file, s->peer, failed,
		    s->auth_warn);
	s->auth_pen = false;
}

/*
 * spec 4.2: allow_nets of the entry found (NULL: nothing to refuse).
 * Through a pointer, so cppcheck sees no read of an entry never filled.
 */
static bool
net_allowed(const struct passwd_entry *e, const char *peer)
{
	return e == NULL || auth_net_allowed(e, peer);
}

/*
 * spec 9: the passwd file could not be read (auth_lookup() logged the
 * event=error entry with the file and the system error).  Never reported
 * as a wrong password, never counted as a failure, nothing to the
 * penalty file.
 */
static enum cmd_result
auth_fault(struct session *s)
{
	log_set_user(NULL);
	reply(s, "-ERR [SYS/TEMP] Authentication is temporarily unavailable; "
	    "try again later");
	return CMD_DONE;
}

/* The account cannot log in with a password: '!' or '*', or no secret. */
static bool
entry_locked(const struct passwd_entry *e)
{
	return e->hash[0] == '!' || e->hash[0] == '*' || (e->hash[0] == '\0' &&
	    e->pw_scram < 0 && e->napp == 0);
}

/*
 * Checks credentials; an invalid or unknown name costs the same crypt
 * time as a known one (spec 4), with the penalty of spec 4 around it.
 */
static enum cmd_result
try_login(struct session *s, const char *name, size_t name_len, bool valid,
    const char *pw, size_t pw_len)
{
	struct passwd_entry e = { .pw_scram = -1 };
	const char *cred;
	bool found = false, ok;
	enum cmd_result r;

	log_set_user(name);
	note_attempt(s, name, name_len);
	penalty_wait(s);
	if (valid) {
		if (auth_lookup(s->cfg->passwd_file, name, &e) == 0)
			found = true;
		else if (errno != ENOENT)
			return auth_fault(s);
	}
	ok = auth_verify(found ? &e : NULL, pw, pw_len, &cred);
	/* spec 4.2: a refused network counts as a failure here too. */
	penalty_done(s, !ok || !net_allowed(found ? &e : NULL, s->peer));
	if (!ok) {
		r = auth_failed(s, !found ? "unknown user" : entry_locked(&e) ?
		    "locked" : "bad password");
		log_set_user(NULL);
	} else {
		/* spec 4.2: which application password, never the secret. */
		if (cred != NULL)
			log_info("credential: cred=%s", cred);
		r = session_login(s, &e);
	}
	explicit_bzero(&e, sizeof(e));
	return r;
}

static enum cmd_result
cmd_pass(struct session *s, char *args)
{
	enum cmd_result r;
	size_t len;

	if (!plaintext_allowed(s))
		return refuse_plaintext(s);
	if (!s->have_user)
		return bad(s, "-ERR PASS must follow USER");
	len = strlen(args);
	if (len == 0)
		return bad(s, "-ERR Missing password");
	s->have_user = false;
	log_set_mech("user");
	/* V0011: the whole rest of the line is the password. */
	r = try_login(s, s->user, s->user_len, s->user_valid, args, len);
	explicit_bzero(args, len);
	return r;
}

/* RFC 4616 PLAIN data, decoded and verified like USER/PASS. */
static enum cmd_result
plain_step(struct session *s, char *data)
{
	char buf[SASL_BUF];
	const char *authcid, *pw, *errstr;
	size_t authcid_len, pw_len;
	enum cmd_result r;

	if (auth_sasl_plain(data, buf, sizeof(buf), &authcid, &authcid_len,
	    &pw, &pw_len, &errstr) == -1) {
		explicit_bzero(buf, sizeof(buf));
		if (errstr == auth_err_authzid) {
			count_attempt(s);
			note_attempt(s, authcid, authcid_len);
			return auth_failed(s, errstr);
		}
		return bad(s, "-ERR Malformed authentication data");
	}
	r = try_login(s, authcid, authcid_len,
	    auth_valid_username(authcid, authcid_len), pw, pw_len);
	explicit_bzero(buf, sizeof(buf));
	return r;
}

/*
 * draft-murchison-sasl-login: "Username:" then "Password:", each a
 * base64 challenge; the answers are base64 too.  The name waits in
 * s->user between the two steps.
 */
static enum cmd_result
login_step(struct session *s, char *data)
{
	char buf[SASL_BUF];
	ssize_t n;
	enum cmd_result r;

	if ((n = b64_decode(data, buf, sizeof(buf) - 1)) < 0) {
		explicit_bzero(buf, sizeof(buf));
		return bad(s, "-ERR Malformed authentication data");
	}
	buf[n] = '\0';
	if (s->auth_step++ == 0) {
		s->user_len = (size_t)n;
		s->user_valid = auth_valid_username(buf, (size_t)n);
		(void)strlcpy_(s->user, buf, sizeof(s->user));
		s->auth_pending = &mechs[MECH_LOGIN];
		reply(s, "+ UGFzc3dvcmQ6");		/* "Password:" */
		return CMD_DONE;
	}
	r = try_login(s, s->user, s->user_len, s->user_valid, buf, (size_t)n);
	explicit_bzero(buf, sizeof(buf));
	return r;
}

static enum cmd_result
login_start(struct session *s)
{
	s->auth_pending = &mechs[MECH_LOGIN];
	reply(s, "+ VXNlcm5hbWU6");			/* "Username:" */
	return CMD_DONE;
}

/* The entry's NT hash, or NULL: no ntlm= item, or a locked account. */
static const unsigned char *
ntlm_key(const struct passwd_entry *e)
{
	if (!e->has_ntlm || (auth_hash_locked(e->hash) && e->pw_scram < 0))
		return NULL;
	return e->ntlm;
}

/* spec 4.1: GSSAPI only with a keytab to accept tickets with. */
static bool
gssapi_keytab_set(const struct session *s)
{
	return s->cfg->gssapi_keytab != NULL;
}

/* Ends the GNU SASL exchange of the AUTH under way, if any. */
static void
sasl_reset(struct session *s)
{
	sasl_end(s->sasl);
	s->sasl = NULL;
	s->sasl_final = false;
}

/* spec 4.1: RFC 5034's empty answer to the final data, then the login. */
static enum cmd_result
sasl_finish(struct session *s, const char *data)
{
	struct passwd_entry e = { .pw_scram = -1 };
	enum cmd_result r;

	if (*data != '\0') {
		sasl_reset(s);
		log_set_user(NULL);
		return bad(s, "-ERR Malformed authentication data");
	}
	/*
	 * The exchange ends before the privilege drop and the sandbox: no
	 * library call (GSS-API's included) runs after them.
	 */
	e = *sasl_entry(s->sasl);
	sasl_reset(s);
	r = session_login(s, &e);
	explicit_bzero(&e, sizeof(e));
	return r;
}

/*
 * SCRAM (and what else sasl.c runs): one base64 line a step.  The
 * penalty wait comes before the first step, the outcome goes through
 * auth_failed() or session_login() like PASS.  -PLUS is offered only
 * under the handler's own TLS, and then a plain SCRAM exchange gets the
 * binding too, to refuse a client told -PLUS was not offered.
 */
static enum cmd_result
sasl_mech_step(struct session *s, char *data)
{
	struct sasl_params p;
	char out[MAX_REPLY - 4];
	const char *why;
	enum sasl_result res;
	enum cmd_result r;

	if (s->sasl_final)
		return sasl_finish(s, data);
	if (s->sasl == NULL) {
		memset(&p, 0, sizeof(p));
		p.cfg = s->cfg;
		p.mech = s->auth_mech->id;
		p.lookup = auth_lookup;
		if (own_tls(s) && (mech_usable(s, MECH_SCRAM_SHA_256_PLUS) ||
		    mech_usable(s, MECH_SCRAM_SHA_1_PLUS)))
			p.cb_tls = s->tls;
		if ((s->sasl = sasl_start(&p, &why)) == NULL) {
			log_event(EVENT_ERROR, "cannot start %s: %s",
			    s->auth_mech->name, why);
			reply(s, "-ERR [SYS/TEMP] Authentication is unavailable");
			return CMD_DONE;
		}
		penalty_wait(s);
	}
	res = sasl_step(s->sasl, data, out, sizeof(out), &why);
	switch (res) {
	case SASL_CONTINUE:
		s->auth_pending = s->auth_mech;
		reply(s, "+ %s", out);
		return CMD_DONE;
	case SASL_OK:
		penalty_done(s, false);
		if (out[0] == '\0')
			return sasl_finish(s, "");
		s->sasl_final = true;
		s->auth_pending = s->auth_mech;
		reply(s, "+ %s", out);
		return CMD_DONE;
	case SASL_FAIL:
		penalty_done(s, true);
		sasl_reset(s);
		r = auth_failed(s, why);
		log_set_user(NULL);
		return r;
	case SASL_MALFORMED:
		sasl_reset(s);
		log_set_user(NULL);
		return bad(s, "-ERR Malformed authentication data");
	case SASL_TEMPFAIL:
	default:
		sasl_reset(s);
		log_event(EVENT_ERROR, "%s: %s", s->auth_mech->name, why);
		log_set_user(NULL);
		reply(s, "-ERR [SYS/TEMP] Authentication is unavailable");
		return CMD_DONE;
	}
}

/*
 * spec 4.1: the AUTHENTICATE of an NTLM exchange.  The key is the user's
 * ntlm= NT hash; a name that is not valid UTF-16 or fails the spec 4
 * checks, an unknown user, a locked account, a user without ntlm= and an
 * NTLMv1 or LM response all take the same HMAC work against a dummy and
 * the same failure as a wrong password.
 */
static enum cmd_result
ntlm_authenticate(struct session *s, const uint8_t *msg, size_t len)
{
	struct ntlm_authenticate a;
	struct passwd_entry e = { .pw_scram = -1 };
	char name[MAX_USERNAME + 1];
	const char *errstr, *why;
	size_t name_len = 0;
	bool valid, found = false, key, ok;
	enum cmd_result r;

	if (ntlm_parse_authenticate(msg, len, &a, &errstr) == -1) {
		log_debug("NTLM: %s", errstr);
		return bad(s, "-ERR Malformed authentication data");
	}
	valid = ntlm_utf16_to_utf8(a.user, a.user_len, name, sizeof(name),
	    &name_len) == 0 && auth_valid_username(name, name_len);
	if (!valid)
		(void)strlcpy_(name, "(invalid)", sizeof(name));
	/* As try_login(): penalty, lookup, check, penalty, outcome. */
	log_set_user(name);
	note_attempt(s, name, strlen(name));
	penalty_wait(s);
	if (valid) {
		if (auth_lookup(s->cfg->passwd_file, name, &e) == 0)
			found = true;
		else if (errno != ENOENT)
			return auth_fault(s);	/* spec 9 */
	}
	key = found && ntlm_key(&e) != NULL;
	ok = ntlm_verify(s->ntlm->crypto, key ? ntlm_key(&e) : NULL, &a,
	    s->ntlm->challenge, &s->ntlm->t);
	/* spec 4.2: a refused network counts as a failure here too. */
	penalty_done(s, !ok || !net_allowed(found ? &e : NULL, s->peer));
	if (!ok) {
		if (!found)
			why = "unknown user";
		else if (!key)
			why = e.has_ntlm ? "account locked" : "no ntlm= key";
		else if (a.nt_len < NTLM_V2_MIN)
			why = "not an NTLMv2 response";
		else
			why = "bad password";
		r = auth_failed(s, why);
		log_set_user(NULL);
	} else
		r = session_login(s, &e);
	explicit_bzero(&e, sizeof(e));
	return r;
}

/* Ends the session's NTLM exchange, if any. */
static void
ntlm_end(struct session *s)
{
	ntlm_exchange_free(s->ntlm);
	s->ntlm = NULL;
}

/*
 * The NEGOTIATE: starts the exchange and answers "+ " and the CHALLENGE.
 * libcrypto is loaded here, when an exchange starts, and never for other
 * sessions.
 */
static enum cmd_result
ntlm_negotiate(struct session *s, const uint8_t *msg, size_t n)
{
	char b64[MAX_REPLY];
	const char *errstr;

	ntlm_end(s);
	if ((s->ntlm = ntlm_exchange_new(&errstr)) == NULL) {
		log_warnx("NTLM: %s", errstr);
		reply(s, "-ERR [SYS/TEMP] NTLM is not available now");
		return CMD_DONE;
	}
	if (ntlm_exchange_negotiate(s->ntlm, msg, n, s->cfg->hostname,
	    time(NULL), &errstr) == -1) {
		log_debug("NTLM: %s", errstr);
		ntlm_end(s);
		return bad(s, "-ERR Malformed authentication data");
	}
	/* C0001: the builder keeps the CHALLENGE within one reply line. */
	if (b64_encode(s->ntlm->t.challenge, s->ntlm->t.challenge_len, b64,
	    sizeof(b64)) == 0) {
		ntlm_end(s);
		reply(s, "-ERR [SYS/PERM] Internal error");
		return CMD_DONE;
	}
	s->auth_pending = &mechs[MECH_NTLM];
	reply(s, "+ %s", b64);
	return CMD_DONE;
}

/*
 * MS-OXPOP3 framing: AUTH NTLM, "+ ", the NEGOTIATE (or it as the
 * initial response); "+ " and the CHALLENGE; the AUTHENTICATE.  The
 * decoded messages are cleared after use.
 */
static enum cmd_result
ntlm_step(struct session *s, char *data)
{
	char msg[NTLM_MAX_MESSAGE];
	enum cmd_result r;
	ssize_t n;

	if ((n = b64_decode(data, msg, sizeof(msg))) <= 0) {
		ntlm_end(s);
		r = bad(s, "-ERR Malformed authentication data");
	} else if (s->auth_step++ == 0)
		r = ntlm_negotiate(s, (const uint8_t *)msg, (size_t)n);
	else {
		r = ntlm_authenticate(s, (const uint8_t *)msg, (size_t)n);
		ntlm_end(s);
	}
	explicit_bzero(msg, sizeof(msg));
	return r;
}

/*
 * spec 4.1: a mechanism is usable on this connection right now when it is
 * listed in auth-mechanisms, built, and its own rule allows it here.
 */
static bool
mech_usable(const struct session *s, enum auth_mech m)
{
	if ((s->cfg->auth_mechs & MECH_BIT(m)) == 0 || mechs[m].step == NULL)
		return false;
	return mechs[m].usable == NULL || mechs[m].usable(s);
}

static const struct mech *
mech_find(const char *name)
{
	int m;

	for (m = 0; m < MECH_COUNT; m++)
		if (mechs[m].name != NULL && !strcasecmp(name, mechs[m].name))
			return &mechs[m];
	return NULL;
}

/*
 * RFC 5034: AUTH alone lists the usable mechanisms; AUTH mech [initial]
 * starts one.  An initial response is the first step's data ("=": empty).
 */
static enum cmd_result
cmd_auth(struct session *s, char *args)
{
	const struct mech *mech;
	char *argv[2];
	int argc, m;

	argc = split_args(args, argv, 2);
	if (argc == 0) {
		reply(s, "+OK Supported mechanisms follow");
		for (m = 0; m < MECH_COUNT; m++)
			if (mech_usable(s, (enum auth_mech)m))
				reply(s, "%s", mechs[m].name);
		reply(s, ".");
		return CMD_DONE;
	}
	if (argc > 2)
		return bad(s, "-ERR Too many arguments");
	mech = mech_find(argv[0]);
	if (mech != NULL && mech->plaintext && !plaintext_allowed(s) &&
	    (s->cfg->auth_mechs & MECH_BIT(mech->id)) != 0)
		return refuse_plaintext(s);
	if (mech == NULL || !mech_usable(s, mech->id))
		return bad(s, "-ERR Unsupported authentication mechanism");
	s->auth_step = 0;
	s->auth_pending = NULL;
	s->auth_mech = mech;
	sasl_reset(s);
	log_set_mech(config_mech_name(mech->id));
	if (argc == 2) {
		if (!strcmp(argv[1], "*"))
			return bad(s, "-ERR Authentication cancelled");
		if (!strcmp(argv[1], "="))
			argv[1][0] = '\0';
		return mech->step(s, argv[1]);
	}
	if (mech->start != NULL)
		return mech->start(s);
	/* An empty challenge, the data on the next line. */
	s->auth_pending = mech;
	reply(s, "+ ");
	return CMD_DONE;
}

/* A line that answers a "+ " challenge; "*" cancels (RFC 5034). */
static enum cmd_result
auth_continue(struct session *s, char *line)
{
	const struct mech *mech = s->auth_pending;

	s->auth_pending = NULL;
	if (!strcmp(line, "*")) {
		sasl_reset(s);
		return bad(s, "-ERR Authentication cancelled");
	}
	return mech->step(s, line);
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
		return bad(s, "-ERR Too many arguments");
	if (!tls_configured(s))
		return bad(s, "-ERR TLS is not configured");
	if (s->tls_active)
		return bad(s, "-ERR TLS is already active");
	/* spec 8: secured = yes: stunnel's TLS is there already. */
	if (s->cfg->secured)
		return bad(s, "-ERR The transport is already protected; "
		    "STLS is not available");
	if (tls_load(s->tls, &errstr) == -1) {	/* OpenSSL, loaded now */
		log_warnx("STLS: %s", errstr);
		reply(s, "-ERR [SYS/TEMP] TLS is not available");
		return CMD_DONE;
	}
	reply(s, "+OK Begin TLS negotiation");
	if (s->closing || io_flush(s->io) == -1)
		return session_close(s, EXIT_ERROR);
	io_discard_input(s->io);
	if (tls_accept(s->tls, io_in_fd(s->io), io_out_fd(s->io),
	    s->cfg->timeout_unauth, &s->tr, &errstr) == -1) {
		log_event(EVENT_ERROR, "STLS: %s", errstr);
		set_end(s, "tls-handshake-failed");
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
	return bad(s, "-ERR APOP not supported");	/* V0012 */
}

static enum cmd_result
cmd_quit_auth(struct session *s, char *args)
{
	(void)args;
	reply(s, "+OK Bye");
	set_end(s, "quit");
	return session_close(s, EXIT_QUIT);
}

static enum cmd_result
cmd_stat(struct session *s, char *args)
{
	size_t count;
	uint64_t octets;

	if (*args != '\0')
		return bad(s, "-ERR Too many arguments");
	live_totals(s, &count, &octets);
	reply(s, "+OK %zu %llu", count, (unsigned long long)octets);
	return CMD_DONE;
}

static enum cmd_result
cmd_list(struct session *s, char *args)
{
	enum cmd_result res;
	size_t i, count;
	uint64_t octets;

	if (*args != '\0') {
		if (!one_msg_arg(s, args, &i, &res))
			return res;
		reply(s, "+OK %zu %llu", i + 1,
		    (unsigned long long)s->snap->msgs[i].size);
		return CMD_DONE;
	}
	live_totals(s, &count, &octets);
	reply(s, "+OK %zu messages (%llu octets)", count,
	    (unsigned long long)octets);
	for (i = 0; i < s->snap->count && !s->closing; i++) {
		if (!s->snap->msgs[i].deleted)
			reply(s, "%zu %llu", i + 1,
			    (unsigned long long)s->snap->msgs[i].size);
	}
	reply(s, ".");
	return CMD_DONE;
}

/*
 * Readahead (doc/design.md 6): once the answer is out and no command is
 * waiting, read the next undeleted message from index i on.
 */
static void
read_ahead(void *arg)
{
	struct session *s = arg;
	struct stat sb;
	int fd;

	if (s->ra == NULL && (s->ra = readahead_new()) == NULL)
		return;
	if ((fd = maildir_msg_open(s->snap, s->ra_next, &sb)) != -1)
		(void)readahead_fill(s->ra, s->ra_next, fd, &sb);
}

static void
schedule_readahead(struct session *s, size_t i)
{
	while (i < s->snap->count && s->snap->msgs[i].deleted)
		i++;
	if (i < s->snap->count) {
		s->ra_next = i;
		io_on_idle(s->io, read_ahead, s);
	}
}

/*
 * RETR and TOP: open first so a removed message gets a clean -ERR.
 * *whole_out: the whole message went out (RETR, or TOP of all of it).
 */
static enum cmd_result
send_message(struct session *s, size_t i, int64_t top_lines,
    bool *whole_out)
{
	struct stat sb;
	int fd;

	*whole_out = top_lines < 0;
	if ((fd = maildir_msg_open(s->snap, i, &sb)) == -1) {
		if (errno == ENOENT)
			return bad(s, "-ERR Message %zu was removed from the "
			    "maildrop", i + 1);	/* C0004 */
		log_warn("cannot open message %zu", i + 1);
		reply(s, "-ERR [SYS/TEMP] Unable to read message %zu", i + 1);
		return CMD_DONE;
	}
	if (top_lines < 0)
		reply(s, "+OK %llu octets",
		    (unsigned long long)s->snap->msgs[i].size);
	else
		reply(s, "+OK Top of message follows");
	if (s->closing) {
		(void)close(fd);
		return CMD_CLOSE;
	}
	if ((top_lines < 0 ? readahead_stream(s->ra, i, fd, &sb, s->io) :
	    crlf_stream_top(fd, top_lines, s->io, whole_out)) == -1) {
		if (io_timed_out(s->io))
			return session_close(s, EXIT_AUTOLOGOUT);
		log_event(EVENT_ERROR, "streaming message %zu failed", i + 1);
		return session_close(s, EXIT_ERROR);
	}
	reply(s, ".");
	return CMD_DONE;
}

static enum cmd_result
cmd_retr(struct session *s, char *args)
{
	enum cmd_result res;
	size_t i;
	bool whole;

	if (!one_msg_arg(s, args, &i, &res))
		return res;
	res = send_message(s, i, -1, &whole);
	if (res == CMD_DONE) {
		policy_note_retr(&s->pol, s->snap->count, i,
		    (uint64_t)time(NULL));
		if (s->retrieved != NULL)
			s->retrieved[i] = 1;
		s->stats.retr++;
		s->stats.retr_octets += s->snap->msgs[i].size;
		/* The first RETR, or one after the previous: read ahead. */
		if (s->last_retr == 0 || s->last_retr == i)
			schedule_readahead(s, i + 1);
		else
			io_on_idle(s->io, NULL, NULL);
		s->last_retr = i + 1;
	}
	return res;
}

static enum cmd_result
cmd_top(struct session *s, char *args)
{
	char *argv[2];
	enum cmd_result res;
	enum parse_num r;
	uint32_t lines;
	size_t i;
	int argc;
	bool whole;

	argc = split_args(args, argv, 2);
	if (argc == 0)
		return bad(s, "-ERR Missing message number");
	if (argc == 1)
		return bad(s, "-ERR Missing line count");
	if (argc > 2)
		return bad(s, "-ERR Too many arguments");
	if (!get_msg(s, argv[0], &i, &res))
		return res;
	if ((r = parse_u32(argv[1], &lines)) != NUM_OK)
		return bad(s, "-ERR Invalid line count: %s", parse_num_str(r));
	res = send_message(s, i, lines, &whole);
	if (res == CMD_DONE)
		s->stats.top++;
	/* spec 4.3: TOP of the whole body is a retrieval. */
	if (res == CMD_DONE && whole)
		policy_note_retr(&s->pol, s->snap->count, i,
		    (uint64_t)time(NULL));
	return res;
}

static enum cmd_result
cmd_dele(struct session *s, char *args)
{
	enum cmd_result res;
	size_t i;

	if (!one_msg_arg(s, args, &i, &res))
		return res;
	s->snap->msgs[i].deleted = true;
	s->stats.dele++;
	reply(s, "+OK Message %zu deleted", i + 1);
	return CMD_DONE;
}

static enum cmd_result
cmd_noop(struct session *s, char *args)
{
	if (*args != '\0')
		return bad(s, "-ERR Too many arguments");
	reply(s, "+OK");
	return CMD_DONE;
}

static enum cmd_result
cmd_rset(struct session *s, char *args)
{
	size_t i, count;
	uint64_t octets;

	if (*args != '\0')
		return bad(s, "-ERR Too many arguments");
	for (i = 0; i < s->snap->count; i++)
		s->snap->msgs[i].deleted = false;
	s->stats.dele = 0;
	live_totals(s, &count, &octets);
	reply(s, "+OK %zu messages (%llu octets)", count,
	    (unsigned long long)octets);
	return CMD_DONE;
}

static enum cmd_result
cmd_uidl(struct session *s, char *args)
{
	enum cmd_result res;
	size_t i;

	if (*args != '\0') {
		if (!one_msg_arg(s, args, &i, &res))
			return res;
		reply(s, "+OK %zu %s", i + 1, s->snap->msgs[i].uidl);
		return CMD_DONE;
	}
	reply(s, "+OK Unique-ID listing follows");
	for (i = 0; i < s->snap->count && !s->closing; i++) {
		if (!s->snap->msgs[i].deleted)
			reply(s, "%zu %s", i + 1, s->snap->msgs[i].uidl);
	}
	reply(s, ".");
	return CMD_DONE;
}

/*
 * spec 9, log-retrievals = yes: the UIDLs retrieved and removed follow the
 * entry's counters as "retrieved-uidls=u1,u2 removed-uidls=u3" (',', '='
 * and '\\' in a UIDL written as \xNN).  A list longer than UIDL_LOG_MAX
 * octets goes on in further entries of the same event, "continued:
 * retrieved-uidls=...", so no line is cut and nothing is lost.
 */
#define UIDL_LOG_MAX	640

struct uidl_log {
	enum log_event	 ev;
	bool		 first_done;
	const char	*kind;		/* the list being written */
	size_t		 len;
	char		 head[MAX_REPLY];
	char		 buf[UIDL_LOG_MAX + 1];
};

static void __attribute__((format(printf, 3, 4)))
uidl_log_init(struct uidl_log *u, enum log_event ev, const char *fmt, ...)
{
	va_list ap;

	u->ev = ev;
	u->first_done = false;
	u->kind = NULL;
	u->len = 0;
	u->buf[0] = '\0';
	va_start(ap, fmt);
	(void)vsnprintf(u->head, sizeof(u->head), fmt, ap);
	va_end(ap);
}

static void
uidl_log_emit(struct uidl_log *u)
{
	if (!u->first_done)
		log_event(u->ev, "%s%s%s", u->head, u->len > 0 ? " " : "",
		    u->buf);
	else if (u->len > 0)
		log_event(u->ev, "continued: %s", u->buf);
	u->first_done = true;
	u->kind = NULL;
	u->len = 0;
	u->buf[0] = '\0';
}

static void
uidl_log_add(struct uidl_log *u, const char *kind, const char *uidl)
{
	char esc[MAX_UIDL * 4 + 1];
	size_t o = 0, need;

	for (; *uidl != '\0'; uidl++)
		if (!tried_put(esc, sizeof(esc), &o, (unsigned char)*uidl))
			break;
	esc[o] = '\0';
	need = (u->kind == kind ? 1 : strlen(kind) + 2) + o;
	if (u->len > 0 && u->len + need > UIDL_LOG_MAX)
		uidl_log_emit(u);
	if (u->kind == kind)
		u->len += (size_t)snprintf(u->buf + u->len, sizeof(u->buf) -
		    u->len, ",%s", esc);
	else
		u->len += (size_t)snprintf(u->buf + u->len, sizeof(u->buf) -
		    u->len, "%s%s=%s", u->len > 0 ? " " : "", kind, esc);
	u->kind = kind;
}

/*
 * Logs u's entry with the lists log-retrievals asks for: the messages
 * RETR sent, then (removed not NULL) those marked deleted under that name.
 */
static void
uidl_log_all(const struct session *s, struct uidl_log *u,
    const char *removed)
{
	size_t i;

	if (s->retrieved != NULL) {
		for (i = 0; i < s->snap->count; i++)
			if (s->retrieved[i])
				uidl_log_add(u, "retrieved-uidls",
				    s->snap->msgs[i].uidl);
		for (i = 0; removed != NULL && i < s->snap->count; i++)
			if (s->snap->msgs[i].deleted)
				uidl_log_add(u, removed,
				    s->snap->msgs[i].uidl);
	}
	uidl_log_emit(u);
}

/* spec 5: UPDATE happens here and nowhere else. */
static enum cmd_result
cmd_quit_trans(struct session *s, char *args)
{
	struct uidl_log ul;
	unsigned int marked, failed, expired;

	(void)args;
	/* spec 4.3: expired messages join the marked ones in one UPDATE. */
	policy_expire(&s->pol, s->snap, (uint64_t)time(NULL), &expired);
	if (expired > 0)
		log_info("EXPIRE %u: %u retrieved messages expired",
		    (unsigned int)s->pol.expire_days, expired);
	if (update_apply(s->snap, &marked, &failed) == -1) {
		log_event(EVENT_ERROR, "%u of %u messages could not be removed",
		    failed, marked);
		reply(s, "-ERR [SYS/TEMP] %u of %u messages could not be "
		    "removed", failed, marked);
	} else
		reply(s, "+OK Bye");
	uidl_log_init(&ul, EVENT_LOGOUT, "logout: retrieved=%u octets=%llu "
	    "top=%u deleted=%u removed=%u messages=%zu size=%llu",
	    s->stats.retr, (unsigned long long)s->stats.retr_octets,
	    s->stats.top, s->stats.dele, marked - failed, s->snap->count,
	    (unsigned long long)s->snap->total);
	uidl_log_all(s, &ul, failed == 0 ? "removed-uidls" : "marked-uidls");
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
		return bad(s, "-ERR Unknown command");
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
			return bad(s, "-ERR %s is only valid %s login", kw,
			    s->state == STATE_AUTHORIZATION ? "after" :
			    "before");
		return bad(s, "-ERR Unknown command");
	}
	if (cmd->run != cmd_pass) {
		/* Trailing blanks are ignored, PASS aside (V0011). */
		end = args + strlen(args);
		while (end > args && is_blank(end[-1]))
			*--end = '\0';
	}
	return cmd->run(s, args);
}

void
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
		(void)bad(s, "-ERR Command contains a NUL octet");
		return;
	}
	if (s->auth_pending != NULL) {
		(void)auth_continue(s, line);
		explicit_bzero(line, len);
		return;
	}
	(void)dispatch(s, line);
}

int
session_run(struct session *s)
{
	struct uidl_log ul;
	enum io_status st;
	char *line;
	size_t len;

	reply(s, "+OK %s POP3 server ready", s->cfg->hostname);
	while (!s->closing) {
		/* RFC 5034: a continuation line may be longer (io.h). */
		io_set_max_line(s->io, s->auth_pending != NULL ?
		    MAX_COMMAND_LENGTH : s->cfg->max_command_length);
		st = io_getline(s->io, &line, &len);
		switch (st) {
		case IO_OK:
			session_line(s, line, len);
			break;
		case IO_TOO_LONG:
			s->auth_pending = NULL;
			(void)bad(s, "-ERR Command line too long");
			break;
		case IO_TIMEOUT:
			/* V0002, V0003: announce, close, no UPDATE. */
			set_end(s, "timeout");
			reply(s, "-ERR Autologout; idle for too long");
			(void)session_close(s, EXIT_AUTOLOGOUT);
			break;
		case IO_EOF:
		case IO_ERROR:
			set_end(s, "disconnect");
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
	else if (s->exit == EXIT_AUTOLOGOUT) {
		uidl_log_init(&ul, EVENT_AUTOLOGOUT, "autologout after idling: "
		    "retrieved=%u marked=%u, nothing removed", s->stats.retr,
		    s->stats.dele);
		uidl_log_all(s, &ul, NULL);
	} else if (s->exit == EXIT_ERROR) {
		uidl_log_init(&ul, EVENT_LOGOUT, "session ended without QUIT: "
		    "retrieved=%u marked=%u, nothing removed", s->stats.retr,
		    s->stats.dele);
		uidl_log_all(s, &ul, NULL);
	}
	sasl_reset(s);
	io_finish(s->io);
	ntlm_end(s);
	free(s->retrieved);
	readahead_free(s->ra);
	policy_free(&s->pol);
	if (s->snap != NULL)
		maildir_close(s->snap);
	return s->exit;
}
