/*
 * session-mail.c: the TRANSACTION commands (spec 3, 5, 6): STAT, LIST,
 * RETR, TOP, DELE, NOOP, RSET, UIDL and QUIT with its UPDATE, and the
 * log entries with the UIDLs retrieved and removed (spec 9).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "io.h"
#include "log.h"
#include "maildir.h"
#include "policy.h"
#include "readahead.h"
#include "session-int.h"
#include "util.h"

/* spec 2: message numbers are 1..count, decimal, no sign. */
static bool
get_msg(struct session *s, const char *arg, size_t *idx_out,
    enum cmd_result *res)
{
	enum parse_num r;
	uint32_t n;

	if ((r = parse_u32(arg, &n)) != NUM_OK) {
		*res = session_bad(s, "-ERR Invalid message number: %s",
		    parse_num_str(r));
		return false;
	}
	if (n == 0 || n > s->snap->count) {
		*res = session_bad(s, "-ERR No such message");
		return false;
	}
	if (s->snap->msgs[n - 1].deleted) {
		*res = session_bad(s, "-ERR Message %u is deleted", n);
		return false;
	}
	*idx_out = n - 1;
	return true;
}

/* Parses exactly one message-number argument. */
static bool
one_msg_arg(struct session *s, char *args, size_t *idx_out,
    enum cmd_result *res)
{
	char *argv[1];
	int argc = session_split_args(args, argv, 1);

	if (argc == 0) {
		*res = session_bad(s, "-ERR Missing message number");
		return false;
	}
	if (argc > 1) {
		*res = session_bad(s, "-ERR Too many arguments");
		return false;
	}
	return get_msg(s, argv[0], idx_out, res);
}

static void
live_totals(const struct session *s, size_t *count, uint64_t *octets)
{
	size_t i;

	*count = 0;
	*octets = 0;
	for (i = 0; i < s->snap->count; i++) {
		if (s->snap->msgs[i].deleted)
			continue;
		(*count)++;
		*octets += s->snap->msgs[i].size;
	}
}

enum cmd_result
cmd_stat(struct session *s, char *args)
{
	size_t count;
	uint64_t octets;

	if (*args != '\0')
		return session_bad(s, "-ERR Too many arguments");
	live_totals(s, &count, &octets);
	session_reply(s, "+OK %zu %llu", count, (unsigned long long)octets);
	return CMD_DONE;
}

enum cmd_result
cmd_list(struct session *s, char *args)
{
	enum cmd_result res;
	size_t i, count;
	uint64_t octets;

	if (*args != '\0') {
		if (!one_msg_arg(s, args, &i, &res))
			return res;
		session_reply(s, "+OK %zu %llu", i + 1,
		    (unsigned long long)s->snap->msgs[i].size);
		return CMD_DONE;
	}
	live_totals(s, &count, &octets);
	session_reply(s, "+OK %zu messages (%llu octets)", count,
	    (unsigned long long)octets);
	for (i = 0; i < s->snap->count && !s->closing; i++) {
		if (!s->snap->msgs[i].deleted)
			session_reply(s, "%zu %llu", i + 1,
			    (unsigned long long)s->snap->msgs[i].size);
	}
	session_reply(s, ".");
	return CMD_DONE;
}

/*
 * The message text's way out (maildir-crlf.h): io.c's output buffer, so
 * RETR and TOP format in place while storage never sees the socket.
 */
static char *
sink_reserve(void *io, size_t min, size_t *room_out)
{
	return io_reserve(io, min, room_out);
}

static void
sink_commit(void *io, size_t len)
{
	io_commit(io, len);
}

static int
sink_write(void *io, const void *buf, size_t len)
{
	return io_write(io, buf, len);
}

static void
out_sink_io(struct out_sink *out, struct io *io)
{
	out->ctx = io;
	out->reserve = sink_reserve;
	out->commit = sink_commit;
	out->write = sink_write;
}

/*
 * RETR and TOP: open first so a removed message gets a clean -ERR.
 * *whole_out: the whole message went out (RETR, or TOP of all of it).
 */
static enum cmd_result
send_message(struct session *s, size_t i, int64_t top_lines,
    bool *whole_out)
{
	struct out_sink out;
	struct stat sb;
	int fd;

	*whole_out = top_lines < 0;
	if ((fd = maildir_msg_open(s->snap, i, &sb)) == -1) {
		if (errno == ENOENT)
			return session_bad(s, "-ERR Message %zu was removed "
			    "from the maildrop", i + 1);	/* C0004 */
		log_warn("cannot open message %zu", i + 1);
		session_reply(s, "-ERR [SYS/TEMP] Unable to read message %zu",
		    i + 1);
		return CMD_DONE;
	}
	if (top_lines < 0)
		session_reply(s, "+OK %llu octets",
		    (unsigned long long)s->snap->msgs[i].size);
	else
		session_reply(s, "+OK Top of message follows");
	if (s->closing) {
		(void)close(fd);
		return CMD_CLOSE;
	}
	out_sink_io(&out, s->io);
	if ((top_lines < 0 ? readahead_stream(s->ra, i, fd, &sb, &out) :
	    crlf_stream_top(fd, top_lines, &out, whole_out)) == -1) {
		if (io_timed_out(s->io))
			return session_close(s, EXIT_AUTOLOGOUT);
		log_event(EVENT_ERROR, "streaming message %zu failed", i + 1);
		return session_close(s, EXIT_ERROR);
	}
	session_reply(s, ".");
	return CMD_DONE;
}

