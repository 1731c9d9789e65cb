/*
 * maildir-size.c: the exact size of one message as POP3 counts it (spec
 * 5, 6: CRLF line ends, before dot-stuffing), from the cheapest source
 * that is right: the ",W=" field of its name, the size its state-file
 * record caches (trusted while name, byte size and mtime agree), or one
 * read through the RFC 1939 transform.  A login (maildir.c) and
 * --check-user (maildir_msg_size()) size by the same rule here.
 */
#define _GNU_SOURCE		/* preadv2() and RWF_NOWAIT */

#include <sys/stat.h>
#include <sys/uio.h>

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "maildir-crlf.h"
#include "maildir-int.h"
#include "maildir.h"
#include "uidmap.h"
#include "util.h"

uint64_t
mdir_mtime_ns(const struct stat *st)
{
	/* Only compared for equality; unsigned wrap-around is harmless. */
	return (uint64_t)st->st_mtim.tv_sec * 1000000000u +
	    (uint64_t)st->st_mtim.tv_nsec;
}

/* True when file's part after ':' is the info its record keeps. */
static bool
info_eq(const char *info, const char *file)
{
	const char	*colon = strchr(file, ':');

	if (info == NULL || colon == NULL)
		return info == NULL && colon == NULL;
	return strcmp(info, colon + 1) == 0;
}

/*
 * spec 6: the size of a message with a record (e->old), unless ",W="
 * gave it.  The record is trusted without fstatat() when the whole file
 * name is the one recorded (uidmap.h: message files are immutable);
 * otherwise the file is statted and must still have the recorded byte
 * size and mtime, and the record is rewritten with the new name
 * (*refresh_out).  A file gone or not regular by now is skipped.
 */
void
mdir_cache_size(int curfd, struct uidmap_msg *e, bool *refresh_out)
{
	const struct uidmap_entry	*r = e->old;
	struct stat			 st;

	e->uid = r->uid;
	if (e->sized)
		return;
	if (!e->statted && r->mtime != 0 && info_eq(r->info, e->file)) {
		e->size = r->size;
		e->rawsize = r->rawsize;
		e->mtime = r->mtime;
		e->sized = e->statted = true;
		return;
	}
	if (!e->statted) {
		if (fstatat(curfd, e->file, &st, AT_SYMLINK_NOFOLLOW) == -1 ||
		    !S_ISREG(st.st_mode)) {
			e->skip = true;
			return;
		}
		e->statted = true;
		e->rawsize = (uint64_t)st.st_size;
		e->mtime = mdir_mtime_ns(&st);
	}
	if (r->rawsize == e->rawsize && r->mtime == e->mtime) {
		e->size = r->size;
		e->sized = true;
		if (!info_eq(r->info, e->file))
			e->dirty = *refresh_out = true;
	}
}

/*
 * One read of at most MDIR_CHUNK octets (read_retry()).  With *nowait it
 * takes only what the page cache holds (RWF_NOWAIT): -1 with EAGAIN when
 * the next octet is not there.  A kernel, file system or seccomp filter that refuses
 * the flag turns *nowait off for the rest of the login.
 */
static ssize_t
read_chunk(int fd, char *buf, bool *nowait)
{
	struct iovec	 iov = { buf, MDIR_CHUNK };
	ssize_t		 r;

	if (nowait == NULL || !*nowait)
		return read_retry(fd, buf, MDIR_CHUNK);
	r = preadv2(fd, &iov, 1, -1, RWF_NOWAIT);
	if (r == -1 && errno != EAGAIN && errno != EINTR) {
		*nowait = false;
		return read_retry(fd, buf, MDIR_CHUNK);
	}
	return r;
}

/*
 * spec 6: the CRLF size by reading the file once through the transform.
 * Reading stops at the st_size of the open (the file is immutable), so
 * a message takes openat, fstat, one read per CHUNK, and close.  With
 * nowait (not NULL, *nowait true) a file the page cache does not hold
 * whole is left unsized: the kernel is asked to read it in
 * (POSIX_FADV_WILLNEED) and 1 is returned with the file's st_size in
 * e->rawsize (unused until e is sized), so the caller sizes the cached
 * messages meanwhile and this one later, with nowait NULL.
 */
int
mdir_size_by_reading(int curfd, struct uidmap_msg *e, char *buf,
    bool *nowait)
{
	struct crlf_state	 st;
	struct stat		 sb;
	uint64_t		 total = 0, got = 0;
	ssize_t			 r;
	int			 fd;

	log_debug("sizing %s by reading", e->name);
	if ((fd = mdir_open_msg(curfd, e->file, &sb)) == -1)
		return -1;
	crlf_init(&st, -1, false);
	while (got < (uint64_t)sb.st_size) {
		r = read_chunk(fd, buf, nowait);
		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1 && errno == EAGAIN && nowait != NULL && *nowait) {
			log_debug("%s is not in memory: sized later", e->name);
			(void)posix_fadvise(fd, 0, 0, POSIX_FADV_WILLNEED);
			(void)close(fd);
			e->rawsize = (uint64_t)sb.st_size;
			return 1;
		}
		if (r == -1)
			goto fail;
		if (r == 0)
			break;
		got += (uint64_t)r;
		if (__builtin_add_overflow(total,
		    (uint64_t)crlf_feed(&st, buf, (size_t)r, NULL, NULL),
		    &total))
			goto fail;
	}
	total += (uint64_t)crlf_finish(&st, NULL, NULL);
	(void)close(fd);
	e->size = total;
	e->rawsize = got;
	e->mtime = mdir_mtime_ns(&sb);
	e->sized = e->statted = e->dirty = true;
	return 0;
 fail:
	return close_keep_errno(fd, -1);
}

int
maildir_msg_size(int dfd, const char *file, const struct uidmap_entry *rec,
    uint64_t *size_out, enum maildir_size_from *from_out)
{
	struct uidmap_msg	 e;
	char			*buf;
	bool			 refresh = false;
	int			 r;

	if (uidmap_name_wsize(file, size_out)) {
		*from_out = SIZE_FROM_NAME;
		return 0;
	}
	memset(&e, 0, sizeof(e));
	e.name = e.file = file;
	if (rec != NULL) {
		e.old = rec;
		mdir_cache_size(dfd, &e, &refresh);
		if (e.sized) {
			*size_out = e.size;
			*from_out = SIZE_FROM_STATE;
			return 0;
		}
	}
	if ((buf = malloc(MDIR_CHUNK)) == NULL)
		return -1;
	r = mdir_size_by_reading(dfd, &e, buf, NULL);
	free(buf);
	if (r == -1)
		return -1;
	*size_out = e.size;
	*from_out = SIZE_FROM_READING;
	return 0;
}
