/*
 * io.c: buffered line input and coalesced output over fd 0/1 or a
 * transport, with poll()-based idle limits (spec 2, 7).
 *
 * Trusts nothing it reads: a line is bounded by max_line, a longer one is
 * discarded to its LF and reported once.  Memory is fixed at creation.
 * Does not parse commands and does not know about TLS.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "io.h"
#include "log.h"
#include "pop3.h"

#define IO_OUTBUF	(256 * 1024)	/* RETR streams in writes this large */
#define IO_LINGER_MS	250		/* io_finish(): drain at most this */
#define IO_LINGER_MAX	(256 * 1024)
#define IO_INBUF	(MAX_AUTH_LINE * 2)

struct io {
	int			 in_fd;
	int			 out_fd;
	size_t			 max_line;
	unsigned int		 timeout;	/* seconds */
	bool			 discarding;	/* inside an over-long line */
	bool			 timed_out;
	bool			 got_octet;	/* first_octet is set */
	unsigned char		 first_octet;	/* of the plaintext input */
	const struct io_transport *tr;
	size_t			 in_start;	/* first unread byte */
	size_t			 in_end;	/* end of valid bytes */
	size_t			 out_len;
	void			(*idle_fn)(void *);
	void			*idle_arg;
	char			 in[IO_INBUF];
	char			 out[IO_OUTBUF];
};

static int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits for events on fd until deadline; 0 when ready, -1 on timeout. */
static int
wait_fd(struct io *io, int fd, short events, int64_t deadline)
{
	struct pollfd pfd;
	int64_t left;
	int n;

	for (;;) {
		left = deadline - now_ms();
		if (left <= 0) {
			io->timed_out = true;
			errno = ETIMEDOUT;
			return -1;
		}
		pfd.fd = fd;
		pfd.events = events;
		pfd.revents = 0;
		n = poll(&pfd, 1, left > INT32_MAX ? INT32_MAX : (int)left);
		if (n > 0)
			return 0;
		if (n < 0 && errno != EINTR)
			return -1;
	}
}

static ssize_t
raw_read(struct io *io, void *buf, size_t len, short *ev)
{
	if (io->tr != NULL)
		return io->tr->read(io->tr->ctx, buf, len, ev);
	*ev = POLLIN;
	return read(io->in_fd, buf, len);
}

static ssize_t
raw_write(struct io *io, const void *buf, size_t len, short *ev)
{
	if (io->tr != NULL)
		return io->tr->write(io->tr->ctx, buf, len, ev);
	*ev = POLLOUT;
	return write(io->out_fd, buf, len);
}

/* The fd a transport's wish for events refers to. */
static int
event_fd(const struct io *io, short ev)
{
	return (ev & POLLOUT) ? io->out_fd : io->in_fd;
}

void
io_set_max_line(struct io *io, size_t max_line)
{
	io->max_line = max_line > MAX_AUTH_LINE ? MAX_AUTH_LINE : max_line;
}

struct io *
io_new(int in_fd, int out_fd, size_t max_line)
{
	struct io *io;
	int fl;

	if ((io = calloc(1, sizeof(*io))) == NULL)
		return NULL;
	io->in_fd = in_fd;
	io->out_fd = out_fd;
	io->max_line = max_line > MAX_AUTH_LINE ? MAX_AUTH_LINE : max_line;
	io->timeout = 60;
	if ((fl = fcntl(in_fd, F_GETFL)) != -1)
		(void)fcntl(in_fd, F_SETFL, fl | O_NONBLOCK);
	if ((fl = fcntl(out_fd, F_GETFL)) != -1)
		(void)fcntl(out_fd, F_SETFL, fl | O_NONBLOCK);
	/*
	 * Replies are already gathered into one write each; Nagle would only
	 * hold the last segment of an answer back until the client's delayed
	 * ACK.  Pipes and files refuse the option, which is fine.
	 */
	fl = 1;
	(void)setsockopt(out_fd, IPPROTO_TCP, TCP_NODELAY, &fl, sizeof(fl));
	return io;
}

void
io_free(struct io *io)
{
	free(io);
}

void
io_set_timeout(struct io *io, unsigned int seconds)
{
	io->timeout = seconds;
}

void
io_set_transport(struct io *io, const struct io_transport *t)
{
	io->tr = t;
}

int
io_in_fd(const struct io *io)
{
	return io->in_fd;
}

int
io_out_fd(const struct io *io)
{
	return io->out_fd;
}

bool
io_timed_out(const struct io *io)
{
	return io->timed_out;
}

/* Writes buf fully; each stall may last up to the idle limit. */
static int
write_all(struct io *io, const char *buf, size_t len)
{
	int64_t deadline = now_ms() + (int64_t)io->timeout * 1000;
	ssize_t n;
	short ev;

	while (len > 0) {
		n = raw_write(io, buf, len, &ev);
		if (n > 0) {
			buf += n;
			len -= (size_t)n;
			deadline = now_ms() + (int64_t)io->timeout * 1000;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			/* After a timeout only one last try is made. */
			if (io->timed_out)
				return -1;
			if (wait_fd(io, event_fd(io, ev), ev, deadline) == -1)
				return -1;
			continue;
		}
		if (n == 0)
			errno = EPIPE;
		return -1;
	}
	return 0;
}

