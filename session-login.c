/*
 * session-login.c: what every credential exchange ends in (spec 4, 4.2,
 * 4.3, 9): the penalty wait and its record, the check of a name and
 * password, the failure delay and count, the policy gate, and the login
 * itself: privilege drop, Maildir snapshot, sandbox, TRANSACTION.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "auth.h"
#include "config.h"
#include "io.h"
#include "log.h"
#include "maildir.h"
#include "penalty.h"
#include "policy.h"
#include "sandbox.h"
#include "session-int.h"
#include "util.h"

static enum cmd_result	auth_failed_text(struct session *, const char *,
			    const char *);

/* spec 9: one credential check, for the event=aborted line. */
void
session_count_attempt(struct session *s)
{
	if (s->auth_attempts < UINT32_MAX)
		s->auth_attempts++;
}

/*
 * spec 9: the name (len octets, hostile) an attempt gave, kept escaped in
 * s->tried unless it is there already or does not fit (then tried_more).
 */
void
session_note_attempt(struct session *s, const char *name, size_t len)
{
	char one[MAX_USERNAME * 4 + 1];
	const char *p;
	size_t o = 0, i, n;

	for (i = 0; i < len && i < 64; i++)
		if (!session_escape_put(one, sizeof(one), &o,
		    (unsigned char)name[i]))
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
		*res = session_auth_failed(s, "not allowed");
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
	session_reply(s, "-ERR [LOGIN-DELAY] Too soon after the last login; "
	    "wait %llu seconds", (unsigned long long)wait);
	return session_close(s, EXIT_ERROR);
}

/*
 * Enters TRANSACTION for a verified user: privilege drop, then the
 * Maildir snapshot (spec 4), after the policy of spec 4.2 (policy_check())
 * and with the LOGIN-DELAY gate of 4.3 (maildir_open()).  The only
 * AUTHORIZATION -> TRANSACTION path: every mechanism's success ends here.
 */
enum cmd_result
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
		session_reply(s, "-ERR [SYS/PERM] Unable to switch to the "
		    "user");
		session_set_end(s, "server-error");
		return session_close(s, EXIT_ERROR);
	}
	if (maildir_expand_path(s->cfg->maildir, e->name, e->home, path,
	    sizeof(path)) == -1) {
		log_event(EVENT_ERROR, "maildir template gives no usable path");
		session_reply(s, "-ERR [SYS/TEMP] Unable to open maildrop");
		session_set_end(s, "server-error");
		return session_close(s, EXIT_ERROR);
	}
	if (maildir_open(path, s->cfg->uidl, &ml, &s->snap, &errstr) == -1) {
		if (ml.too_soon)
			return login_too_soon(s, &ml);
		/* spec 9: the file and the system error. */
		log_event(EVENT_ERROR, "cannot open maildrop %s: %s: %s", path,
		    errstr, strerror(errno));
		session_reply(s, "-ERR [SYS/TEMP] Unable to open maildrop");
		session_set_end(s, "server-error");
		return session_close(s, EXIT_ERROR);
	}
	if (s->cfg->log_retrievals && (s->retrieved = calloc(
	    s->snap->count + 1, 1)) == NULL)
		log_warnx("log-retrievals: out of memory, UIDLs not logged");
	/* style 3.8: from here on only the Maildir is reachable. */
	(void)sandbox_maildir(s->snap->dirfd, path);
	s->state = STATE_TRANSACTION;
	io_set_timeout(s->io, s->cfg->timeout_auth);
	session_reply(s, "+OK Logged in, %zu messages (%llu octets)",
	    s->snap->count, (unsigned long long)s->snap->total);
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
	session_reply(s, "-ERR [AUTH] %s", text);
	if (++s->auth_failures >= s->cfg->max_auth_failures) {
		session_set_end(s, "too-many-failures");
		return session_close(s, EXIT_ERROR);
	}
	return CMD_DONE;
}

enum cmd_result
session_auth_failed(struct session *s, const char *why)
{
	return auth_failed_text(s, why, "Authentication failed");
}

/*
 * spec 4: the peer's recent failures in the penalty file delay a
 * credential check; session_penalty_done() writes the outcome back.  A penalty
 * file that cannot be used is reported once per connection.
 */
void
session_penalty_wait(struct session *s)
{
	unsigned int wait;

	session_count_attempt(s);
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
void
session_penalty_done(struct session *s, bool failed)
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
bool
session_net_allowed(const struct passwd_entry *e, const char *peer)
{
	return e == NULL || auth_net_allowed(e, peer);
}

/*
 * spec 9: the passwd file could not be read (auth_lookup() logged the
 * event=error entry with the file and the system error).  Never reported
 * as a wrong password, never counted as a failure, nothing to the
 * penalty file.
 */
enum cmd_result
session_auth_fault(struct session *s)
{
	log_set_user(NULL);
	session_reply(s, "-ERR [SYS/TEMP] Authentication is temporarily "
	    "unavailable; try again later");
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
enum cmd_result
session_try_login(struct session *s, const char *name, size_t name_len,
    bool valid, const char *pw, size_t pw_len)
{
	struct passwd_entry e = { .pw_scram = -1 };
	const char *cred;
	bool found = false, ok;
	enum cmd_result r;

	log_set_user(name);
	session_note_attempt(s, name, name_len);
	session_penalty_wait(s);
	if (valid) {
		if (auth_lookup(s->cfg->passwd_file, name, &e) == 0)
			found = true;
		else if (errno != ENOENT)
			return session_auth_fault(s);
	}
	ok = auth_verify(found ? &e : NULL, pw, pw_len, &cred);
	/* spec 4.2: a refused network counts as a failure here too. */
	session_penalty_done(s, !ok || !session_net_allowed(found ? &e : NULL,
	    s->peer));
	if (!ok) {
		r = session_auth_failed(s, !found ? "unknown user" :
		    entry_locked(&e) ? "locked" : "bad password");
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
