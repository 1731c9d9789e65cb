/*
 * mkmaildir.c: writes a seeded, reproducible Maildir for `make bench`.
 *
 * usage: mkmaildir DIR COUNT TOTAL-BYTES [SEED] [NEW-PERCENT]
 *
 * Message sizes follow a log-normal mix (sigma 1.2, the shape of real
 * mailboxes: many small notes, a tail of attachments), scaled so their
 * sum is about TOTAL-BYTES; COUNT 1 gives one message of exactly that
 * size.  Messages over 16 KB are multipart with a base64 attachment.
 * Line ends are LF.  About 3 % of the text lines start with '.' (some
 * are "." or ".." alone), 5 % of the messages lack a final newline, and
 * the newest NEW-PERCENT (default 30) of the messages sit in new/, the
 * rest in cur/ with ":2,S".  File names are Maildir unique names with
 * increasing delivery times; mtimes match them.  The same arguments
 * always give the same bytes.
 *
 * Prints "count= bytes= octets= new= nofinal= dotlines=": octets is the
 * sum of the CRLF sizes (LF becomes CRLF, a last line without newline
 * gets one) that STAT must report (spec 3, 6).
 */
#include <sys/stat.h>
#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAX_COUNT	4000000
#define MIN_SIZE	400
#define MAX_SIZE	(64ULL * 1024 * 1024)
#define BASE_TIME	1700000000ULL
#define OBUF		(1024 * 1024)

static uint64_t rng;

