/*
 * maildir-dir.c: the directory helpers that maildir.c and maildir-update.c share
 * (maildir-int.h): opening a message safely, a fresh DIR on a directory
 * fd, and the sorted index of a directory's names by base name that finds
 * a message renamed meanwhile.
 *
 * It trusts nothing in the Maildir: a message is opened with O_NOFOLLOW
 * and O_NONBLOCK and must be a regular file, and names are only compared.
 * It removes nothing, logs nothing and knows no snapshot.
 */
#include <sys/stat.h>
#include <sys/types.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "maildir-int.h"
#include "util.h"

/* Compares file names by base name: ':' ends a name like NUL. */
static int
basecmp(const char *a, const char *b)
{
	int	 ca, cb;

	for (;; a++, b++) {
		ca = *a == ':' ? 0 : (unsigned char)*a;
		cb = *b == ':' ? 0 : (unsigned char)*b;
		if (ca != cb || ca == 0)
			return ca - cb;
	}
}

/*
 * Opens a message: O_NOFOLLOW, and O_NONBLOCK so a fifo put in its place
 * cannot block.  A symlink or anything but a regular file is no message
 * any more: errno ENOENT, as for a removed one (C0004).  O_NONBLOCK stays
 * set: it has no effect on a regular file (open(2)), so clearing it
 * would only cost a system call per RETR.
 */
int
mdir_open_msg(int dfd, const char *file, struct stat *st_out)
{
	int		 fd;

	fd = openat(dfd, file,
	    O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	if (fd == -1) {
		if (errno == ELOOP)
			errno = ENOENT;
		return -1;
	}
	if (fstat(fd, st_out) == -1)
		return close_keep_errno(fd, -1);
	if (!S_ISREG(st_out->st_mode)) {
		(void)close(fd);
		errno = ENOENT;
		return -1;
	}
	return fd;
}

/* A fresh DIR on dfd, positioned at its start. */
DIR *
mdir_open_dir(int dfd)
{
	DIR	*d;
	int	 fd;

	if ((fd = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		return NULL;
	if ((d = fdopendir(fd)) == NULL)
		(void)close(fd);
	return d;
}

static int
cmp_names(const void *a, const void *b)
{
	return basecmp(*(char * const *)a, *(char * const *)b);
}

void
mdir_index_free(struct dirindex *ix)
{
	size_t	 i;

	for (i = 0; i < ix->n; i++)
		free(ix->names[i]);
	free(ix->names);
	ix->names = NULL;
	ix->n = 0;
}

const char *
mdir_index_find(const struct dirindex *ix, const char *base)
{
	char	**p;

	if (ix->n == 0)
		return NULL;
	p = bsearch(&base, ix->names, ix->n, sizeof(*ix->names), cmp_names);
	return p != NULL ? *p : NULL;
}

/*
 * The names of a directory sorted by base name, for renamed messages.
 * gcc 12's analyzer loses track of a pointer stored into a grown array
 * and calls it leaked; ix owns every name and mdir_index_free() releases them.
 */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wanalyzer-malloc-leak"
int
mdir_index_dir(int dfd, struct dirindex *ix)
{
	struct dirent	*d;
	DIR		*dir;
	size_t		 cap = 0;
	char		*name;
	void		*p;

	ix->names = NULL;
	ix->n = 0;
	if (dfd < 0 || (dir = mdir_open_dir(dfd)) == NULL)
		return -1;
	while ((d = readdir(dir)) != NULL) {
		if (d->d_name[0] == '.')
			continue;
		if (ix->n == cap) {
			cap = cap == 0 ? 256 : cap * 2;
			p = reallocarray(ix->names, cap, sizeof(*ix->names));
			if (p == NULL)
				break;
			ix->names = p;
		}
		if ((name = strdup(d->d_name)) == NULL)
			break;
		ix->names[ix->n++] = name;
	}
	(void)closedir(dir);
	if (d != NULL) {
		mdir_index_free(ix);
		return -1;
	}
	if (ix->n > 1)
		qsort(ix->names, ix->n, sizeof(*ix->names), cmp_names);
	return 0;
}
#pragma GCC diagnostic pop