enum cmd_result
cmd_retr(struct session *s, char *args)
{
	enum cmd_result res;
	size_t i;
	bool whole;

	if (!one_msg_arg(s, args, &i, &res))
		return res;
	res = send_message(s, i, -1, &whole);
	if (res == CMD_DONE) {
		policy_note_retr(&s->pol, s->snap->count, i,
		    (uint64_t)time(NULL));
		if (s->retrieved != NULL)
			s->retrieved[i] = 1;
		s->stats.retr++;
		s->stats.retr_octets += s->snap->msgs[i].size;
		/* The first RETR, or one after the previous: read ahead. */
		if (s->last_retr == 0 || s->last_retr == i)
			readahead_schedule(s, i + 1);
		else
			io_on_idle(s->io, NULL, NULL);
		s->last_retr = i + 1;
	}
	return res;
}

enum cmd_result
cmd_top(struct session *s, char *args)
{
	char *argv[2];
	enum cmd_result res;
	enum parse_num r;
	uint32_t lines;
	size_t i;
	int argc;
	bool whole;

	argc = session_split_args(args, argv, 2);
	if (argc == 0)
		return session_bad(s, "-ERR Missing message number");
	if (argc == 1)
		return session_bad(s, "-ERR Missing line count");
	if (argc > 2)
		return session_bad(s, "-ERR Too many arguments");
	if (!get_msg(s, argv[0], &i, &res))
		return res;
	if ((r = parse_u32(argv[1], &lines)) != NUM_OK)
		return session_bad(s, "-ERR Invalid line count: %s",
		    parse_num_str(r));
	res = send_message(s, i, lines, &whole);
	if (res == CMD_DONE)
		s->stats.top++;
	/* spec 4.3: TOP of the whole body is a retrieval. */
	if (res == CMD_DONE && whole)
		policy_note_retr(&s->pol, s->snap->count, i,
		    (uint64_t)time(NULL));
	return res;
}

enum cmd_result
cmd_dele(struct session *s, char *args)
{
	enum cmd_result res;
	size_t i;

	if (!one_msg_arg(s, args, &i, &res))
		return res;
	s->snap->msgs[i].deleted = true;
	s->stats.dele++;
	session_reply(s, "+OK Message %zu deleted", i + 1);
	return CMD_DONE;
}

enum cmd_result
cmd_noop(struct session *s, char *args)
{
	if (*args != '\0')
		return session_bad(s, "-ERR Too many arguments");
	session_reply(s, "+OK");
	return CMD_DONE;
}

enum cmd_result
cmd_rset(struct session *s, char *args)
{
	size_t i, count;
	uint64_t octets;

	if (*args != '\0')
		return session_bad(s, "-ERR Too many arguments");
	for (i = 0; i < s->snap->count; i++)
		s->snap->msgs[i].deleted = false;
	s->stats.dele = 0;
	live_totals(s, &count, &octets);
	session_reply(s, "+OK %zu messages (%llu octets)", count,
	    (unsigned long long)octets);
	return CMD_DONE;
}

enum cmd_result
cmd_uidl(struct session *s, char *args)
{
	enum cmd_result res;
	size_t i;

	if (*args != '\0') {
		if (!one_msg_arg(s, args, &i, &res))
			return res;
		session_reply(s, "+OK %zu %s", i + 1, s->snap->msgs[i].uidl);
		return CMD_DONE;
	}
	session_reply(s, "+OK Unique-ID listing follows");
	for (i = 0; i < s->snap->count && !s->closing; i++) {
		if (!s->snap->msgs[i].deleted)
			session_reply(s, "%zu %s", i + 1,
			    s->snap->msgs[i].uidl);
	}
	session_reply(s, ".");
	return CMD_DONE;
}

/*
 * spec 9, log-retrievals = yes: the UIDLs retrieved and removed follow the
 * entry's counters as "retrieved-uidls=u1,u2 removed-uidls=u3" (',', '='
 * and '\\' in a UIDL written as \xNN).  A list longer than UIDL_LOG_MAX
 * octets goes on in further entries of the same event, "continued:
 * retrieved-uidls=...", so no line is cut and nothing is lost.
 */
#define UIDL_LOG_MAX	640

