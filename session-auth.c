/*
 * session-auth.c: the AUTHORIZATION commands that carry credentials
 * (spec 4, 4.1): USER and PASS, AUTH with the table of SASL mechanisms,
 * and each mechanism's steps (PLAIN, LOGIN, the GNU SASL ones, NTLM), up
 * to the verified user or the failure that session-login.c handles.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "auth.h"
#include "config.h"
#include "log.h"
#include "ntlm.h"
#include "sasl.h"
#include "session-int.h"
#include "util.h"

#define SASL_BUF	(MAX_COMMAND_LENGTH)

static bool			 own_tls(const struct session *);
static bool			 gssapi_keytab_set(const struct session *);
static enum cmd_result	 plain_step(struct session *, char *);
static enum cmd_result	 login_start(struct session *);
static enum cmd_result	 login_step(struct session *, char *);
static enum cmd_result	 sasl_mech_step(struct session *, char *);
static enum cmd_result	 ntlm_step(struct session *, char *);

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
	[MECH_PLAIN] = { MECH_PLAIN, "PLAIN", true, session_plaintext_allowed,
	    NULL, plain_step },
	[MECH_LOGIN] = { MECH_LOGIN, "LOGIN", true, session_plaintext_allowed,
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

/* spec 4.1: -PLUS binds to the handler's own TLS, not to `secured`. */
static bool
own_tls(const struct session *s)
{
	return s->tls_active && s->tls != NULL;
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

enum cmd_result
cmd_user(struct session *s, char *args)
{
	char *argv[1];
	int argc;

	if (!session_plaintext_allowed(s))
		return session_refuse_plaintext(s);
	argc = session_split_args(args, argv, 1);
	if (argc == 0)
		return session_bad(s, "-ERR Missing user name");
	if (argc > 1)
		return session_bad(s, "-ERR Too many arguments");
	/* V0008, V0009: +OK whatever the name; it is checked at PASS. */
	s->user_len = strlen(argv[0]);
	s->user_valid = auth_valid_username(argv[0], s->user_len);
	(void)strlcpy_(s->user, argv[0], sizeof(s->user));
	s->have_user = true;
	session_reply(s, "+OK Password required");
	return CMD_DONE;
}

enum cmd_result
cmd_pass(struct session *s, char *args)
{
	enum cmd_result r;
	size_t len;

	if (!session_plaintext_allowed(s))
		return session_refuse_plaintext(s);
	if (!s->have_user)
		return session_bad(s, "-ERR PASS must follow USER");
	len = strlen(args);
	if (len == 0)
		return session_bad(s, "-ERR Missing password");
	s->have_user = false;
	log_set_mech("user");
	/* V0011: the whole rest of the line is the password. */
	r = session_try_login(s, s->user, s->user_len, s->user_valid, args,
	    len);
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
		if (errstr == auth_err_authzid) {
			/* authcid is set then (auth.h). */
			session_count_attempt(s);
			session_note_attempt(s, authcid, authcid_len);
			explicit_bzero(buf, sizeof(buf));
			return session_auth_failed(s, errstr);
		}
		explicit_bzero(buf, sizeof(buf));
		return session_bad(s, "-ERR Malformed authentication data");
	}
	r = session_try_login(s, authcid, authcid_len,
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
		return session_bad(s, "-ERR Malformed authentication data");
	}
	buf[n] = '\0';
	if (s->auth_step++ == 0) {
		s->user_len = (size_t)n;
		s->user_valid = auth_valid_username(buf, (size_t)n);
		(void)strlcpy_(s->user, buf, sizeof(s->user));
		s->auth_pending = &mechs[MECH_LOGIN];
		session_reply(s, "+ UGFzc3dvcmQ6");	/* "Password:" */
		return CMD_DONE;
	}
	r = session_try_login(s, s->user, s->user_len, s->user_valid, buf,
	    (size_t)n);
	explicit_bzero(buf, sizeof(buf));
	return r;
}

