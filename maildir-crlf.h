/*
 * maildir-crlf.h: the RFC 1939 transform (spec 3, 6): LF -> CRLF, dot-stuffing,
 * TOP; counting the octets it gives (sizes) or emitting them, and RETR/TOP
 * streaming of an open message into an output sink.
 */
#ifndef MAILDIR_CRLF_H
#define MAILDIR_CRLF_H

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

/*
 * Where RETR/TOP text goes: room at the end of the caller's output
 * buffer, so the transform formats in place, without a copy, and never
 * learns what is behind it (the session backs it with io.c's buffer).
 * reserve() returns room of *room_out >= min octets (min at most
 * CRLF_STREAM_ROOM), writing out what is queued first when less is
 * free; NULL when that failed.  commit() queues the first len octets of
 * that room (len <= *room_out).  write() queues len octets already
 * transformed (the readahead's); 0 or -1 as reserve() fails.
 */
struct out_sink {
	void	*ctx;
	char	*(*reserve)(void *ctx, size_t min, size_t *room_out);
	void	 (*commit)(void *ctx, size_t len);
	int	 (*write)(void *ctx, const void *buf, size_t len);
};

#define CRLF_CHUNK		(64 * 1024)	/* spec 5: fixed read size */
#define CRLF_STREAM_ROOM	256	/* least room worth a transform */

/*
 * Streams the open message fd through the transform (dot-stuffed) in
 * CRLF_CHUNK reads straight into the sink's room, behind what is already
 * queued there (the +OK line); top_lines < 0 means the whole message.
 * Asks for room only when the buffer is full, so a short answer leaves
 * in one write with the reply after it.  Does not send the terminating
 * ".\r\n".  Closes fd.  Returns 0, or -1 (read error, or the sink
 * failed: the session knows whether by the idle limit).
 */
int	crlf_stream(int fd, int64_t top_lines, const struct out_sink *);

/*
 * crlf_stream() for TOP, which also tells in *whole_out whether the
 * whole message went out (spec 4.3: TOP of the whole body is a
 * retrieval for EXPIRE).
 */
int	crlf_stream_top(int fd, int64_t top_lines, const struct out_sink *,
	    bool *whole_out);

/*
 * The pieces the readahead (readahead.c) is built from.  crlf_xform()
 * transforms in[0..len) into out (NULL: count only) while the output
 * fits in room octets; it stores the input octets consumed in *used_out
 * and returns the octets produced.  It stops before the end of the input
 * only at the TOP limit or when the next piece does not fit; given room
 * >= 2 it always consumes or produces something.  crlf_stream_rest()
 * goes on streaming fd from its current offset through st into the
 * sink, with in a CRLF_CHUNK-sized buffer of the caller's, and ends the
 * last line; it does not close fd.
 */
size_t	crlf_xform(struct crlf_state *, const char *in, size_t len, char *out,
	    size_t room, size_t *used_out);
int	crlf_stream_rest(int fd, struct crlf_state *, char *in,
	    const struct out_sink *);

#endif
