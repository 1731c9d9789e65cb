/*
 * maildir.h: the snapshot of a user's Maildir, message streaming with the
 * RFC 1939 transform, and UPDATE (SPEC 5, 6).  Nothing here writes
 * protocol replies; streaming goes through an emit callback.
 */
#ifndef MAILDIR_H
#define MAILDIR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pop3.h"

#define MAX_UIDL	70	/* RFC 1939: 1..70 octets of 0x21-0x7e */

struct msg {
	char		*name;		/* unique base name (before ':') */
	char		*file;		/* file name in cur/ at snapshot time */
	uint64_t	 size;		/* exact CRLF size (SPEC 6) */
	uint64_t	 uid;		/* counter UID (uidl = counter) */
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
 * UPDATE's intent list (SPEC 5): <Maildir>/pop3-handler-update.<host>.<pid>,
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
#define MAILDIR_UPDATE_LIST	"pop3-handler-update"

/*
 * Opens (creating when absent: new, cur, tmp, 0700) the Maildir at path,
 * first finishes the UPDATE of any session that died with an intent list
 * (removes the listed base names found in cur/ or new/, only those, then
 * the list; logged), moves new/ to cur/, assigns UIDs and sizes, and
 * returns the snapshot ordered by UID.  Returns 0 and *out, or -1 with a
 * reason for the log in *errstr_out (the session then answers [SYS/TEMP]).
 */
int	maildir_open(const char *path, enum uidl_mode mode,
	    struct snapshot **out, const char **errstr_out);

/*
 * Opens message i (0-based) for reading, found by its unique base name if
 * it was renamed meanwhile.  Returns an fd of a regular file opened with
 * O_NOFOLLOW, or -1: errno ENOENT when the message was removed (C0004),
 * another errno for other failures.
 */
int	maildir_msg_open(struct snapshot *s, size_t i);

/* Emits len bytes to the client; returns 0 or -1 to abort. */
typedef int (*emit_fn)(void *arg, const char *buf, size_t len);

/* State of the RFC 1939 transform: LF -> CRLF, dot-stuffing, TOP. */
struct crlf_state {
	bool		 bol;		/* at the start of a line */
	bool		 in_body;	/* past the blank line */
	bool		 limited;	/* TOP: count body lines */
	bool		 done;		/* TOP limit reached: drop the rest */
	bool		 pending_cr;	/* a CR was seen, LF may follow */
	bool		 dot_stuff;
	uint64_t	 body_lines_left;
	/* further fields private to maildir.c may follow */
};

/*
 * Starts a transform; top_lines < 0 means the whole message.  dot_stuff
 * false gives the size a client holds after un-stuffing (SPEC 3, 6):
 * STAT/LIST sizes come from the same code as RETR, so they cannot differ.
 * Line ends: LF and CRLF both become CRLF; a bare CR passes as a byte,
 * except a CR that ends the file, which ends the last line.
 */
void	crlf_init(struct crlf_state *, int64_t top_lines, bool dot_stuff);
/*
 * Feeds len bytes; emit may be NULL to only count.  Returns the octets
 * produced, or -1 when emit failed.
 */
int64_t	crlf_feed(struct crlf_state *, const char *buf, size_t len,
	    emit_fn emit, void *arg);
/* Ends the message: adds CRLF after a last line without one. */
int64_t	crlf_finish(struct crlf_state *, emit_fn emit, void *arg);

struct io;

/*
 * Streams the open message fd through the transform (dot-stuffed) in
 * fixed-size chunks straight into io's output buffer, behind what is
 * already queued there (the +OK line); top_lines < 0 means the whole
 * message.  Writes out only when the buffer is full, so a short answer
 * leaves in one write with the reply after it.  Does not send the
 * terminating ".\r\n".  Closes fd.  Returns 0, or -1 (read error, or a
 * write failed: io_timed_out() tells whether by the idle limit).
 */
int	maildir_stream(int fd, int64_t top_lines, struct io *io);

/*
 * UPDATE: writes the intent list (above), unlinks every message marked
 * deleted (a file already gone counts as removed), fsyncs cur/, removes
 * the list; never touches an unmarked one.  When the list cannot be
 * written (a full disk) the messages are removed all the same, without
 * crash safety, and that is logged.  Stores the number marked and the
 * number that could not be removed.  Returns 0 when all went (and the
 * removals are on disk), -1 otherwise.
 */
int	maildir_update(struct snapshot *s, unsigned int *marked_out,
	    unsigned int *failed_out);

/* Frees the snapshot and closes its descriptors. */
void	maildir_close(struct snapshot *s);

#endif
