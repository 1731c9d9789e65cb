/*
 * maildir-int.h: private to maildir.c, maildir-update.c and maildir-dir.c,
 * never included elsewhere.  The snapshot's private part, the bound on a
 * Maildir's size, and the directory helpers of maildir-dir.c that
 * maildir.c (the login, RETR of a renamed message) and maildir-update.c
 * (UPDATE, recovery) use.
 */
#ifndef MAILDIR_INT_H
#define MAILDIR_INT_H

#include <sys/stat.h>

#include <dirent.h>
#include <stdbool.h>
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

/*
 * spec 4, 5: opens the Maildir at path (creating it, 0700, when absent)
 * into sp->pub.dirfd, and cur/ (which must open; created when absent),
 * new/ and tmp/ (optional: created when absent, new/ kept in sp->newfd,
 * -1 when it cannot be had).  Returns 0, or -1 with a static reason in
 * *errstr_out and errno.
 */
int		 mdir_open_dirs(struct snap_priv *sp, const char *path,
		    const char **errstr_out);

/*
 * True when dfd holds a message (a regular non-dot file), or when it
 * cannot be read (unknown: the caller then assumes a used Maildir).
 */
bool		 mdir_has_msgs(int dfd);

/*
 * spec 5: every regular non-dot file of new/ moves to cur/, with ":2,"
 * added when it has no info, never replacing a file (logged when one
 * cannot move).
 */
void		 mdir_move_new(struct snap_priv *sp);

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

/* maildir-size.c: one message's size (spec 5, 6). */
#define MDIR_CHUNK	(64 * 1024)	/* spec 5: fixed read size */
struct uidmap_msg;
uint64_t	 mdir_mtime_ns(const struct stat *st);
/* The size of e from its record (e->old) when that still holds; else
 * e stays unsized, or e->skip when the file is gone. */
void		 mdir_cache_size(int curfd, struct uidmap_msg *e,
		    bool *refresh_out);
/*
 * The size of e by one read into buf (MDIR_CHUNK octets); -1 on errors.
 * nowait (NULL: off) as maildir-size.c says: 1 when e is to be sized
 * later because the page cache does not hold it.
 */
int		 mdir_size_by_reading(int curfd, struct uidmap_msg *e,
		    char *buf, bool *nowait);

#endif
