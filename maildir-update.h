/*
 * maildir-update.h: UPDATE (spec 5) with a crash-safe intent list, and the
 * recovery of an UPDATE that a dead session left unfinished.
 */
#ifndef MAILDIR_UPDATE_H
#define MAILDIR_UPDATE_H

struct snapshot;
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
 * UPDATE: writes the intent list (above), unlinks every message marked
 * deleted (a file already gone counts as removed), fsyncs cur/, removes
 * the list; never touches an unmarked one.  When the list cannot be
 * written (a full disk) the messages are removed all the same, without
 * crash safety, and that is logged.  Stores the number marked and the
 * number that could not be removed.  Returns 0 when all went (and the
 * removals are on disk), -1 otherwise.
 */
int	update_apply(struct snapshot *s, unsigned int *marked_out,
	    unsigned int *failed_out);

/*
 * For maildir_open() only, before the listing: finishes the UPDATE of
 * every session that died with an intent list in the Maildir (removes
 * the listed base names found in cur/ or new/, only those, then the
 * list).  Logs what it does; a list it cannot finish is kept.
 */
void	update_recover(struct snap_priv *sp);

#ifdef POP3_FAULT_INJECTION
/*
 * Test builds only (make build/fault/pop3-handler): POP3_FAULT=<point>
 * kills the process at that point, as a crash or kill -9 would.
 */
void	fault_point(const char *point);
#else
#define fault_point(p)	do { } while (0)
#endif

#endif
