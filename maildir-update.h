/*
 * maildir-update.h: private to storage (maildir.c, maildir-update.c): the
 * UPDATE intent list's name and the recovery of an UPDATE that a dead
 * session left unfinished.  update_apply() itself, which session.c calls,
 * is declared in maildir.h.
 */
#ifndef MAILDIR_UPDATE_H
#define MAILDIR_UPDATE_H

struct snap_priv;

/*
 * UPDATE's intent list (spec 5): <Maildir>/pop3-handler-update.<host>.<pid>,
 * one per process (there is no maildrop lock, 2.1.3).  Text:
 *
 *	pop3-handler-update 1 <count>
 *	<unique base name>
 *	...
 *
 * It is written to tmp/, fsynced, renamed into the Maildir and the Maildir
 * fsynced before the first unlink, so it is complete or absent; it is
 * removed once every marked message is gone.
 */
#define UPDATE_LIST	"pop3-handler-update"

/*
 * For maildir_open() only, before the listing: finishes the UPDATE of
 * every session that died with an intent list in the Maildir (removes
 * the listed base names found in cur/ or new/, only those, then the
 * list).  Logs what it does; a list it cannot finish is kept.
 */
void	update_recover(struct snap_priv *sp);

#endif
