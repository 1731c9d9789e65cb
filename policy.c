/*
 * policy.c: LOGIN-DELAY and EXPIRE enforced (spec 4.3) through the UID
 * state file (uidmap.h, version 3 "@login" and "@retr" lines): the
 * user's values (the gate on them is uidmap_login_gate(), which
 * maildir_open() runs before it changes anything), the retrievals of a
 * session, and the marking of expired messages that QUIT runs before
 * UPDATE, so they go in the same crash-safe intent list as the DELE'd
 * ones (doc/design.md 4).  It sees storage through maildir.h only.
 *
 * Shared storage: the state file is read and written only under its
 * NFS-safe lock (uidmap_lock()), after re-reading it, so two sessions of
 * one user on two hosts see each other's login and retrievals.  The state
 * file is the user's and hostile: it goes through uidmap_parse() only,
 * and a time in it can refuse a login for at most the delay (a time in
 * the future counts only up to that) and expire only messages it names.
 * It runs as the user and writes no protocol replies.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "log.h"
#include "maildir.h"
#include "passwd.h"
#include "policy.h"

void
policy_init(struct policy *p, const struct config *cfg,
    const struct passwd_entry *e)
{
	memset(p, 0, sizeof(*p));
	p->login_delay = e->has_login_delay ? e->login_delay :
	    cfg->login_delay;
	p->expire_days = e->has_expire ? e->expire_days : cfg->expire_days;
	p->user_delay = p->login_delay != cfg->login_delay;
	p->user_expire = p->expire_days != cfg->expire_days;
}

void
policy_free(struct policy *p)
{
	free(p->retr);
	p->retr = NULL;
	p->nretr = 0;
}

void
policy_note_retr(struct policy *p, size_t count, size_t i, uint64_t now)
{
	if (p->expire_days == EXPIRE_NEVER || i >= count)
		return;
	if (p->retr == NULL) {
		if ((p->retr = calloc(count, sizeof(*p->retr))) == NULL) {
			log_warn("EXPIRE: retrievals not kept");
			return;
		}
		p->nretr = count;
	}
	if (p->retr[i] == 0)
		p->retr[i] = now;
}

bool
policy_expired(uint64_t retr, uint32_t days, uint64_t now)
{
	if (retr == 0 || days == EXPIRE_NEVER)
		return false;
	if (days == 0)
		return true;
	return now > retr && now - retr > (uint64_t)days * POLICY_DAY;
}

/*
 * Stores this session's first retrievals in m's records (those without
 * one) and returns true when one changed.
 */
static bool
merge_retr(const struct policy *p, const struct snapshot *s,
    struct uidmap *m)
{
	const struct uidmap_entry	*r;
	size_t				 i;
	bool				 changed = false;

	for (i = 0; i < s->count && i < p->nretr && p->retr != NULL; i++) {
		if (p->retr[i] == 0 ||
		    (r = uidmap_find(m, s->msgs[i].name)) == NULL ||
		    r->retr != 0)
			continue;
		m->ents[r - m->ents].retr = p->retr[i];
		changed = true;
	}
	return changed;
}

void
policy_expire(struct policy *p, struct snapshot *s, uint64_t now,
    unsigned int *expired_out)
{
	const struct uidmap_entry	*r;
	struct uidmap			 m;
	const char			*err = "cannot read the state file";
	uint64_t			 first;
	size_t				 i;
	bool				 locked;

	*expired_out = 0;
	if (p->expire_days == EXPIRE_NEVER)
		return;
	locked = uidmap_lock(s->dirfd, UIDMAP_LOCK_WAIT, &err) == 0;
	if (uidmap_load(s->dirfd, UIDMAP_IMPORT_NONE, &m) == -1) {
		memset(&m, 0, sizeof(m));	/* this session's alone */
		m.status = UIDMAP_MISSING;
		err = "cannot read the state file";
		if (locked)
			uidmap_unlock(s->dirfd);
		locked = false;
	}
	if (!locked)
		log_warnx("EXPIRE: retrievals not stored (%s)", err);
	else if (m.status == UIDMAP_OK && merge_retr(p, s, &m) &&
	    uidmap_save(s->dirfd, m.ents, m.count, m.next, m.cur_mtime,
	    m.last_login, &err) == -1)
		log_warn("EXPIRE: retrievals not stored (%s)", err);
	if (locked)
		uidmap_unlock(s->dirfd);
	fault_point("expire-after-state");
	for (i = 0; i < s->count; i++) {
		r = m.status == UIDMAP_OK ? uidmap_find(&m, s->msgs[i].name) :
		    NULL;
		first = r != NULL ? r->retr : 0;
		if (first == 0 && p->retr != NULL && i < p->nretr)
			first = p->retr[i];
		if (!s->msgs[i].deleted &&
		    policy_expired(first, p->expire_days, now)) {
			s->msgs[i].deleted = true;
			(*expired_out)++;
		}
	}
	uidmap_free(&m);
}
