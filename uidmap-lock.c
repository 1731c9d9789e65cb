/*
 * uidmap-lock.c: the NFS-safe lock of the UID state file (spec 6,
 * doc/formats.md 2): a file created with O_EXCL in the Maildir (atomic
 * on NFSv3 and later), holding host, pid and pid namespace for people and
 * for one check: a lock taken on this host, in this pid namespace, by a
 * process that is gone is broken at once; any other is broken by age
 * alone (UIDMAP_LOCK_STALE), since a pid means nothing on another host.
 * The lock's content is hostile like the rest of the Maildir: it is read
 * with a bound and parsed strictly.
 */
#include <sys/stat.h>
#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "maildir-file.h"
#include "uidmap.h"
#include "util.h"

/*
 * Who holds the lock, for people and for owner_gone(): "<host> <pid>
 * <pid namespace>\n"; the last field is left out when /proc cannot tell.
 */
static int
lock_line(char *buf, size_t size)
{
	char	 host[MFILE_HOSTLEN], ns[64];
	ssize_t	 r;
	int	 len;

	mfile_host(host, sizeof(host));
	r = readlink("/proc/self/ns/pid", ns, sizeof(ns) - 1);
	if (r <= 0 || memchr(ns, ' ', (size_t)r) != NULL ||
	    memchr(ns, '\n', (size_t)r) != NULL)
		r = 0;
	ns[r] = '\0';
	len = snprintf(buf, size, "%s %ld%s%s\n", host, (long)getpid(),
	    r > 0 ? " " : "", ns);
	return len < 0 || (size_t)len >= size ? 0 : len;
}

/*
 * Splits a whole lock line "<host> <pid> <ns>\n" in buf[0..len) (buf[len]
 * writable) into its three fields; -1 when it is not one.
 */
static int
lock_fields(char *buf, size_t len, char *f[3])
{
	char	*sp;
	int	 i;

	buf[len] = '\0';
	if (len == 0 || buf[len - 1] != '\n' || strlen(buf) != len)
		return -1;
	buf[len - 1] = '\0';
	f[0] = buf;
	for (i = 1; i < 3; i++) {
		if ((sp = strchr(f[i - 1], ' ')) == NULL)
			return -1;
		*sp = '\0';
		f[i] = sp + 1;
	}
	return strchr(f[2], ' ') == NULL && f[2][0] != '\0' ? 0 : -1;
}

/*
 * True when the lock file (st: its fstatat) was taken on this host, in
 * this pid namespace, by a process that is gone: a handler killed while
 * holding it.  Its own pid counts as gone too, since no caller of
 * uidmap_lock() holds the lock.  A lock of another host (shared storage)
 * or another pid namespace (a container with our host name), or one that
 * does not say, is left to the age rule.
 */
static bool
owner_gone(int dirfd, const struct stat *st)
{
	struct stat	 fst;
	char		 buf[MFILE_HOSTLEN + 128], mine[MFILE_HOSTLEN + 128];
	char		*f[3], *g[3];
	uint64_t	 pid;
	ssize_t		 r;
	int		 fd;

	if (lock_line(mine, sizeof(mine)) == 0 ||
	    lock_fields(mine, strlen(mine), g) == -1)
		return false;		/* our pid namespace is unknown */
	fd = openat(dirfd, UIDMAP_LOCK,
	    O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
	if (fd == -1)
		return false;
	if (fstat(fd, &fst) == -1 || fst.st_ino != st->st_ino ||
	    fst.st_dev != st->st_dev || !S_ISREG(fst.st_mode) ||
	    (r = read(fd, buf, sizeof(buf) - 1)) <= 0) {
		(void)close(fd);
		return false;
	}
	(void)close(fd);
	if (lock_fields(buf, (size_t)r, f) == -1 ||
	    strcmp(f[0], g[0]) != 0 || strcmp(f[2], g[2]) != 0 ||
	    parse_u64(f[1], &pid) != NUM_OK || pid == 0 || pid > INT_MAX)
		return false;
	if ((pid_t)pid == getpid())
		return true;
	return kill((pid_t)pid, 0) == -1 && errno == ESRCH;
}

/*
 * A lock file older than UIDMAP_LOCK_STALE seconds, or one owner_gone()
 * says was left by a dead process of this host, is broken.  It is
 * renamed aside first and checked to be the same inode, so a fresh lock
 * created by a racing process in between is put back rather than
 * removed.  Returns true when the caller should retry at once.
 */
static int
break_stale(int dirfd)
{
	struct stat	 st, st2;
	char		 aside[128];
	int		 relinked = 0;

	if (fstatat(dirfd, UIDMAP_LOCK, &st, AT_SYMLINK_NOFOLLOW) == -1)
		return errno == ENOENT;
	if (time(NULL) - st.st_mtime <= UIDMAP_LOCK_STALE &&
	    !owner_gone(dirfd, &st))
		return 0;
	if (mfile_name(aside, sizeof(aside), UIDMAP_LOCK ".stale") == -1)
		return 0;
	if (renameat(dirfd, UIDMAP_LOCK, dirfd, aside) == -1)
		return errno == ENOENT;
	if (fstatat(dirfd, aside, &st2, AT_SYMLINK_NOFOLLOW) == 0 &&
	    (st2.st_ino != st.st_ino || st2.st_dev != st.st_dev))
		relinked = linkat(dirfd, aside, dirfd, UIDMAP_LOCK, 0);
	/* relinked -1: a third process made a new lock meanwhile; retry. */
	(void)relinked;
	(void)unlinkat(dirfd, aside, 0);
	return 1;
}

int
uidmap_lock(int dirfd, unsigned int wait_ms, const char **errstr_out)
{
	struct timespec	 ts;
	char		 line[MFILE_HOSTLEN + 128];
	unsigned int	 waited = 0, delay = 10, breaks = 0;
	int		 fd, len, saved;

	len = lock_line(line, sizeof(line));
	for (;;) {
		fd = openat(dirfd, UIDMAP_LOCK, O_WRONLY | O_CREAT | O_EXCL |
		    O_NOFOLLOW | O_CLOEXEC, 0600);
		if (fd != -1)
			break;
		if (errno != EEXIST) {
			*errstr_out = "cannot create the lock file";
			return -1;
		}
		if (breaks < 3 && break_stale(dirfd)) {
			breaks++;
			continue;
		}
		if (waited >= wait_ms) {
			*errstr_out = "the lock file stayed busy";
			errno = EWOULDBLOCK;
			return -1;
		}
		ts.tv_sec = 0;
		ts.tv_nsec = (long)delay * 1000000L;
		(void)nanosleep(&ts, NULL);
		waited += delay;
		delay = delay * 2 > 500 ? 500 : delay * 2;
	}
	if (write(fd, line, (size_t)len) != len) {
		saved = errno;
		(void)close(fd);
		(void)unlinkat(dirfd, UIDMAP_LOCK, 0);
		errno = saved;
		*errstr_out = "cannot write the lock file";
		return -1;
	}
	if (close(fd) == -1) {
		saved = errno;
		(void)unlinkat(dirfd, UIDMAP_LOCK, 0);
		errno = saved;
		*errstr_out = "cannot write the lock file";
		return -1;
	}
	return 0;
}

void
uidmap_unlock(int dirfd)
{
	(void)unlinkat(dirfd, UIDMAP_LOCK, 0);
}
