/*
 * maildir-int.h: private to maildir.c, maildir-update.c and maildir-dir.c, never included
 * elsewhere.  The snapshot's private part, the bound on a Maildir's size,
 * and the directory helpers of maildir-dir.c that maildir.c (RETR of a renamed
 * message) and maildir-update.c (UPDATE, recovery) share.
 */
#ifndef MAILDIR_INT_H
#define MAILDIR_INT_H

#include <sys/stat.h>

#include <dirent.h>
#include <stddef.h>

#include "maildir.h"

#define MAX_MSGS	4000000		/* a larger cur/ fails the login */

/* What maildir_open() allocates; callers see only pub. */
struct snap_priv {
	struct snapshot	 pub;		/* first member: callers see this */
	int		 curfd;
	int		 newfd;		/* -1 when new/ could not be opened */
	char		*strs;		/* names, infos, UIDLs (maildir.c) */
	char		*names;		/* a warm login's names and infos:
					   the state file's (uidmap_load()) */
};

#define MDIR_FILE_MAX	(2 * 256)	/* a file name "name:info" with NUL */

/*
 * The name of message m in cur/ (as the snapshot saw it, or as found
 * after a rename): m->file, or "name[:info]" made in buf of size octets
 * (MDIR_FILE_MAX).
 */
const char	*mdir_msg_file(const struct msg *m, char *buf, size_t size);

/* A directory's names (not starting with '.') sorted by base name. */
struct dirindex {
	char		**names;
	size_t		  n;
};

/*
 * Opens file in dfd for reading: O_NOFOLLOW, O_NONBLOCK (a fifo put in
 * its place cannot block; the flag stays set), and its fstat() in
 * *st_out.  Returns an fd of a regular file, or -1 with errno; a symlink
 * or anything but a regular file gives ENOENT, as a removed message does
 * (C0004).
 */
int		 mdir_open_msg(int dfd, const char *file, struct stat *st_out);

/* A fresh DIR on dfd, positioned at its start; NULL with errno. */
DIR		*mdir_open_dir(int dfd);

/*
 * Reads the names of dfd (dfd < 0 fails) into *ix, sorted by base name
 * (':' ends a name).  Returns 0, or -1 with *ix empty.
 */
int		 mdir_index_dir(int dfd, struct dirindex *ix);

/* The name in ix whose base name is base's, or NULL. */
const char	*mdir_index_find(const struct dirindex *ix, const char *base);

/* Frees the names of ix and empties it. */
void		 mdir_index_free(struct dirindex *ix);

#endif
