/*
 * io.h: the line reader and the output buffer on fd 0/1 (spec 2, 7).
 *
 * Input is one fixed buffer; output is one fixed buffer flushed when full
 * or before the reader blocks, so answers to pipelined commands leave in
 * as few writes as possible.  Every wait goes through poll() with the
 * current idle limit.  A transport (TLS) may be slotted in underneath
 * with io_set_transport() without the callers noticing.
 */
#ifndef IO_H
#define IO_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

enum io_status {
	IO_OK,		/* a line is ready */
	IO_TOO_LONG,	/* a line over the limit was read and dropped */
	IO_EOF,		/* the peer closed */
	IO_TIMEOUT,	/* idle limit reached */
	IO_ERROR,	/* read or write failed */
};

/*
 * A transport under the buffers.  read and write behave like the system
 * calls on a non-blocking fd: -1 with errno EAGAIN means "poll for
 * *events_out and retry"; read returning 0 means EOF.  pending tells
 * whether the transport holds decoded input that poll() cannot see.
 */
struct io_transport {
	ssize_t	(*read)(void *ctx, void *buf, size_t len, short *events_out);
	ssize_t	(*write)(void *ctx, const void *buf, size_t len,
		    short *events_out);
	bool	(*pending)(void *ctx);
	void	*ctx;
};

struct io;

/*
 * Makes the reader/writer on in_fd and out_fd (set non-blocking) with a
 * line limit of max_line octets including the line end.  Returns NULL
 * when out of memory.
 */
struct io	*io_new(int in_fd, int out_fd, size_t max_line);
void		 io_free(struct io *);

/*
 * Changes the line limit for the lines read from now on (at most
 * MAX_AUTH_LINE): RFC 5034 lets an AUTH continuation line be longer
 * than a command (a Kerberos ticket is), so session.c raises it while an
 * exchange waits for the client and puts it back after.
 */
void		 io_set_max_line(struct io *, size_t max_line);

/* Idle limit in seconds for every later wait (V0002). */
void		 io_set_timeout(struct io *, unsigned int seconds);

/* Puts t under the buffers; NULL goes back to the plain fds. */
void		 io_set_transport(struct io *, const struct io_transport *t);
int		 io_in_fd(const struct io *);
int		 io_out_fd(const struct io *);

/*
 * Returns the next line without its CR LF, NUL-terminated, in *line_out
 * and its length (which may be larger than strlen() when the line holds
 * a NUL) in *len_out.  The line stays valid until the next call.  Flushes
 * the output before it blocks.  A line over the limit is read to its LF,
 * dropped, and reported once as IO_TOO_LONG (E0006).
 */
enum io_status	 io_getline(struct io *, char **line_out, size_t *len_out);

/* Drops every byte already read but not yet returned (STLS). */
void		 io_discard_input(struct io *);
/*
 * The first octet the client sent before any transport (TLS) was set, or
 * -1 when none came: 0x16 is a TLS handshake on the plaintext port.
 */
int		 io_first_octet(const struct io *);

/*
 * Registers work for the next time the reader would wait for input: once
 * the output is written out and a read finds nothing, fn(arg) runs once
 * before the wait (then the reader looks again).  A later call replaces an
 * earlier one; fn NULL cancels.  The work counts against the idle limit,
 * so it must be short (readahead.c reads the next message ahead).
 */
void		 io_on_idle(struct io *, void (*fn)(void *), void *arg);

/* True when a complete line is already buffered. */
bool		 io_line_ready(const struct io *);

/*
 * Queues len bytes, writing out when the buffer fills.  Returns 0, or -1
 * when the peer is gone or did not read within the idle limit
 * (io_timed_out() then tells which).
 */
int		 io_write(struct io *, const void *buf, size_t len);
int		 io_flush(struct io *);

/*
 * Ends the session's output: flushes, and on a plain socket shuts the
 * write side and drains what the client still sends for at most 250 ms,
 * so the last reply is not lost to a connection reset.
 */
void		 io_finish(struct io *);
bool		 io_timed_out(const struct io *);

/*
 * In-place output for a producer that formats straight into the output
 * buffer (RETR/TOP streaming), saving a copy.  io_reserve() returns free
 * room of *room_out >= min octets at the end of what is queued, writing
 * the queue out first when less is free; min is at most IO_RESERVE_MAX.
 * It returns NULL when that write failed, as io_write() fails.  The room
 * stays valid until the next call on io; io_commit() then queues its
 * first len octets (len <= *room_out).
 */
#define IO_RESERVE_MAX	4096
char		*io_reserve(struct io *, size_t min, size_t *room_out);
void		 io_commit(struct io *, size_t len);

#endif
