/*
 * maildir-file.c: the one write-temp-fsync-rename of the handler's own
 * Maildir files (maildir-file.h), used by the UID state file (uidmap.c)
 * and UPDATE's intent list (maildir-update.c), and the host part of the
 * names of those files and of the state file's lock.
 *
 * Shared storage (NFS): temporary names carry the host and the pid, so
 * two processes never write one file; the temporary file is in the
 * Maildir's tmp/, so the rename never crosses a file system; rename(2)
 * replaces the file atomically.  It runs as the user and writes only
 * under names its callers give; it never follows a link it creates.
 */
#include <sys/stat.h>
#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "maildir-file.h"
#include "util.h"

#define OUT_BUF		(64 * 1024)

struct mfile_out {
	int	 fd;
	size_t	 len;
	int	 err;		/* the first write error, or 0 */
	char	 buf[OUT_BUF];
};

void
mfile_host(char *buf, size_t size)
{
	size_t	 i;

	if (size > MFILE_HOSTLEN)
		size = MFILE_HOSTLEN;
	if (gethostname(buf, size) == -1)
		buf[0] = '\0';
	buf[size - 1] = '\0';
	if (buf[0] == '\0')
		(void)strlcpy_(buf, "localhost", size);
	for (i = 0; buf[i] != '\0'; i++)
		if ((unsigned char)buf[i] <= ' ' || buf[i] == '/' ||
		    (unsigned char)buf[i] >= 0x7f)
			buf[i] = '_';
}

int
mfile_name(char *buf, size_t size, const char *prefix)
{
	char	 host[MFILE_HOSTLEN];
	int	 r;

	mfile_host(host, sizeof(host));
	r = snprintf(buf, size, "%s.%s.%ld", prefix, host, (long)getpid());
	return r < 0 || (size_t)r >= size ? -1 : 0;
}

static void
flush_out(struct mfile_out *w)
{
	size_t	 off = 0;
	ssize_t	 r;

	while (off < w->len && w->err == 0) {
		r = write(w->fd, w->buf + off, w->len - off);
		if (r == -1 && errno == EINTR)
			continue;
		if (r <= 0)
			w->err = r == 0 ? EIO : errno;
		else
			off += (size_t)r;
	}
	w->len = 0;
}

void
mfile_put(struct mfile_out *w, const char *s, size_t len)
{
	size_t	 k;

	while (len > 0 && w->err == 0) {
		if (w->len == sizeof(w->buf))
			flush_out(w);
		k = sizeof(w->buf) - w->len;
		if (k > len)
			k = len;
		memcpy(w->buf + w->len, s, k);
		w->len += k;
		s += k;
		len -= k;
	}
}

void
mfile_num(struct mfile_out *w, uint64_t v, char sep)
{
	char	 d[24];
	size_t	 i = sizeof(d);

	d[--i] = sep;
	do {
		d[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v != 0);
	mfile_put(w, d + i, sizeof(d) - i);
}

int
mfile_replace(int dirfd, const char *name, const char *prefix,
    void (*fill)(struct mfile_out *w, const void *arg), const void *arg,
    const char **errstr_out)
{
	struct mfile_out	*w;
	char			 tmp[256];
	int			 saved;

	memcpy(tmp, "tmp/", 4);
	if (mfile_name(tmp + 4, sizeof(tmp) - 4, prefix) == -1) {
		*errstr_out = "name too long";
		errno = ENAMETOOLONG;
		return -1;
	}
	if ((w = malloc(sizeof(*w))) == NULL) {
		*errstr_out = "out of memory";
		return -1;
	}
	w->len = 0;
	w->err = 0;
	w->fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW |
	    O_CLOEXEC, 0600);
	if (w->fd == -1) {
		free(w);
		*errstr_out = "cannot create the temp file";
		return -1;
	}
	fill(w, arg);
	flush_out(w);
	if (w->err != 0 || fsync(w->fd) == -1) {
		saved = w->err != 0 ? w->err : errno;
		(void)close(w->fd);
		goto wfail;
	}
	if (close(w->fd) == -1) {
		saved = errno;
		goto wfail;
	}
	free(w);
	if (renameat(dirfd, tmp, dirfd, name) == -1) {
		saved = errno;
		*errstr_out = "cannot rename the temp file";
		goto fail;
	}
	/* What the file says reaches clients only once it is durable. */
	if (fsync(dirfd) == -1 && errno != EINVAL) {
		*errstr_out = "cannot fsync the Maildir";
		return -2;
	}
	return 0;
 wfail:
	free(w);
	*errstr_out = "cannot write the temp file";
 fail:
	(void)unlinkat(dirfd, tmp, 0);
	errno = saved;
	return -1;
}
