/*
 * sandbox.h: the process's own file-system sandbox after login (style 3.8,
 * doc/design.md 3).  All of it lives in sandbox.c, as gmid keeps its sandbox.c.
 */
#ifndef SANDBOX_H
#define SANDBOX_H

/*
 * Restricts the process, with Landlock, to the directory tree of dirfd
 * (the user's open Maildir; path names it in the log only): files inside
 * may be read, written, created, renamed and removed, directories listed;
 * nothing outside may be opened at all.  Sets PR_SET_NO_NEW_PRIVS first.
 * Call it after the privilege drop and after maildir_open(), before any
 * TRANSACTION command is served; descriptors already open (the socket,
 * the snapshot's directories) keep working.
 *
 * Returns 0 when the restriction is in force ("landlock: restricted to"
 * at debug level).  Returns -1 when the kernel has no Landlock (logged at
 * debug level) or a step failed (logged as a warning); the caller serves
 * anyway: the sandbox is a second wall behind the service unit's.
 */
int	sandbox_maildir(int dirfd, const char *path);

#endif
