/*
 * maildir.h: the snapshot of a user's Maildir (spec 5, 6).  The RFC 1939
 * transform and RETR/TOP streaming are in maildir-crlf.h, UPDATE in maildir-update.h.
 * Nothing here writes protocol replies.
 */
#ifndef MAILDIR_H
#define MAILDIR_H

#include <sys/stat.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pop3.h"

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
 * spec 4.3 LOGIN-DELAY for maildir_open(): delay and now are inputs;
 * too_soon and last (the previous login, 0: unknown) are set by it.
 */
struct maildir_login {
	uint32_t	 delay;		/* seconds; 0: not enforced */
	bool		 expire;	/* EXPIRE on: keep "@retr" times */
	uint64_t	 now;		/* Unix seconds */
	bool		 too_soon;	/* refused: nothing was changed */
	uint64_t	 last;
};

/*
 * Opens (creating when absent: new, cur, tmp, 0700) the Maildir at path,
 * first finishes the UPDATE of any session that died with an intent list
 * (maildir-update.h: removes the listed base names found in cur/ or new/, only
 * those, then the list; logged), moves new/ to cur/, assigns UIDs and
 * sizes, and returns the snapshot ordered by UID.  Returns 0 and *out, or
 * -1 with a reason for the log in *errstr_out and errno set (the session
 * then answers [SYS/TEMP]).  With login (may be NULL) and a delay, the LOGIN-DELAY
 * gate (policy.h) runs first, before any of that: a login too soon
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

#endif