int
io_flush(struct io *io)
{
	size_t len = io->out_len;

	if (len == 0)
		return 0;
	io->out_len = 0;
	return write_all(io, io->out, len);
}

void
io_finish(struct io *io)
{
	char buf[4096];
	int64_t deadline;
	size_t total = 0;
	ssize_t n;

	if (io_flush(io) == -1 || io->tr != NULL ||
	    shutdown(io->out_fd, SHUT_WR) == -1)
		return;
	/*
	 * Closing a socket with unread input makes the kernel send a reset,
	 * which can destroy the last reply before the client reads it.  So
	 * read what the client still sends, for a short, bounded while.
	 */
	deadline = now_ms() + IO_LINGER_MS;
	while (total < IO_LINGER_MAX) {
		n = read(io->in_fd, buf, sizeof(buf));
		if (n > 0) {
			total += (size_t)n;
			continue;
		}
		if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK &&
		    errno != EINTR))
			break;
		if (wait_fd(io, io->in_fd, POLLIN, deadline) == -1)
			break;
	}
}

int
io_write(struct io *io, const void *buf, size_t len)
{
	if (len <= IO_OUTBUF - io->out_len) {
		memcpy(io->out + io->out_len, buf, len);
		io->out_len += len;
		return 0;
	}
	if (io_flush(io) == -1)
		return -1;
	if (len < IO_OUTBUF / 2) {
		memcpy(io->out, buf, len);
		io->out_len = len;
		return 0;
	}
	return write_all(io, buf, len);
}

char *
io_reserve(struct io *io, size_t min, size_t *room_out)
{
	if (min > IO_RESERVE_MAX) {
		errno = EINVAL;
		return NULL;
	}
	if (IO_OUTBUF - io->out_len < min && io_flush(io) == -1)
		return NULL;
	*room_out = IO_OUTBUF - io->out_len;
	return io->out + io->out_len;
}

void
io_commit(struct io *io, size_t len)
{
	if (len > IO_OUTBUF - io->out_len)
		fatalx("io_commit: %zu octets over the room", len);
	io->out_len += len;
}

int
io_first_octet(const struct io *io)
{
	return io->got_octet ? io->first_octet : -1;
}

void
io_discard_input(struct io *io)
{
	io->in_start = io->in_end = 0;
	io->discarding = false;
}

void
io_on_idle(struct io *io, void (*fn)(void *), void *arg)
{
	io->idle_fn = fn;
	io->idle_arg = arg;
}

bool
io_line_ready(const struct io *io)
{
	return memchr(io->in + io->in_start, '\n',
	    io->in_end - io->in_start) != NULL;
}

/* Reads more input; the deadline covers the whole wait for one line. */
static enum io_status
fill(struct io *io, int64_t deadline)
{
	void (*fn)(void *);
	ssize_t n;
	short ev;

	if (io->in_start > 0) {
		memmove(io->in, io->in + io->in_start,
		    io->in_end - io->in_start);
		io->in_end -= io->in_start;
		io->in_start = 0;
	}
	for (;;) {
		if (io->tr == NULL || !io->tr->pending(io->tr->ctx)) {
			if (io_flush(io) == -1)
				return io->timed_out ? IO_TIMEOUT : IO_ERROR;
		}
		n = raw_read(io, io->in + io->in_end,
		    sizeof(io->in) - io->in_end, &ev);
		if (n > 0) {
			if (!io->got_octet && io->tr == NULL) {
				io->got_octet = true;
				io->first_octet =
				    (unsigned char)io->in[io->in_end];
			}
			io->in_end += (size_t)n;
			return IO_OK;
		}
		if (n == 0)
			return IO_EOF;
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			return IO_ERROR;
		if ((fn = io->idle_fn) != NULL) {
			/* Nothing to read yet: the idle work, then look again. */
			io->idle_fn = NULL;
			fn(io->idle_arg);
			continue;
		}
		if (wait_fd(io, event_fd(io, ev), ev, deadline) == -1)
			return io->timed_out ? IO_TIMEOUT : IO_ERROR;
	}
}

enum io_status
io_getline(struct io *io, char **line_out, size_t *len_out)
{
	int64_t deadline = now_ms() + (int64_t)io->timeout * 1000;
	enum io_status st;
	char *p, *start;
	size_t avail, len;

	for (;;) {
		start = io->in + io->in_start;
		avail = io->in_end - io->in_start;
		p = memchr(start, '\n', avail);
		if (io->discarding) {
			/* E0006: drop the rest of an over-long line. */
			if (p == NULL) {
				io->in_start = io->in_end = 0;
			} else {
				io->in_start += (size_t)(p - start) + 1;
				io->discarding = false;
				return IO_TOO_LONG;
			}
		} else if (p != NULL) {
			len = (size_t)(p - start) + 1;
			io->in_start += len;
			if (len > io->max_line)
				return IO_TOO_LONG;
			len--;
			if (len > 0 && start[len - 1] == '\r')
				len--;
			start[len] = '\0';
			*line_out = start;
			*len_out = len;
			return IO_OK;
		} else if (avail >= io->max_line) {
			io->discarding = true;
			io->in_start = io->in_end = 0;
		}
		if ((st = fill(io, deadline)) != IO_OK)
			return st;
	}
}