static uint64_t
next(void)
{
	uint64_t	 z = (rng += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static double
uniform(void)
{
	return ((double)(next() >> 11) + 0.5) / 9007199254740992.0;
}

static uint64_t
below(uint64_t n)
{
	return next() % n;
}

static double
gauss(void)
{
	return sqrt(-2 * log(uniform())) * cos(2 * M_PI * uniform());
}

/* Output of one message, with the counts that give its CRLF size. */
struct out {
	int		 fd;
	char		*buf;
	size_t		 len;
	uint64_t	 bytes;
	uint64_t	 lfs;
	uint64_t	 dots;
	char		 last;
};

static void
flush(struct out *o)
{
	size_t	 off = 0;
	ssize_t	 n;

	while (off < o->len) {
		n = write(o->fd, o->buf + off, o->len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			perror("mkmaildir: write");
			exit(1);
		}
		off += (size_t)n;
	}
	o->len = 0;
}

static void
put(struct out *o, const char *s, size_t len)
{
	size_t	 i;

	if (len == 0)
		return;
	if (len > OBUF - o->len)
		flush(o);
	memcpy(o->buf + o->len, s, len);
	o->len += len;
	o->bytes += len;
	for (i = 0; i < len; i++)
		if (s[i] == '\n')
			o->lfs++;
	o->last = s[len - 1];
}

static void
putf(struct out *o, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
putf(struct out *o, const char *fmt, ...)
{
	char	 line[1024];
	va_list	 ap;
	int	 n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n > 0)
		put(o, line, (size_t)n < sizeof(line) ? (size_t)n :
		    sizeof(line) - 1);
}

static const char *words[] = {
	"the", "of", "meeting", "report", "quarter", "invoice", "please",
	"review", "attached", "schedule", "server", "mail", "budget", "team",
	"update", "project", "deadline", "thanks", "regards", "draft",
	"a", "to", "and", "for", "on", "with", "this", "that", "we", "you",
	"will", "be", "next", "week", "call", "notes", "minutes", "agenda",
	"customer", "release", "version", "build", "test", "results", "plan",
	"ok", "yes", "no", "maybe", "tomorrow", "today", "Monday", "Friday",
	"office", "lunch", "travel", "hotel", "flight", "ticket", "contract",
	"signature", "approval", "question", "answer",
};
#define NWORDS	(sizeof(words) / sizeof(words[0]))

/* One text line of random words, LF included; some start with '.'. */
static void
text_line(struct out *o)
{
	char		 line[100];
	const char	*wd;
	size_t		 len = 0, want, wl;
	uint64_t	 r = below(1000);

	if (r < 10) {
		put(o, r < 5 ? ".\n" : "..\n", r < 5 ? 2 : 3);
		o->dots++;
		return;
	}
	if (r < 30) {
		line[len++] = '.';
		o->dots++;
	}
	if (below(12) == 0) {
		put(o, "\n", 1);	/* paragraph break */
		return;
	}
	want = 20 + (size_t)below(58);
	while (len < want) {
		wd = words[below(NWORDS)];
		wl = strlen(wd);
		if (len + wl + 1 > sizeof(line) - 2)
			break;
		if (len > 0 && line[len - 1] != '.')
			line[len++] = ' ';
		memcpy(line + len, wd, wl);
		len += wl;
	}
	line[len++] = '\n';
	put(o, line, len);
}

static void
base64_line(struct out *o)
{
	static const char b64[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	char		 line[77];
	uint64_t	 r = 0;
	int		 i, left = 0;

	for (i = 0; i < 76; i++) {
		if (left == 0) {
			r = next();
			left = 10;
		}
		line[i] = b64[r & 63];
		r >>= 6;
		left--;
	}
	line[76] = '\n';
	put(o, line, sizeof(line));
}

static void
date_str(uint64_t t, char *buf, size_t len)
{
	time_t		 tt = (time_t)t;
	struct tm	 tm;

	(void)gmtime_r(&tt, &tm);
	(void)strftime(buf, len, "%a, %d %b %Y %H:%M:%S +0000", &tm);
}

static void
message(struct out *o, uint64_t i, uint64_t t, uint64_t size, uint64_t seed,
    bool nofinal)
{
	char		 date[64];
	uint64_t	 k = below(500) + 1, text;
	bool		 multi = size > 16 * 1024;

	date_str(t, date, sizeof(date));
	putf(o, "Return-Path: <sender%" PRIu64 "@example.org>\n", k);
	putf(o, "Delivered-To: bench@example.net\n");
	putf(o, "Received: from mx%" PRIu64 ".example.org (mx%" PRIu64
	    ".example.org [192.0.2.%" PRIu64 "])\n\tby mail.example.net "
	    "(Postfix) with ESMTPS id %08" PRIX64 "\n\tfor "
	    "<bench@example.net>; %s\n", k % 7, k % 7, k % 250 + 1,
	    next() & 0xffffffffU, date);
	putf(o, "From: Sender %" PRIu64 " <sender%" PRIu64 "@example.org>\n",
	    k, k);
	putf(o, "To: Bench User <bench@example.net>\n");
	putf(o, "Subject: %s %s %s %" PRIu64 "\n", words[below(NWORDS)],
	    words[below(NWORDS)], words[below(NWORDS)], i + 1);
	putf(o, "Date: %s\n", date);
	putf(o, "Message-ID: <%" PRIu64 ".%" PRIu64 ".%" PRIu64
	    "@example.org>\n", t, i + 1, seed);
	putf(o, "MIME-Version: 1.0\n");
	if (!multi) {
		putf(o, "Content-Type: text/plain; charset=utf-8\n\n");
		while (o->bytes < size)
			text_line(o);
	} else {
		putf(o, "Content-Type: multipart/mixed; boundary=\"b%"
		    PRIu64 "\"\n\nThis is a multi-part message in MIME "
		    "format.\n\n--b%" PRIu64 "\nContent-Type: text/plain; "
		    "charset=utf-8\n\n", i + 1, i + 1);
		text = o->bytes + 1024 + below(6 * 1024);
		while (o->bytes < text)
			text_line(o);
		putf(o, "\n--b%" PRIu64 "\nContent-Type: application/"
		    "octet-stream; name=\"file%" PRIu64 ".bin\"\n"
		    "Content-Transfer-Encoding: base64\n\n", i + 1, i + 1);
		while (o->bytes + 80 < size)
			base64_line(o);
		putf(o, "\n--b%" PRIu64 "--\n", i + 1);
	}
	if (nofinal) {
		/* The last line loses its LF: the server must add CRLF. */
		if (o->last == '\n' && o->len > 0) {
			o->len--;
			o->bytes--;
			o->lfs--;
			o->last = o->len > 0 ? o->buf[o->len - 1] : 'x';
		}
		if (o->last == '\n' || o->bytes == 0)
			put(o, "-- end", 6);
	}
}

/* mkdir -p: creates every missing component of path. */
static void
mkdir_p(const char *path)
{
	char	 p[4200];
	size_t	 i;

	(void)snprintf(p, sizeof(p), "%s", path);
	for (i = 1; p[i] != '\0'; i++)
		if (p[i] == '/') {
			p[i] = '\0';
			(void)mkdir(p, 0755);
			p[i] = '/';
		}
	(void)mkdir(p, 0700);
}

int
main(int argc, char *argv[])
{
	struct out	 o;
	uint64_t	 count, total, seed = 1, newpct = 30, i, t, usec;
	uint64_t	 bytes = 0, octets = 0, nnew = 0, nofinal = 0, dots = 0;
	uint64_t	*sizes;
	double		 mean, mu, sigma = 1.2, sum = 0, scale;
	char		 path[4200];
	struct timespec	 ts[2];
	bool		 isnew, nf;
	int		 dfd, curfd, newfd;

	if (argc < 4 || argc > 6) {
		fprintf(stderr, "usage: mkmaildir DIR COUNT TOTAL-BYTES "
		    "[SEED] [NEW-PERCENT]\n");
		return 2;
	}
	count = strtoull(argv[2], NULL, 10);
	total = strtoull(argv[3], NULL, 10);
	if (argc > 4)
		seed = strtoull(argv[4], NULL, 10);
	if (argc > 5)
		newpct = strtoull(argv[5], NULL, 10);
	if (count == 0 || count > MAX_COUNT || total < count * MIN_SIZE ||
	    newpct > 100 || strlen(argv[1]) > 4000) {
		fprintf(stderr, "mkmaildir: bad arguments\n");
		return 2;
	}
	rng = seed * 0x2545f4914f6cdd1dULL + 1;
	if ((sizes = calloc(count, sizeof(*sizes))) == NULL ||
	    (o.buf = malloc(OBUF)) == NULL) {
		perror("mkmaildir");
		return 1;
	}
	mean = (double)total / (double)count;
	mu = log(mean) - sigma * sigma / 2;
	for (i = 0; i < count; i++) {
		sizes[i] = count == 1 ? total :
		    (uint64_t)exp(mu + sigma * gauss());
		if (sizes[i] > MAX_SIZE && count > 1)
			sizes[i] = MAX_SIZE;
		sum += (double)sizes[i];
	}
	scale = (double)total / sum;
	for (i = 0; i < count; i++) {
		sizes[i] = (uint64_t)((double)sizes[i] * scale);
		if (sizes[i] < MIN_SIZE)
			sizes[i] = MIN_SIZE;
	}
	mkdir_p(argv[1]);
	(void)snprintf(path, sizeof(path), "%s/cur", argv[1]);
	(void)mkdir(path, 0700);
	(void)snprintf(path, sizeof(path), "%s/new", argv[1]);
	(void)mkdir(path, 0700);
	(void)snprintf(path, sizeof(path), "%s/tmp", argv[1]);
	(void)mkdir(path, 0700);
	if ((dfd = open(argv[1], O_RDONLY | O_DIRECTORY)) == -1 ||
	    (curfd = openat(dfd, "cur", O_RDONLY | O_DIRECTORY)) == -1 ||
	    (newfd = openat(dfd, "new", O_RDONLY | O_DIRECTORY)) == -1) {
		perror("mkmaildir: open");
		return 1;
	}
	for (i = 0; i < count; i++) {
		t = BASE_TIME + i * 7 + below(7);
		usec = below(1000000);
		isnew = i >= count - (count * newpct + 50) / 100;
		nf = below(100) < 5;
		(void)snprintf(path, sizeof(path), "%" PRIu64 ".M%" PRIu64
		    "P4242Q%" PRIu64 ".benchhost%s", t, usec, i + 1,
		    isnew ? "" : ":2,S");
		o.fd = openat(isnew ? newfd : curfd, path,
		    O_WRONLY | O_CREAT | O_EXCL | O_TRUNC, 0600);
		if (o.fd == -1) {
			perror("mkmaildir: create");
			return 1;
		}
		o.len = 0;
		o.bytes = o.lfs = o.dots = 0;
		o.last = '\n';
		message(&o, i, t, sizes[i], seed, nf);
		flush(&o);
		ts[0].tv_sec = ts[1].tv_sec = (time_t)t;
		ts[0].tv_nsec = ts[1].tv_nsec = 0;
		if (futimens(o.fd, ts) == -1 || close(o.fd) == -1) {
			perror("mkmaildir: close");
			return 1;
		}
		bytes += o.bytes;
		octets += o.bytes + o.lfs + (o.last != '\n' ? 2 : 0);
		nnew += isnew;
		nofinal += o.last != '\n';
		dots += o.dots;
	}
	printf("count=%" PRIu64 " bytes=%" PRIu64 " octets=%" PRIu64
	    " new=%" PRIu64 " nofinal=%" PRIu64 " dotlines=%" PRIu64 "\n",
	    count, bytes, octets, nnew, nofinal, dots);
	free(sizes);
	free(o.buf);
	return 0;
}
