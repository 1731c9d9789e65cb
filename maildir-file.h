/*
 * maildir-file.h: the handler's own files in a Maildir (the UID state
 * file of uidmap.c, the UPDATE intent list of maildir-update.c) written
 * whole or not at all, and the host-and-pid part of their names
 * (doc/formats.md 2.3, 3).
 */
#ifndef MAILDIR_FILE_H
#define MAILDIR_FILE_H

#include <stddef.h>
#include <stdint.h>

#define MFILE_HOSTLEN	64	/* mfile_host()'s buffer, NUL included */

/*
 * gethostname() made safe for a file name and a lock line: cut to 63
 * octets, every octet up to 0x20 (space), every '/' and every octet from
 * 0x7f up replaced by '_', "localhost" when empty.  size is at least
 * MFILE_HOSTLEN.  Two hosts sharing one Maildir must have different
 * host names.
 */
void	mfile_host(char *buf, size_t size);

/* "<prefix>.<host>.<pid>" into buf.  Returns 0, or -1 when it does not fit. */
int	mfile_name(char *buf, size_t size, const char *prefix);

/* The buffered writer mfile_replace() gives its fill callback. */
struct mfile_out;

/* Appends s[0..len); a write error is kept and reported at the end. */
void	mfile_put(struct mfile_out *w, const char *s, size_t len);

/* Appends v in decimal, then the octet sep. */
void	mfile_num(struct mfile_out *w, uint64_t v, char sep);

/*
 * Writes the Maildir file name (in dirfd, the Maildir) whole or not at
 * all: fill(w, arg) writes the content through mfile_put() and
 * mfile_num() into tmp/<prefix>.<host>.<pid> (created with O_NOFOLLOW,
 * mode 0600), which is fsynced, closed, renamed over name, and then the
 * Maildir is fsynced.  A reader sees the old file or the new one, never
 * a mix, and a process killed at any moment leaves one of the two.
 * Returns 0; or -1 with a static reason in *errstr_out and errno, the
 * temp file gone and name unchanged; or -2 likewise when only the fsync
 * of the Maildir failed: name is then in place, maybe not durable.
 */
int	mfile_replace(int dirfd, const char *name, const char *prefix,
	    void (*fill)(struct mfile_out *w, const void *arg),
	    const void *arg, const char **errstr_out);

#endif
