/*
 * maildir-dir.c: where a Maildir is and how its directories are opened and
 * read (maildir-int.h): the path from the maildir template, opening (and
 * creating) the Maildir, cur/, new/ and tmp/, moving new/ to cur/,
 * opening a message safely, a fresh DIR on a directory fd, and the sorted
 * index of a directory's names by base name that finds a message renamed
 * meanwhile.
 *
 * It trusts nothing in the Maildir: a message is opened with O_NOFOLLOW
 * and O_NONBLOCK and must be a regular file, entries count only when they
 * are regular files, and names are only compared.  It removes nothing and
 * knows no state file.
 */
#define _GNU_SOURCE		/* renameat2() and RENAME_NOREPLACE */

#include <sys/stat.h>
#include <sys/types.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
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
	free(ix->names);	/* one block: the pointers, then the names */
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
 * Appends name to the arena *ap (*alen used of *acap) and its offset to
 * *offp (*n used of *cap).  At most MAX_MSGS names.  Returns 0 or -1.
 */
static int
index_add(const char *name, char **ap, size_t *alen, size_t *acap,
    size_t **offp, size_t n, size_t *cap)
{
	size_t	 len = strlen(name) + 1, ncap;
	void	*p;

	if (n >= MAX_MSGS) {
		errno = EFBIG;
		return -1;
	}
	if (n == *cap) {
		ncap = *cap == 0 ? 256 : *cap * 2;
		if ((p = reallocarray(*offp, ncap, sizeof(**offp))) == NULL)
			return -1;
		*offp = p;
		*cap = ncap;
	}
	if (*ap == NULL || len > *acap - *alen) {
		ncap = *acap == 0 ? 16384 : *acap;
		while (len > ncap - *alen)
			if (__builtin_mul_overflow(ncap, 2, &ncap)) {
				errno = ENOMEM;
				return -1;
			}
		if ((p = realloc(*ap, ncap)) == NULL)
			return -1;
		*ap = p;
		*acap = ncap;
	}
	memcpy(*ap + *alen, name, len);
	(*offp)[n] = *alen;
	*alen += len;
	return 0;
}

/*
 * The names of a directory sorted by base name, for renamed messages:
 * read into one arena, then one block holds the pointers and the names
 * (mdir_index_free() frees it); no allocation per name.
 */
int
mdir_index_dir(int dfd, struct dirindex *ix)
{
	struct dirent	*d;
	DIR		*dir;
	size_t		*off = NULL, n = 0, cap = 0, alen = 0, acap = 0, i;
	size_t		 psize, total;
	char		*arena = NULL, *blk = NULL;

	ix->names = NULL;
	ix->n = 0;
	if (dfd < 0 || (dir = mdir_open_dir(dfd)) == NULL)
		return -1;
	while ((d = readdir(dir)) != NULL) {
		if (d->d_name[0] == '.')
			continue;
		if (index_add(d->d_name, &arena, &alen, &acap, &off, n,
		    &cap) == -1)
			break;
		n++;
	}
	(void)closedir(dir);
	if (d == NULL && !__builtin_mul_overflow(n, sizeof(char *), &psize) &&
	    !__builtin_add_overflow(psize, alen, &total) &&
	    (blk = malloc(total + 1)) != NULL) {
		ix->names = (char **)(void *)blk;
		if (alen > 0)
			memcpy(blk + psize, arena, alen);
		for (i = 0; i < n; i++)
			ix->names[i] = blk + psize + off[i];
		ix->n = n;
	}
	free(arena);
	free(off);
	if (blk == NULL)
		return -1;
	if (ix->n > 1)
		qsort(ix->names, ix->n, sizeof(*ix->names), cmp_names);
	return 0;
}

