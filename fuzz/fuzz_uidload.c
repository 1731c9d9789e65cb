/*
 * fuzz_uidload.c: the UID state file (spec 6) as a login reads it:
 * uidmap_load() on a real file, a chunk at a time (read_parse(),
 * feed_lines(), keep_strings()), and its hash index (index_build(),
 * uidmap_find()).  Differential: the same octets through uidmap_parse(),
 * the whole-buffer parser, must give the same outcome, reason, next,
 * cur= and "@login", and the same records field by field (uid, sizes,
 * mtime, name, info, kept UIDL, "@retr"), with the loader's strings in
 * its own m->buf; a file the parser accepts is CORRUPT ("duplicate
 * name") exactly when two records share a base name.  uidmap_find()
 * must give each record for its name, and nothing for a name no record
 * has (a proper prefix, the name with its info, a changed octet, "").
 *
 * Input: a selector byte, then the file.  The selector picks the read
 * size (uidmap_fuzz_chunk, -DPOP3_FUZZ builds only): 64 KiB, or 1, 2,
 * 3, 7, 64, 255, 256 or 4096 octets, so that short files cross chunk
 * boundaries and lines outgrow the buffer.  The file lives in a
 * temporary directory made once and removed at exit.
 */
#ifndef POP3_FUZZ
#define POP3_FUZZ 1		/* uidmap.h's hook; the Makefile sets it */
#endif

#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "../uidmap.h"
#include "fuzz.h"

static const size_t	 chunks[] = { 0, 1, 2, 3, 7, 64, 255, 256, 4096 };

static struct {
	char	 dir[512];
	char	 path[600];
	int	 dfd;		/* the temporary directory */
	int	 wfd;		/* its state file, for writing */
	bool	 ready;
} w = { .dfd = -1, .wfd = -1 };

static void
cleanup(void)
{
	if (!w.ready)
		return;
	(void)close(w.wfd);
	(void)close(w.dfd);
	(void)unlink(w.path);
	(void)rmdir(w.dir);
}

static void
setup(void)
{
	const char	*tmp = getenv("TMPDIR");

	(void)snprintf(w.dir, sizeof(w.dir), "%s/pop3-uidload.XXXXXX",
	    tmp != NULL ? tmp : "/tmp");
	if (mkdtemp(w.dir) == NULL) {
		perror("mkdtemp");
		abort();
	}
	(void)snprintf(w.path, sizeof(w.path), "%s/%s", w.dir, UIDMAP_FILE);
	if ((w.dfd = open(w.dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1 ||
	    (w.wfd = openat(w.dfd, UIDMAP_FILE, O_WRONLY | O_CREAT |
	    O_CLOEXEC, 0600)) == -1) {
		perror(w.dir);
		abort();
	}
	w.ready = true;
	atexit(cleanup);
}

/* Makes the state file hold data[0..len) exactly. */
static void
put(const uint8_t *data, size_t len)
{
	size_t	 off = 0;
	ssize_t	 r;

	if (ftruncate(w.wfd, 0) == -1)
		abort();
	while (off < len) {
		r = pwrite(w.wfd, data + off, len - off, (off_t)off);
		if (r == -1 && errno == EINTR)
			continue;
		if (r <= 0)
			abort();
		off += (size_t)r;
	}
}

static size_t
count_lf(const char *buf, size_t len)
{
	const char	*p = buf, *end = buf + len;
	size_t		 n = 0;

	while (p < end && (p = memchr(p, '\n', (size_t)(end - p))) != NULL) {
		n++;
		p++;
	}
	return n;
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char * const *)a, *(const char * const *)b);
}

/* A record of the parser has base name s (names sorted, n of them). */
static bool
named(const char **names, size_t n, const char *s)
{
	return bsearch(&s, names, n, sizeof(*names), cmp_str) != NULL;
}

static bool
same_str(const char *a, const char *b)
{
	return (a == NULL) == (b == NULL) && (a == NULL || strcmp(a, b) == 0);
}

/* Inside m->buf, which holds at most the file's size + 1 octets. */
static bool
in_buf(const struct uidmap *m, const char *s, size_t size)
{
	return s == NULL || (s >= m->buf && s + strlen(s) < m->buf + size + 1);
}

