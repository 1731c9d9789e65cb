/*
 * maildir.h: storage as the session (session.c), the policy (policy.c)
 * and --check-user see it, in one header: the snapshot of a user's
 * Maildir (spec 5, 6), the path from the maildir template, exact sizes,
 * UPDATE, and through the two headers it includes the RFC 1939
 * transform with RETR/TOP streaming (maildir-crlf.h) and the UID state
 * file (uidmap.h) that policy.c keeps its times in.  The other storage
 * headers (maildir-int.h, maildir-update.h, maildir-file.h,
 * uidmap-import.h) are private to storage.  Nothing here writes protocol
 * replies.
 */
#ifndef MAILDIR_H
#define MAILDIR_H

#include <sys/stat.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "maildir-crlf.h"
#include "pop3.h"
#include "uidmap.h"

#define MAX_UIDL	70	/* RFC 1939: 1..70 octets of 0x21-0x7e */

struct msg {
	char		*name;		/* unique base name (before ':') */
	char		*info;		/* the file name's rest after ':', or
					   NULL: cur/<name>[:<info>] */
	char		*file;		/* NULL, or the file name found after
					   a rename (maildir_msg_open()) */
	uint64_t	 size;		/* exact CRLF size (spec 6) */
	char		*uidl;		/* UIDL string sent to the client */
	bool		 deleted;	/* marked by DELE */
};

struct snapshot {
	int		 dirfd;		/* the Maildir */
	struct msg	*msgs;		/* 1..count are msgs[0..count-1] */
	size_t		 count;
	uint64_t	 total;		/* octets of all messages */
};

/*
 * The login's settings for maildir_open(): delay, expire, now and import
 * are inputs; too_soon and last (spec 4.3 LOGIN-DELAY: the previous
 * login, 0: unknown) are set by it.
 */
struct maildir_login {
	uint32_t	 delay;		/* seconds; 0: not enforced */
	bool		 expire;	/* EXPIRE on: keep "@retr" times */
	uint64_t	 now;		/* Unix seconds */
	bool		 too_soon;	/* refused: nothing was changed */
	uint64_t	 last;
	enum uidmap_import import;	/* uidl-import (spec 6, C0009) */
};

/*
 * Opens (creating when absent: new, cur, tmp, 0700) the Maildir at path,
 * first finishes the UPDATE of any session that died with an intent list
 * (maildir-update.h: removes the listed base names found in cur/ or new/, only
 * those, then the list; logged), moves new/ to cur/, assigns UIDs and
 * sizes, and returns the snapshot ordered by UID.  Returns 0 and *out, or
 * -1 with a reason for the log in *errstr_out and errno set (the session
 * then answers [SYS/TEMP]).  With login (may be NULL) and a delay, the LOGIN-DELAY
 * gate (uidmap_login_gate()) runs first, before any of that: a login too soon
 * returns -1 with login->too_soon set, having changed nothing in the
 * Maildir but the directories it created.  With login, a state file
 * that keeps times the user's policy no longer uses (no delay: "@login";
 * EXPIRE off: "@retr") is rewritten without them, so turning both off
 * gives back a version 1 or 2 file (uidmap.h).
 */
int	maildir_open(const char *path, enum uidl_mode mode,
	    struct maildir_login *login, struct snapshot **out,
	    const char **errstr_out);

/*
 * Opens message i (0-based) for reading, found by its unique base name if
 * it was renamed meanwhile, with its fstat() in *st_out.  Returns an fd
 * of a regular file opened with O_NOFOLLOW, or -1: errno ENOENT when the
 * message was removed (C0004), another errno for other failures.
 */
int	maildir_msg_open(struct snapshot *s, size_t i, struct stat *st_out);

/* Frees the snapshot and closes its descriptors. */
void	maildir_close(struct snapshot *s);

/*
 * maildir-update.c: UPDATE (spec 5, doc/design.md 4): writes the intent
 * list (maildir-update.h), unlinks every message marked
 * deleted (a file already gone counts as removed), fsyncs cur/, removes
 * the list; never touches an unmarked one.  When the list cannot be
 * written (a full disk) the messages are removed all the same, without
 * crash safety, and that is logged.  Stores the number marked and the
 * number that could not be removed.  Returns 0 when all went (and the
 * removals are on disk), -1 otherwise.
 */
int	update_apply(struct snapshot *s, unsigned int *marked_out,
	    unsigned int *failed_out);

#ifdef POP3_FAULT_INJECTION
/*
 * Test builds only (make build/fault/pop3-handler): POP3_FAULT=<point>
 * kills the process at that point, as a crash or kill -9 would.
 */
void	fault_point(const char *point);
#else
#define fault_point(p)	do { } while (0)
#endif

/*
 * Expands the maildir template (%u the user name, %h the home directory,
 * %% a '%') into out.  Nothing in user or home is interpreted.  Returns
 * 0, or -1 when the result does not fit, is empty, or needs an empty
 * user or home.
 */
int	maildir_expand_path(const char *tmpl, const char *user,
	    const char *home, char *out, size_t outsize);

/* Where maildir_msg_size() found a size. */
enum maildir_size_from {
	SIZE_FROM_NAME,		/* a ",W=" field of the file name */
	SIZE_FROM_STATE,	/* the state file's record (uidmap.h) */
	SIZE_FROM_READING,	/* the file, read once */
};

/*
 * spec 6: the exact CRLF size of message file `file` of directory dfd
 * (cur/ or new/) as a login finds it: from a ",W=" field of the name,
 * else from rec (its state-file record, or NULL) when the login would
 * trust it, else by reading the file once through the transform.  Reads
 * only.  Returns 0 with *size_out and *from_out, or -1 with errno (the
 * file cannot be read: a login leaves it out of the snapshot).
 */
int	maildir_msg_size(int dfd, const char *file,
	    const struct uidmap_entry *rec, uint64_t *size_out,
	    enum maildir_size_from *from_out);

#endif
