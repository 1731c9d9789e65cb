/*
 * maildir-crlf.c: the RFC 1939 transform (spec 3, 6): LF and CRLF to CRLF,
 * dot-stuffing and the TOP limit, counting only (the sizes maildir.c
 * computes) or emitting, and RETR/TOP streaming of an open message into
 * the output sink it is given (crlf_stream()).
 *
 * The message bytes are hostile: every output is bounded by the room it
 * is given, and state carried between chunks is a few flags.  It opens no
 * file, knows no Maildir and no socket, and writes no protocol replies
 * beyond the message text it formats into the sink's room; the
 * terminating ".\r\n" is the session's.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "maildir-crlf.h"
#include "util.h"

#define CHUNK		CRLF_CHUNK
#define STREAM_ROOM	CRLF_STREAM_ROOM

/*
 * The RFC 1939 transform (spec 3, style 3.4).  Lines end at LF; a CR just
 * before the LF belongs to the line end, so LF and CRLF both become CRLF,
 * and any other CR is an ordinary byte.  A CR that ends a chunk waits in
 * pending_cr for the next one; a CR that ends the file ends its line.
 *
 * crlf_xform() is the one implementation: it writes straight into a
 * caller's buffer (for RETR/TOP the room of the output sink, for the
 * readahead its own buffer), or only counts.  Each
 * line costs one memchr() and one memcpy(); the CR or dot it adds is
 * stored in place.  The size a login counts for every message it reads
 * (no dot-stuffing, no TOP) has its own loop, count_plain(), that counts
 * the LFs without a CR 16 octets a step instead of line by line; the
 * fuzz harness holds it to the same model.  The output is bounded by the room given, so a long
 * line may be cut, but only inside its text, never between its CR and LF.
 */
void
crlf_init(struct crlf_state *st, int64_t top_lines, bool dot_stuff)
{
	memset(st, 0, sizeof(*st));
	st->bol = true;
	st->dot_stuff = dot_stuff;
	st->limited = top_lines >= 0;
	st->body_lines_left = top_lines >= 0 ? (uint64_t)top_lines : 0;
}

/* A line ended; bol still set means it was empty (the header's end). */
static void
line_done(struct crlf_state *st)
{
	if (!st->in_body) {
		if (st->bol) {
			st->in_body = true;
			if (st->limited && st->body_lines_left == 0)
				st->done = true;
		}
	} else if (st->limited && --st->body_lines_left == 0)
		st->done = true;
	st->bol = true;
}

/*
 * crlf_xform()'s common case, whole lines of the body without a TOP limit,
 * from a line start: nothing changes but the position.  Stops before a
 * line that has no LF or does not fit in out[o..room).  Returns the input
 * octets consumed and stores the new output offset in *o_out.
 */
static size_t
xform_lines(bool dot_stuff, const char *in, const char *end, char *out,
    size_t o, size_t room, size_t *o_out)
{
	const char	*p = in, *lf;
	size_t		 n, dot;

	while ((lf = memchr(p, '\n', (size_t)(end - p))) != NULL) {
		n = (size_t)(lf - p);
		if (n > 0 && lf[-1] == '\r')
			n--;
		dot = dot_stuff && *p == '.';
		if (dot + n + 2 > room - o)
			break;
		if (out != NULL) {
			out[o] = '.';	/* overwritten unless dot */
			memcpy(out + o + dot, p, n);
			memcpy(out + o + dot + n, "\r\n", 2);
		}
		o += dot + n + 2;
		p = lf + 1;
	}
	*o_out = o;
	return (size_t)(p - in);
}

/*
 * The CR that ended the previous chunk, now that the next octet c is
 * known: the line end when c is LF (1 input octet consumed), else an
 * ordinary byte (none).  Writes 2 or 1 octets to out (NULL: count
 * only), which has room for 2, and stores how many in *o_out.
 */
static size_t
xform_pending_cr(struct crlf_state *st, char c, char *out, size_t *o_out)
{
	st->pending_cr = false;
	if (c == '\n') {
		if (out != NULL)
			memcpy(out, "\r\n", 2);
		*o_out = 2;
		line_done(st);
		return 1;
	}
	if (out != NULL)
		out[0] = '\r';
	*o_out = 1;
	st->bol = false;
	return 0;
}