/* Names the map must not find: none of them is a record's base name. */
static void
check_absent(const struct uidmap *m, const char **names, size_t n,
    const struct uidmap_entry *e)
{
	char	 alt[2 * UIDMAP_MAX_NAME + 4];
	size_t	 len = strlen(e->name);

	/* The name with its info: a base name never holds ':'. */
	if (e->info != NULL) {
		(void)snprintf(alt, sizeof(alt), "%s:%s", e->name, e->info);
		fuzz_check(uidmap_find(m, alt) == NULL);
	}
	memcpy(alt, e->name, len + 1);
	/* Its last octet changed, and a proper prefix. */
	alt[len - 1] ^= 0x01;
	if (alt[len - 1] != '\0' && !named(names, n, alt))
		fuzz_check(uidmap_find(m, alt) == NULL);
	alt[len - 1] ^= 0x01;
	if (len > 1) {
		alt[len - 1] = '\0';
		if (!named(names, n, alt))
			fuzz_check(uidmap_find(m, alt) == NULL);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct uidmap		 p, m;
	const struct uidmap_entry *a, *b;
	const char		**names = NULL;
	char			*buf;
	size_t			 len, cap, i;
	bool			 dup = false;
	int			 r;

	if (size < 1)
		return 0;
	if (!w.ready)
		setup();
	uidmap_fuzz_chunk = chunks[data[0] % (sizeof(chunks) /
	    sizeof(chunks[0]))];
	data++;
	len = size - 1;

	/* The reference: the whole file through uidmap_parse(). */
	memset(&p, 0, sizeof(p));
	if ((buf = malloc(len + 1)) == NULL)
		abort();
	memcpy(buf, data, len);
	cap = count_lf(buf, len);
	if ((p.ents = calloc(cap + 1, sizeof(*p.ents))) == NULL)
		abort();
	r = uidmap_parse(buf, len, &p, cap);
	fuzz_check(r == 0 || r == -1);
	if (r == 0) {
		if ((names = calloc(p.count + 1, sizeof(*names))) == NULL)
			abort();
		for (i = 0; i < p.count; i++)
			names[i] = p.ents[i].name;
		qsort(names, p.count, sizeof(*names), cmp_str);
		for (i = 1; i < p.count && !dup; i++)
			dup = strcmp(names[i - 1], names[i]) == 0;
	}

	/* The loader on the same octets. */
	put(data, len);
	fuzz_check(uidmap_load(w.dfd, UIDMAP_IMPORT_NONE, &m) == 0);
	fuzz_check(m.next == p.next);
	if (r == -1 || dup) {
		fuzz_check(m.status == UIDMAP_CORRUPT && m.count == 0);
		fuzz_check(m.why != NULL && strcmp(m.why, r == -1 ? p.why :
		    "duplicate name") == 0);
		if (r == 0 && p.count > 0)
			fuzz_check(uidmap_find(&m, p.ents[0].name) == NULL);
		goto done;
	}
	fuzz_check(m.status == UIDMAP_OK && m.why == NULL);
	fuzz_check(m.count == p.count && m.cur_mtime == p.cur_mtime &&
	    m.last_login == p.last_login);
	fuzz_check(m.imported == 0 && m.extra == NULL);
	for (i = 0; i < p.count; i++) {
		a = &p.ents[i];
		b = &m.ents[i];
		fuzz_check(b->uid == a->uid && b->size == a->size &&
		    b->rawsize == a->rawsize && b->mtime == a->mtime &&
		    b->retr == a->retr && b->seq == a->seq);
		fuzz_check(strcmp(b->name, a->name) == 0);
		fuzz_check(same_str(b->info, a->info));
		fuzz_check(same_str(b->uidl, a->uidl));
		fuzz_check(in_buf(&m, b->name, len) &&
		    in_buf(&m, b->info, len) && in_buf(&m, b->uidl, len));
		/* Found by its name, from another copy of the string. */
		fuzz_check(uidmap_find(&m, a->name) == b);
		check_absent(&m, names, p.count, b);
	}
	fuzz_check(uidmap_find(&m, "") == NULL);
 done:
	uidmap_free(&m);
	free(names);
	free(p.ents);
	free(buf);
	return 0;
}