static int
open_sub(int dirfd, const char *sub, bool need)
{
	int	 fd;

	fd = openat(dirfd, sub, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC);
	if (fd == -1 && errno == ENOENT) {
		if (mkdirat(dirfd, sub, 0700) == -1 && errno != EEXIST)
			return need ? -1 : -2;
		fd = openat(dirfd, sub, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
		    O_CLOEXEC);
	}
	if (fd == -1 && !need)
		return -2;
	return fd;
}

int
mdir_open_dirs(struct snap_priv *sp, const char *path,
    const char **errstr_out)
{
	int	 fd;

	if (mkdir(path, 0700) == -1 && errno != EEXIST) {
		*errstr_out = "cannot create the Maildir";
		return -1;
	}
	sp->pub.dirfd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC);
	if (sp->pub.dirfd == -1) {
		*errstr_out = "cannot open the Maildir";
		return -1;
	}
	if ((sp->curfd = open_sub(sp->pub.dirfd, "cur", true)) == -1) {
		*errstr_out = "cannot open cur/";
		return -1;
	}
	sp->newfd = open_sub(sp->pub.dirfd, "new", false);
	if ((fd = open_sub(sp->pub.dirfd, "tmp", false)) >= 0)
		(void)close(fd);
	return 0;
}

static bool
is_reg(int dfd, const struct dirent *d)
{
	struct stat	 st;

	if (d->d_type == DT_REG)
		return true;
	if (d->d_type != DT_UNKNOWN)
		return false;
	return fstatat(dfd, d->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	    S_ISREG(st.st_mode);
}

bool
mdir_has_msgs(int dfd)
{
	struct dirent	*d;
	DIR		*dir;
	bool		 found = false;

	if ((dir = mdir_open_dir(dfd)) == NULL)
		return true;	/* unknown: assume used, rebuild safely */
	while (!found && (d = readdir(dir)) != NULL)
		found = d->d_name[0] != '.' && is_reg(dfd, d);
	(void)closedir(dir);
	return found;
}

void
mdir_move_new(struct snap_priv *sp)
{
	struct dirent	*d;
	DIR		*dir;
	char		 to[512];
	int		 r;

	if (sp->newfd < 0 || (dir = mdir_open_dir(sp->newfd)) == NULL)
		return;
	while ((d = readdir(dir)) != NULL) {
		if (d->d_name[0] == '.' || !is_reg(sp->newfd, d))
			continue;
		r = snprintf(to, sizeof(to), "%s%s", d->d_name,
		    strchr(d->d_name, ':') != NULL ? "" : ":2,");
		if (r < 0 || (size_t)r >= sizeof(to))
			continue;
		if (renameat2(sp->newfd, d->d_name, sp->curfd, to,
		    RENAME_NOREPLACE) == 0 || errno == ENOENT)
			continue;
		if (errno == EINVAL || errno == ENOSYS) {
			/* No RENAME_NOREPLACE (NFS): check, then rename. */
			if (faccessat(sp->curfd, to, F_OK,
			    AT_SYMLINK_NOFOLLOW) == -1 && errno == ENOENT &&
			    renameat(sp->newfd, d->d_name, sp->curfd, to) == 0)
				continue;
		}
		log_warn("cannot move new/%s to cur/", d->d_name);
	}
	(void)closedir(dir);
}

int
maildir_expand_path(const char *t, const char *user, const char *home,
    char *out, size_t outsize)
{
	size_t o = 0, n;
	const char *ins;
	char pct[2] = "%";

	for (; *t != '\0'; t++) {
		if (*t == '%') {
			t++;
			if (*t == 'u')
				ins = user;
			else if (*t == 'h')
				ins = home;
			else if (*t == '%')
				ins = pct;
			else
				return -1;
			if (*ins == '\0')
				return -1;
		} else {
			pct[0] = *t;
			ins = pct;
		}
		n = strlen(ins);
		if (n >= outsize - o)
			return -1;
		memcpy(out + o, ins, n);
		o += n;
		pct[0] = '%';
	}
	if (o == 0)
		return -1;
	out[o] = '\0';
	return 0;
}
