/*
 * readahead.c: the session's readahead, which reads and transforms the
 * start of the message a client fetching in order will ask for next,
 * while the session would otherwise wait (doc/design.md 6).
 *
 * The message bytes are hostile as in maildir-crlf.c, whose transform it
 * runs into its own fixed buffer; it writes no protocol replies.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <unistd.h>

#include "io.h"
#include "maildir.h"
#include "maildir-crlf.h"
#include "readahead.h"
#include "session-int.h"
#include "util.h"

/*
 * Clients fetch in order: RETR 1, RETR 2, ...,
 * waiting for each answer before the next command.  While the client
 * reads message n, the server would sit idle; instead it reads and
 * transforms the start of message n+1 into ra->out, so that when RETR
 * n+1 comes the answer leaves at once.  Only the bytes are taken ahead:
 * RETR still opens the message by name (so a message removed meanwhile
 * gets its -ERR as before, C0004), and the bytes are used only when that
 * file is the very inode that was read ahead, unchanged since (size and
 * mtime: a file rewritten in place is read again).  The rest of a message
 * longer than the buffer is streamed from where the readahead stopped.
 */
#define AHEAD_MAX	(256 * 1024)

struct readahead {
	bool			 valid;
	size_t			 idx;		/* snapshot index */
	struct stat		 sb;		/* of the file read ahead */
	off_t			 off;		/* input octets consumed */
	size_t			 len;		/* output octets in out */
	struct crlf_state	 st;		/* the transform after them */
	char			 in[CRLF_CHUNK];
	char			 out[AHEAD_MAX];
};

/* The same inode, not written to since (Maildir files never are). */
static bool
same_file(const struct stat *a, const struct stat *b)
{
	return a->st_dev == b->st_dev && a->st_ino == b->st_ino &&
	    a->st_size == b->st_size &&
	    a->st_mtim.tv_sec == b->st_mtim.tv_sec &&
	    a->st_mtim.tv_nsec == b->st_mtim.tv_nsec;
}

static struct readahead *
readahead_new(void)
{
	struct readahead *ra;

	/* malloc, not calloc: untouched pages cost no memory. */
	if ((ra = malloc(sizeof(*ra))) != NULL)
		ra->valid = false;
	return ra;
}

void
readahead_free(struct readahead *ra)
{
	free(ra);
}

/*
 * Reads and transforms (RETR, dot-stuffed) the start of the message with
 * snapshot index idx, open as fd with fstat() st, dropping what ra held.
 * Closes fd.  Returns 0, or -1 with ra empty.
 */
static int
readahead_fill(struct readahead *ra, size_t idx, int fd, const struct stat *st)
{
	size_t		 n, used;
	ssize_t		 r;

	ra->valid = false;
	crlf_init(&ra->st, -1, true);
	ra->off = 0;
	ra->len = 0;
	while (ra->len <= AHEAD_MAX - CRLF_STREAM_ROOM) {
		/* One read at a time: pread, so no O_NONBLOCK dance. */
		r = pread(fd, ra->in, CRLF_CHUNK, ra->off);
		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1)
			return close_keep_errno(fd, -1);
		if (r == 0)
			break;
		n = crlf_xform(&ra->st, ra->in, (size_t)r, ra->out + ra->len,
		    AHEAD_MAX - ra->len, &used);
		ra->len += n;
		ra->off += (off_t)used;
		if (used < (size_t)r)
			break;		/* out is full */
	}
	ra->idx = idx;
	ra->sb = *st;
	ra->valid = true;
	return close_keep_errno(fd, 0);
}

int
readahead_stream(struct readahead *ra, size_t idx, int fd,
    const struct stat *st, const struct out_sink *out_sink)
{
	int		 rv;

	if (ra == NULL || !ra->valid || ra->idx != idx)
		return crlf_stream(fd, -1, out_sink);
	ra->valid = false;
	/* Not the file read ahead: the whole message from the start. */
	if (!same_file(st, &ra->sb) || lseek(fd, ra->off, SEEK_SET) != ra->off)
		return crlf_stream(fd, -1, out_sink);
	if (out_sink->write(out_sink->ctx, ra->out, ra->len) == -1)
		return close_keep_errno(fd, -1);
	rv = crlf_stream_rest(fd, &ra->st, ra->in, out_sink);
	return close_keep_errno(fd, rv);
}

/*
 * The idle work: once the answer is out and no command is waiting, read
 * the message s->ra_next ahead.
 */
static void
read_ahead(void *arg)
{
	struct session *s = arg;
	struct stat sb;
	int fd;

	if (s->ra == NULL && (s->ra = readahead_new()) == NULL)
		return;
	if ((fd = maildir_msg_open(s->snap, s->ra_next, &sb)) != -1)
		(void)readahead_fill(s->ra, s->ra_next, fd, &sb);
}

void
readahead_schedule(struct session *s, size_t i)
{
	while (i < s->snap->count && s->snap->msgs[i].deleted)
		i++;
	if (i < s->snap->count) {
		s->ra_next = i;
		io_on_idle(s->io, read_ahead, s);
	}
}