size_t
crlf_xform(struct crlf_state *st, const char *in, size_t len, char *out,
    size_t room, size_t *used_out)
{
	const char	*p = in, *end = in + len, *lf;
	size_t		 o = 0, n, eol;

	if (st->pending_cr && len > 0 && !st->done && room >= 2)
		p += xform_pending_cr(st, *p, out, &o);
	while (p < end && !st->done && !st->pending_cr) {
		if (st->bol && st->in_body && !st->limited) {
			p += xform_lines(st->dot_stuff, p, end, out, o, room,
			    &o);
			if (p == end)
				break;
		}
		if (st->bol && st->dot_stuff && *p == '.') {
			if (room - o < 2)	/* the dot and one octet */
				break;
			if (out != NULL)
				out[o] = '.';
			o++;
			st->bol = false;
		}
		if ((lf = memchr(p, '\n', (size_t)(end - p))) != NULL) {
			n = (size_t)(lf - p);
			if (n > 0 && lf[-1] == '\r')
				n--;
			eol = 2;
		} else {
			n = (size_t)(end - p);
			eol = 0;
		}
		if (n + eol > room - o) {
			/* Part of the text only; the rest comes next call. */
			if (n > room - o)
				n = room - o;
			eol = 0;
			lf = NULL;
		} else if (lf == NULL && end[-1] == '\r') {
			/* It may end the line: wait for the next byte. */
			n--;
			st->pending_cr = true;
		}
		if (n + eol == 0) {
			if (st->pending_cr)
				p = end;	/* just the pending CR */
			break;
		}
		if (out != NULL) {
			memcpy(out + o, p, n);
			if (eol)
				memcpy(out + o + n, "\r\n", 2);
		}
		o += n + eol;
		if (n > 0)
			st->bol = false;
		if (lf != NULL) {
			p = lf + 1;
			line_done(st);
		} else
			p += n + st->pending_cr;
	}
	*used_out = (size_t)(p - in);
	return o;
}

/* 16 octets as one value (GCC and clang vector extension). */
typedef unsigned char	 octets16 __attribute__((vector_size(16)));

/*
 * The LFs of p[1..len) with no CR just before them, 16 octets a step: a
 * step compares p[i..i+16) with LF and p[i-1..i+15) with CR, and each
 * lane of acc counts its hits (at most 255 steps before they are added
 * up).  p[0] is the caller's.
 */
static size_t
bare_lfs(const char *p, size_t len)
{
	octets16	 cur, prev, acc;
	unsigned char	 lanes[sizeof(acc)];
	size_t		 n = 0, i = 1, k, j;

	while (len - i >= sizeof(cur)) {
		acc = (octets16){ 0 };
		for (k = 0; k < 255 && len - i >= sizeof(cur);
		    k++, i += sizeof(cur)) {
			memcpy(&cur, p + i, sizeof(cur));
			memcpy(&prev, p + i - 1, sizeof(prev));
			acc -= (octets16)((cur == '\n') & (prev != '\r'));
		}
		memcpy(lanes, &acc, sizeof(lanes));
		for (j = 0; j < sizeof(lanes); j++)
			n += lanes[j];
	}
	for (; i < len; i++)
		n += p[i] == '\n' && p[i - 1] != '\r';
	return n;
}

/*
 * crlf_feed()'s count for a whole message without dot-stuffing (the
 * sizes of spec 5, 6), equal to crlf_xform()'s without its per-line
 * steps: every octet counts once, and an LF without a CR before it one
 * more (it becomes CRLF; CRLF stays).  A CR that ends the chunk waits in
 * pending_cr as there; bol is kept for crlf_finish(), in_body (which only
 * TOP reads) is not.
 */
static size_t
count_plain(struct crlf_state *st, const char *in, size_t len)
{
	size_t	 n = 0, i = 0;

	if (len == 0)
		return 0;
	if (st->pending_cr) {
		st->pending_cr = false;
		if (in[0] == '\n') {
			n = 2;		/* the CR's line end */
			i = 1;
			st->bol = true;
			if (len == 1)
				return n;
		} else {
			n = 1;		/* an ordinary CR */
			st->bol = false;
		}
	}
	n += len - i + (in[i] == '\n') + bare_lfs(in + i, len - i);
	if (in[len - 1] == '\r') {
		n--;			/* counted when the next octet comes */
		st->pending_cr = true;
		if (len - i >= 2)
			st->bol = in[len - 2] == '\n';
	} else
		st->bol = in[len - 1] == '\n';
	return n;
}