static enum cmd_result
login_start(struct session *s)
{
	s->auth_pending = &mechs[MECH_LOGIN];
	session_reply(s, "+ VXNlcm5hbWU6");		/* "Username:" */
	return CMD_DONE;
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
		return session_bad(s, "-ERR Malformed authentication data");
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
 * Starts the GNU SASL exchange of the AUTH under way, then the penalty
 * wait.  -PLUS is offered only under the handler's own TLS, and then a
 * plain SCRAM exchange gets the binding too, to refuse a client told
 * -PLUS was not offered.  Returns false when it cannot start (replied).
 */
static bool
sasl_begin(struct session *s)
{
	struct sasl_params p;
	const char *why;

	memset(&p, 0, sizeof(p));
	p.cfg = s->cfg;
	p.mech = s->auth_mech->id;
	p.lookup = auth_lookup;
	p.shape = auth_scram_shape;
	if (own_tls(s) && (mech_usable(s, MECH_SCRAM_SHA_256_PLUS) ||
	    mech_usable(s, MECH_SCRAM_SHA_1_PLUS)))
		p.cb_tls = s->tls;
	if ((s->sasl = sasl_start(&p, &why)) == NULL) {
		log_event(EVENT_ERROR, "cannot start %s: %s",
		    s->auth_mech->name, why);
		session_reply(s, "-ERR [SYS/TEMP] Authentication is "
		    "unavailable");
		return false;
	}
	session_penalty_wait(s);
	return true;
}

/*
 * SCRAM (and what else sasl.c runs): one base64 line a step.  The
 * penalty wait comes before the first step (sasl_begin()), the outcome
 * goes through session_auth_failed() or session_login() like PASS.
 */
static enum cmd_result
sasl_mech_step(struct session *s, char *data)
{
	char out[MAX_REPLY - 4];
	const char *why, *user;
	enum sasl_result res;
	enum cmd_result r;

	if (s->sasl_final)
		return sasl_finish(s, data);
	if (s->sasl == NULL && !sasl_begin(s))
		return CMD_DONE;
	res = sasl_step(s->sasl, data, out, sizeof(out), &why);
	/* spec 9: the name an exchange gave, for an aborted login's line. */
	if ((res == SASL_CONTINUE || res == SASL_FAIL) &&
	    (user = sasl_user(s->sasl)) != NULL)
		session_note_attempt(s, user, strlen(user));
	switch (res) {
	case SASL_CONTINUE:
		s->auth_pending = s->auth_mech;
		session_reply(s, "+ %s", out);
		return CMD_DONE;
	case SASL_OK:
		/* spec 4.2: a refused network counts as a failure here too. */
		session_penalty_done(s, !session_net_allowed(sasl_entry(s->sasl),
		    s->peer));
		if (out[0] == '\0')
			return sasl_finish(s, "");
		s->sasl_final = true;
		s->auth_pending = s->auth_mech;
		session_reply(s, "+ %s", out);
		return CMD_DONE;
	case SASL_FAIL:
		session_penalty_done(s, true);
		sasl_reset(s);
		r = session_auth_failed(s, why);
		log_set_user(NULL);
		return r;
	case SASL_MALFORMED:
		sasl_reset(s);
		log_set_user(NULL);
		return session_bad(s, "-ERR Malformed authentication data");
	case SASL_TEMPFAIL:
	default:
		sasl_reset(s);
		log_event(EVENT_ERROR, "%s: %s", s->auth_mech->name, why);
		log_set_user(NULL);
		session_reply(s, "-ERR [SYS/TEMP] Authentication is "
		    "unavailable");
		return CMD_DONE;
	}
}

/* The entry's NT hash, or NULL: no ntlm= item, or a locked account. */
static const unsigned char *
ntlm_key(const struct passwd_entry *e)
{
	if (!e->has_ntlm || (auth_hash_locked(e->hash) && e->pw_scram < 0))
		return NULL;
	return e->ntlm;
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
		return session_bad(s, "-ERR Malformed authentication data");
	}
	valid = ntlm_utf16_to_utf8(a.user, a.user_len, name, sizeof(name),
	    &name_len) == 0 && auth_valid_username(name, name_len);
	if (!valid)
		(void)strlcpy_(name, "(invalid)", sizeof(name));
	/* As session_try_login(): penalty, lookup, check, penalty, outcome. */
	log_set_user(name);
	session_note_attempt(s, name, strlen(name));
	session_penalty_wait(s);
	if (valid) {
		if (auth_lookup(s->cfg->passwd_file, name, &e) == 0)
			found = true;
		else if (errno != ENOENT)
			return session_auth_fault(s);	/* spec 9 */
	}
	key = found && ntlm_key(&e) != NULL;
	ok = ntlm_verify(s->ntlm->crypto, key ? ntlm_key(&e) : NULL, &a,
	    s->ntlm->challenge, &s->ntlm->t);
	/* spec 4.2: a refused network counts as a failure here too. */
	session_penalty_done(s, !ok || !session_net_allowed(found ? &e : NULL,
	    s->peer));
	if (!ok) {
		if (!found)
			why = "unknown user";
		else if (!key)
			why = e.has_ntlm ? "account locked" : "no ntlm= key";
		else if (a.nt_len < NTLM_V2_MIN)
			why = "not an NTLMv2 response";
		else
			why = "bad password";
		r = session_auth_failed(s, why);
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
		session_reply(s, "-ERR [SYS/TEMP] NTLM is not available now");
		return CMD_DONE;
	}
	if (ntlm_exchange_negotiate(s->ntlm, msg, n, s->cfg->hostname,
	    time(NULL), &errstr) == -1) {
		log_debug("NTLM: %s", errstr);
		ntlm_end(s);
		return session_bad(s, "-ERR Malformed authentication data");
	}
	/* C0001: the builder keeps the CHALLENGE within one reply line. */
	if (b64_encode(s->ntlm->t.challenge, s->ntlm->t.challenge_len, b64,
	    sizeof(b64)) == 0) {
		ntlm_end(s);
		session_reply(s, "-ERR [SYS/PERM] Internal error");
		return CMD_DONE;
	}
	s->auth_pending = &mechs[MECH_NTLM];
	session_reply(s, "+ %s", b64);
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
		r = session_bad(s, "-ERR Malformed authentication data");
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
 * RFC 5034: AUTH alone lists the usable mechanisms; AUTH mech [initial]
 * starts one.  An initial response is the first step's data ("=": empty).
 */
enum cmd_result
cmd_auth(struct session *s, char *args)
{
	const struct mech *mech;
	char *argv[2];
	int argc, m;

	argc = session_split_args(args, argv, 2);
	if (argc == 0) {
		session_reply(s, "+OK Supported mechanisms follow");
		for (m = 0; m < MECH_COUNT; m++)
			if (mech_usable(s, (enum auth_mech)m))
				session_reply(s, "%s", mechs[m].name);
		session_reply(s, ".");
		return CMD_DONE;
	}
	if (argc > 2)
		return session_bad(s, "-ERR Too many arguments");
	mech = mech_find(argv[0]);
	if (mech != NULL && mech->plaintext && !session_plaintext_allowed(s) &&
	    (s->cfg->auth_mechs & MECH_BIT(mech->id)) != 0)
		return session_refuse_plaintext(s);
	if (mech == NULL || !mech_usable(s, mech->id))
		return session_bad(s, "-ERR Unsupported authentication "
		    "mechanism");
	s->auth_step = 0;
	s->auth_pending = NULL;
	s->auth_mech = mech;
	sasl_reset(s);
	log_set_mech(config_mech_name(mech->id));
	if (argc == 2) {
		if (!strcmp(argv[1], "*"))
			return session_bad(s, "-ERR Authentication cancelled");
		if (!strcmp(argv[1], "="))
			argv[1][0] = '\0';
		return mech->step(s, argv[1]);
	}
	if (mech->start != NULL)
		return mech->start(s);
	/* An empty challenge, the data on the next line. */
	s->auth_pending = mech;
	session_reply(s, "+ ");
	return CMD_DONE;
}

enum cmd_result
session_auth_continue(struct session *s, char *line)
{
	const struct mech *mech = s->auth_pending;

	s->auth_pending = NULL;
	if (!strcmp(line, "*")) {
		sasl_reset(s);
		log_set_user(NULL);	/* no user: nothing was verified */
		return session_bad(s, "-ERR Authentication cancelled");
	}
	return mech->step(s, line);
}

void
session_capa_sasl(struct session *s)
{
	char line[MAX_REPLY - 2];
	size_t n;
	int m;

	n = (size_t)snprintf(line, sizeof(line), "SASL");
	for (m = 0; m < MECH_COUNT; m++)
		if (mech_usable(s, (enum auth_mech)m) &&
		    n + strlen(mechs[m].name) + 1 < sizeof(line))
			n += (size_t)snprintf(line + n, sizeof(line) - n,
			    " %s", mechs[m].name);
	if (n > 4)
		session_reply(s, "%s", line);
}

void
session_auth_end(struct session *s)
{
	sasl_reset(s);
	ntlm_end(s);
}
