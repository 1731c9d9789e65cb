/*
 * session.c: the POP3 state machine (SPEC 2, 3, 4, 7).  One command table
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
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "auth.h"
#include "config.h"
#include "crlf.h"
#include "io.h"
#include "log.h"
#include "maildir.h"
#include "ntlm.h"
#include "penalty.h"
#include "sandbox.h"
#include "session.h"
#include "tls.h"
#include "update.h"
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
static enum cmd_result	 ntlm_step(struct session *, char *);
static bool			 mech_usable(const struct session *,
				    enum auth_mech);

/*
 * SPEC 4.1: the SASL mechanisms, indexed by enum auth_mech.  A row with no
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
	    NULL, NULL },
	[MECH_SCRAM_SHA_1_PLUS] = { MECH_SCRAM_SHA_1_PLUS, "SCRAM-SHA-1-PLUS",
	    false, NULL, NULL, NULL },
	[MECH_SCRAM_SHA_256] = { MECH_SCRAM_SHA_256, "SCRAM-SHA-256", false,
	    NULL, NULL, NULL },
	[MECH_SCRAM_SHA_256_PLUS] = { MECH_SCRAM_SHA_256_PLUS,
	    "SCRAM-SHA-256-PLUS", false, NULL, NULL, NULL },
	[MECH_GSSAPI] = { MECH_GSSAPI, "GSSAPI", false, NULL, NULL, NULL },
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
	if (io_write(s->io, buf, (size_t)n) == -1 && !s->closing)
		session_close(s, io_timed_out(s->io) ? EXIT_AUTOLOGOUT :
		    EXIT_ERROR);
}

/* SPEC 2: a bad command's reply; the 20th is replaced by a close. */
static enum cmd_result __attribute__((format(printf, 2, 3)))
bad(struct session *s, const char *fmt, ...)
{
	char buf[MAX_REPLY];
	va_list ap;

	if (++s->bad_commands >= MAX_BAD_COMMANDS) {
		reply(s, "-ERR Too many errors");
		log_event(EVENT_ERROR, "too many bad commands");
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

/* SPEC 2: message numbers are 1..count, decimal, no sign. */
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

/* SPEC 1: where a password may travel. */
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

static enum cmd_result
refuse_plaintext(struct session *s)
{
	reply(s, "-ERR [AUTH] Plaintext authentication is disallowed on "
	    "this connection; use STLS");
	return CMD_DONE;
}

/* SPEC 8: STLS only where TLS is configured, not active, not protected. */
static bool
stls_offered(const struct session *s)
{
	return tls_configured(s) && !s->tls_active && !s->cfg->secured;
}

/*
 * SPEC 3, RFC 2449 section 5: the same list in both states, so what
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
	if (s->cfg->expire_days == EXPIRE_NEVER)
		reply(s, "EXPIRE NEVER");
	else
		reply(s, "EXPIRE %u", (unsigned int)s->cfg->expire_days);
	if (s->cfg->login_delay > 0)
		reply(s, "LOGIN-DELAY %u", (unsigned int)s->cfg->login_delay);
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
 * Enters TRANSACTION for a verified user: privilege drop, then the
 * Maildir snapshot (SPEC 4).  The only AUTHORIZATION -> TRANSACTION path.
 */
static enum cmd_result
session_login(struct session *s, const struct passwd_entry *e)
{
	char path[AUTH_MAX_HOME + 512];
	const char *errstr;

	log_set_user(e->name);
	if (auth_become_user(e, &errstr) == -1) {
		log_event(EVENT_ERROR, "privilege drop failed: %s", errstr);
		reply(s, "-ERR [SYS/PERM] Unable to switch to the user");
		return session_close(s, EXIT_ERROR);
	}
	if (config_expand_maildir(s->cfg->maildir, e->name, e->home, path,
	    sizeof(path)) == -1) {
		log_event(EVENT_ERROR, "maildir template gives no usable path");
		reply(s, "-ERR [SYS/TEMP] Unable to open maildrop");
		return session_close(s, EXIT_ERROR);
	}
	if (maildir_open(path, s->cfg->uidl, &s->snap, &errstr) == -1) {
		log_event(EVENT_ERROR, "cannot open maildrop %s: %s", path,
		    errstr);
		reply(s, "-ERR [SYS/TEMP] Unable to open maildrop");
		return session_close(s, EXIT_ERROR);
	}
	/* STYLE 3.8: from here on only the Maildir is reachable. */
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
 * SPEC 4: delay, answer, and close after max-auth-failures.  The entry
 * names the peer at the end of its text, after the user name the client
 * chose, so a fail2ban pattern anchored at the end cannot be fooled.
 */
static enum cmd_result
auth_failed(struct session *s, const char *why)
{
	log_event(EVENT_LOGIN_FAILED, "authentication failed: %s from %s",
	    why, s->peer != NULL ? s->peer : "unknown");
	if (s->cfg->auth_fail_delay > 0) {
		(void)io_flush(s->io);
		sleep(s->cfg->auth_fail_delay);
	}
	reply(s, "-ERR [AUTH] Authentication failed");
	if (++s->auth_failures >= s->cfg->max_auth_failures)
		return session_close(s, EXIT_ERROR);
	return CMD_DONE;
}

/*
 * Issue 5: the peer's recent failures in the penalty file delay a
 * credential check; penalty_done() writes the outcome back.  A penalty
 * file that cannot be used is reported once per connection.
 */
static void
penalty_wait(struct session *s)
{
	unsigned int wait;

	s->auth_warn = s->auth_failures == 0;
	s->auth_pen = penalty_check(s->cfg->penalty_file, s->peer,
	    s->cfg->auth_fail_delay, s->auth_warn, &wait) == 0;
	if (wait > 0) {
		log_debug("penalty: waiting %u s before the check", wait);
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
 * Checks credentials; an invalid or unknown name costs the same crypt
 * time as a known one (SPEC 4), with the penalty of issue 5 around it.
 */
static enum cmd_result
try_login(struct session *s, const char *name, size_t name_len, bool valid,
    const char *pw, size_t pw_len)
{
	struct passwd_entry e;
	const char *cred;
	bool found = false, ok;
	enum cmd_result r;

	log_set_user(name);
	penalty_wait(s);
	if (valid) {
		if (auth_lookup(s->cfg->passwd_file, name, &e) == 0)
			found = true;
		else if (errno != ENOENT)
			log_warn("cannot read %s", s->cfg->passwd_file);
	}
	(void)name_len;
	ok = auth_verify(found ? &e : NULL, pw, pw_len, &cred);
	penalty_done(s, !ok);
	if (!ok) {
		r = auth_failed(s, found ? "bad password" : "unknown user");
		log_set_user(NULL);
	} else {
		/* SPEC 4.2: which application password, never the secret. */
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
		if (errstr == auth_err_authzid)
			return auth_failed(s, errstr);
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

/*
 * SPEC 4.1: the AUTHENTICATE of an NTLM exchange.  The key is the user's
 * ntlm= NT hash; a name that is not valid UTF-16 or fails the SPEC 4
 * checks, an unknown user, a locked account, a user without ntlm= and an
 * NTLMv1 or LM response all take the same HMAC work against a dummy and
 * the same failure as a wrong password.
 */
static enum cmd_result
ntlm_authenticate(struct session *s, const uint8_t *msg, size_t len)
{
	struct ntlm_authenticate a;
	struct passwd_entry e;
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
	penalty_wait(s);
	if (valid) {
		if (auth_lookup(s->cfg->passwd_file, name, &e) == 0)
			found = true;
		else if (errno != ENOENT)
			log_warn("cannot read %s", s->cfg->passwd_file);
	}
	key = found && e.has_ntlm && !(auth_hash_locked(e.hash) &&
	    e.pw_scram < 0);
	ok = ntlm_verify(s->ntlm->crypto, key ? e.ntlm : NULL, &a,
	    s->ntlm->challenge, &s->ntlm->t);
	penalty_done(s, !ok);
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
 * SPEC 4.1: a mechanism is usable on this connection right now when it is
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
	if (!strcmp(line, "*"))
		return bad(s, "-ERR Authentication cancelled");
	return mech->step(s, line);
}

/*
 * SPEC 8, RFC 2595: answer, drop whatever the client pipelined in
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
 * Readahead (issue 6, crlf.c): once the answer is out and no command is
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

/* RETR and TOP: open first so a removed message gets a clean -ERR. */
static enum cmd_result
send_message(struct session *s, size_t i, int64_t top_lines)
{
	struct stat sb;
	int fd;

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
	    crlf_stream(fd, top_lines, s->io)) == -1) {
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

	if (!one_msg_arg(s, args, &i, &res))
		return res;
	res = send_message(s, i, -1);
	if (res == CMD_DONE) {
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
	res = send_message(s, i, lines);
	if (res == CMD_DONE)
		s->stats.top++;
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

/* SPEC 5: UPDATE happens here and nowhere else. */
static enum cmd_result
cmd_quit_trans(struct session *s, char *args)
{
	unsigned int marked, failed;

	(void)args;
	if (update_apply(s->snap, &marked, &failed) == -1) {
		log_event(EVENT_ERROR, "%u of %u messages could not be removed",
		    failed, marked);
		reply(s, "-ERR [SYS/TEMP] %u of %u messages could not be "
		    "removed", failed, marked);
	} else
		reply(s, "+OK Bye");
	log_event(EVENT_LOGOUT, "logout: retrieved=%u octets=%llu top=%u "
	    "deleted=%u removed=%u messages=%zu size=%llu", s->stats.retr,
	    (unsigned long long)s->stats.retr_octets, s->stats.top,
	    s->stats.dele, marked - failed, s->snap->count,
	    (unsigned long long)s->snap->total);
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
	enum io_status st;
	char *line;
	size_t len;

	reply(s, "+OK %s POP3 server ready", s->cfg->hostname);
	while (!s->closing) {
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
			reply(s, "-ERR Autologout; idle for too long");
			(void)session_close(s, EXIT_AUTOLOGOUT);
			break;
		case IO_EOF:
		case IO_ERROR:
			(void)session_close(s, EXIT_ERROR);
			break;
		}
	}
	/*
	 * SPEC 5: no UPDATE without QUIT.  Saying so explains to an
	 * administrator why a client sees those messages again.
	 */
	if (s->exit == EXIT_AUTOLOGOUT)
		log_event(EVENT_AUTOLOGOUT, "autologout after idling: "
		    "retrieved=%u marked=%u, nothing removed", s->stats.retr,
		    s->stats.dele);
	else if (s->exit == EXIT_ERROR && s->state == STATE_TRANSACTION)
		log_event(EVENT_LOGOUT, "session ended without QUIT: "
		    "retrieved=%u marked=%u, nothing removed", s->stats.retr,
		    s->stats.dele);
	io_finish(s->io);
	ntlm_end(s);
	readahead_free(s->ra);
	if (s->snap != NULL)
		maildir_close(s->snap);
	return s->exit;
}
