/*
 * maildir-crlf.h: the RFC 1939 transform (spec 3, 6): LF -> CRLF, dot-stuffing,
 * TOP; counting the octets it gives (sizes) or emitting them, and RETR/TOP
 * streaming of an open message into the io output buffer.
 */
#ifndef MAILDIR_CRLF_H
#define MAILDIR_CRLF_H

#include <sys/stat.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

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
	bool		 cut;		/* streaming: input left unsent */
	/* further fields private to maildir-crlf.c may follow */
};

/*
 * Starts a transform; top_lines < 0 means the whole message.  dot_stuff
 * false gives the size a client holds after un-stuffing (spec 3, 6):
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
int	crlf_stream(int fd, int64_t top_lines, struct io *io);

/*
 * crlf_stream() for TOP, which also tells in *whole_out whether the
 * whole message went out (spec 4.3: TOP of the whole body is a
 * retrieval for EXPIRE).
 */
int	crlf_stream_top(int fd, int64_t top_lines, struct io *io,
	    bool *whole_out);

/*
 * Readahead for clients that fetch in order (see maildir-crlf.c): one message's
 * start, read and transformed while the session waits for the command
 * that will ask for it.  About 320 KiB, allocated by readahead_new().
 */
struct readahead;

struct readahead *readahead_new(void);
void	readahead_free(struct readahead *);
/*
 * Reads and transforms (RETR, dot-stuffed) the start of the message with
 * snapshot index idx, open as fd with fstat() st, dropping what ra held.
 * Closes fd.  Returns 0, or -1 with ra empty.
 */
int	readahead_fill(struct readahead *, size_t idx, int fd,
	    const struct stat *st);
/*
 * crlf_stream(fd, -1, io) for message idx, taking the bytes ra read ahead
 * when they come from the same file, unchanged (inode, size and mtime; st
 * is fd's fstat()).  ra may
 * be NULL; what it held is dropped either way.  Closes fd.
 */
int	readahead_stream(struct readahead *, size_t idx, int fd,
	    const struct stat *st, struct io *io);

#endif