struct uidl_log {
	enum log_event	 ev;
	bool		 first_done;
	const char	*kind;		/* the list being written */
	size_t		 len;
	char		 head[MAX_REPLY];
	char		 buf[UIDL_LOG_MAX + 1];
};

static void __attribute__((format(printf, 3, 4)))
uidl_log_init(struct uidl_log *u, enum log_event ev, const char *fmt, ...)
{
	va_list ap;

	u->ev = ev;
	u->first_done = false;
	u->kind = NULL;
	u->len = 0;
	u->buf[0] = '\0';
	va_start(ap, fmt);
	(void)vsnprintf(u->head, sizeof(u->head), fmt, ap);
	va_end(ap);
}

static void
uidl_log_emit(struct uidl_log *u)
{
	if (!u->first_done)
		log_event(u->ev, "%s%s%s", u->head, u->len > 0 ? " " : "",
		    u->buf);
	else if (u->len > 0)
		log_event(u->ev, "continued: %s", u->buf);
	u->first_done = true;
	u->kind = NULL;
	u->len = 0;
	u->buf[0] = '\0';
}

static void
uidl_log_add(struct uidl_log *u, const char *kind, const char *uidl)
{
	char esc[MAX_UIDL * 4 + 1];
	size_t o = 0, need;

	for (; *uidl != '\0'; uidl++)
		if (!session_escape_put(esc, sizeof(esc), &o,
		    (unsigned char)*uidl))
			break;
	esc[o] = '\0';
	need = (u->kind == kind ? 1 : strlen(kind) + 2) + o;
	if (u->len > 0 && u->len + need > UIDL_LOG_MAX)
		uidl_log_emit(u);
	if (u->kind == kind)
		u->len += (size_t)snprintf(u->buf + u->len, sizeof(u->buf) -
		    u->len, ",%s", esc);
	else
		u->len += (size_t)snprintf(u->buf + u->len, sizeof(u->buf) -
		    u->len, "%s%s=%s", u->len > 0 ? " " : "", kind, esc);
	u->kind = kind;
}

/*
 * Logs u's entry with the lists log-retrievals asks for: the messages
 * RETR sent, then (removed not NULL) those marked deleted under that name.
 */
static void
uidl_log_all(const struct session *s, struct uidl_log *u,
    const char *removed)
{
	size_t i;

	if (s->retrieved != NULL) {
		for (i = 0; i < s->snap->count; i++)
			if (s->retrieved[i])
				uidl_log_add(u, "retrieved-uidls",
				    s->snap->msgs[i].uidl);
		for (i = 0; removed != NULL && i < s->snap->count; i++)
			if (s->snap->msgs[i].deleted)
				uidl_log_add(u, removed,
				    s->snap->msgs[i].uidl);
	}
	uidl_log_emit(u);
}

/* spec 5: UPDATE happens here and nowhere else. */
enum cmd_result
cmd_quit_trans(struct session *s, char *args)
{
	struct uidl_log ul;
	unsigned int marked, failed, expired;

	(void)args;
	/* spec 4.3: expired messages join the marked ones in one UPDATE. */
	policy_expire(&s->pol, s->snap, (uint64_t)time(NULL), &expired);
	if (expired > 0)
		log_info("EXPIRE %u: %u retrieved messages expired",
		    (unsigned int)s->pol.expire_days, expired);
	if (update_apply(s->snap, &marked, &failed) == -1) {
		log_event(EVENT_ERROR, "%u of %u messages could not be removed",
		    failed, marked);
		session_reply(s, "-ERR [SYS/TEMP] %u of %u messages could not "
		    "be removed", failed, marked);
	} else
		session_reply(s, "+OK Bye");
	uidl_log_init(&ul, EVENT_LOGOUT, "logout: retrieved=%u octets=%llu "
	    "top=%u deleted=%u removed=%u messages=%zu size=%llu",
	    s->stats.retr, (unsigned long long)s->stats.retr_octets,
	    s->stats.top, s->stats.dele, marked - failed, s->snap->count,
	    (unsigned long long)s->snap->total);
	uidl_log_all(s, &ul, failed == 0 ? "removed-uidls" : "marked-uidls");
	return session_close(s, EXIT_QUIT);
}

void
session_log_unfinished(const struct session *s)
{
	struct uidl_log ul;

	if (s->exit == EXIT_AUTOLOGOUT) {
		uidl_log_init(&ul, EVENT_AUTOLOGOUT, "autologout after idling: "
		    "retrieved=%u marked=%u, nothing removed", s->stats.retr,
		    s->stats.dele);
		uidl_log_all(s, &ul, NULL);
	} else if (s->exit == EXIT_ERROR) {
		uidl_log_init(&ul, EVENT_LOGOUT, "session ended without QUIT: "
		    "retrieved=%u marked=%u, nothing removed", s->stats.retr,
		    s->stats.dele);
		uidl_log_all(s, &ul, NULL);
	}
}