int64_t
crlf_feed(struct crlf_state *st, const char *buf, size_t len, emit_fn emit,
    void *arg)
{
	char		 out[4096];
	size_t		 n, used;
	int64_t		 total = 0;

	if (emit == NULL && !st->limited && !st->dot_stuff)
		return (int64_t)count_plain(st, buf, len);
	if (emit == NULL)
		return (int64_t)crlf_xform(st, buf, len, NULL, SIZE_MAX, &used);
	while (len > 0 && !st->done) {
		n = crlf_xform(st, buf, len, out, sizeof(out), &used);
		if (n > 0 && emit(arg, out, n) == -1)
			return -1;
		total += (int64_t)n;
		buf += used;
		len -= used;
	}
	return total;
}

/* The CRLF after a last line without one: 0 or 2 octets into out. */
static size_t
xform_finish(struct crlf_state *st, char *out)
{
	if (st->done || (!st->pending_cr && st->bol))
		return 0;
	st->pending_cr = false;
	memcpy(out, "\r\n", 2);
	line_done(st);
	return 2;
}

int64_t
crlf_finish(struct crlf_state *st, emit_fn emit, void *arg)
{
	char	 out[2];
	size_t	 n;

	if ((n = xform_finish(st, out)) > 0 && emit != NULL &&
	    emit(arg, out, n) == -1)
		return -1;
	return (int64_t)n;
}

/*
 * Feeds one chunk into the output buffer.  STREAM_ROOM is the least room
 * worth a transform call; with less, the buffer is written out first, so
 * every write but the last of an answer is a full buffer.
 */
static int
stream_chunk(struct crlf_state *st, const char *in, size_t len,
    const struct out_sink *out_sink)
{
	char	*out;
	size_t	 room, used;

	while (len > 0 && !st->done) {
		if ((out = out_sink->reserve(out_sink->ctx, STREAM_ROOM,
		    &room)) == NULL)
			return -1;
		out_sink->commit(out_sink->ctx, crlf_xform(st, in, len, out,
		    room, &used));
		in += used;
		len -= used;
	}
	if (len > 0)
		st->cut = true;		/* TOP: input left unsent */
	return 0;
}

int
crlf_stream_rest(int fd, struct crlf_state *st, char *in,
    const struct out_sink *out_sink)
{
	char	*out;
	size_t	 room;
	ssize_t	 r;

	while (!st->done) {
		/* O_NONBLOCK (maildir-dir.c): read_retry() minds it. */
		r = read_retry(fd, in, CHUNK);
		if (r == -1)
			return -1;
		if (r == 0)
			break;
		if (stream_chunk(st, in, (size_t)r, out_sink) == -1)
			return -1;
	}
	if ((out = out_sink->reserve(out_sink->ctx, 2, &room)) == NULL)
		return -1;
	out_sink->commit(out_sink->ctx, xform_finish(st, out));
	return 0;
}

int
crlf_stream(int fd, int64_t top_lines, const struct out_sink *out_sink)
{
	struct crlf_state	 st;
	char			*in;
	int			 rv;

	if ((in = malloc(CHUNK)) == NULL)
		return close_keep_errno(fd, -1);
	crlf_init(&st, top_lines, true);
	rv = crlf_stream_rest(fd, &st, in, out_sink);
	free(in);
	return close_keep_errno(fd, rv);
}

int
crlf_stream_top(int fd, int64_t top_lines, const struct out_sink *out_sink,
    bool *whole_out)
{
	struct crlf_state	 st;
	char			*in;
	ssize_t			 r;
	int			 rv;

	*whole_out = false;
	if ((in = malloc(CHUNK)) == NULL)
		return close_keep_errno(fd, -1);
	crlf_init(&st, top_lines, true);
	rv = crlf_stream_rest(fd, &st, in, out_sink);
	/* The limit fell at the end of a read: is there more? */
	if (rv == 0 && st.done && !st.cut) {
		r = read_retry(fd, in, 1);
		st.cut = r != 0;
	}
	*whole_out = rv == 0 && !st.cut;
	free(in);
	return close_keep_errno(fd, rv);
}
