/*
 * sandbox.c: the Landlock step after login (style 3.8).  The only
 * file with sandbox code.  Once the privilege drop is checked and the
 * Maildir snapshot is taken, the process limits its own file-system access
 * to the Maildir tree: the snapshot's descriptors, RETR/TOP (openat),
 * UPDATE (unlinkat), the UID state file, its lock and its temp files
 * (create, rename) all stay inside it.  Nothing else is opened after
 * login: the passwd file was read before, TLS runs on descriptors already
 * open, and the journal and syslog are AF_UNIX sockets, which file-system
 * rules do not cover (no LANDLOCK_SCOPE_* is asked for).
 *
 * It trusts the descriptor maildir_open() returned and the kernel's answer
 * to the ABI query.  It does not touch the network, signals or anything
 * the unit's seccomp filter already handles, and it never refuses service:
 * a kernel without Landlock gets one debug line, a failed step a warning.
 *
 * glibc has no wrappers for the three system calls, so they go through
 * syscall(2) (a deliberate GNU/Linux dependency).  The rights a kernel's
 * ABI lacks are masked out, so the same binary runs on every kernel since
 * 5.13 and, without the sandbox, on older ones.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/landlock.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "sandbox.h"

/* Rights newer than the <linux/landlock.h> this may be built against. */
#ifndef LANDLOCK_ACCESS_FS_REFER
#define LANDLOCK_ACCESS_FS_REFER	(1ULL << 13)	/* ABI 2 */
#endif
#ifndef LANDLOCK_ACCESS_FS_TRUNCATE
#define LANDLOCK_ACCESS_FS_TRUNCATE	(1ULL << 14)	/* ABI 3 */
#endif
#ifndef LANDLOCK_ACCESS_FS_IOCTL_DEV
#define LANDLOCK_ACCESS_FS_IOCTL_DEV	(1ULL << 15)	/* ABI 5 */
#endif

/* What the session needs inside the Maildir (spec 5, 6). */
#define MAILDIR_RIGHTS	(LANDLOCK_ACCESS_FS_READ_FILE |			\
			 LANDLOCK_ACCESS_FS_READ_DIR |			\
			 LANDLOCK_ACCESS_FS_WRITE_FILE |		\
			 LANDLOCK_ACCESS_FS_REMOVE_FILE |		\
			 LANDLOCK_ACCESS_FS_MAKE_REG |			\
			 LANDLOCK_ACCESS_FS_REFER |			\
			 LANDLOCK_ACCESS_FS_TRUNCATE)

/*
 * Every file-system right the kernel's ABI knows: all of them are
 * handled, so whatever is not granted below is denied.  ABI 4, 6 and 7
 * added network, scope and logging features, no file-system right.
 */
static uint64_t
abi_fs_rights(long abi)
{
	if (abi >= 5)
		return (LANDLOCK_ACCESS_FS_IOCTL_DEV << 1) - 1;
	if (abi >= 3)
		return (LANDLOCK_ACCESS_FS_TRUNCATE << 1) - 1;
	if (abi == 2)
		return (LANDLOCK_ACCESS_FS_REFER << 1) - 1;
	return (LANDLOCK_ACCESS_FS_MAKE_SYM << 1) - 1;
}

/*
 * AddressSanitizer builds (build/san/) only: LeakSanitizer reads
 * /proc/PID/task and /proc/PID/maps at exit and aborts when it cannot, so
 * those builds may also read /proc.  Release builds never get this rule.
 */
#if defined(__SANITIZE_ADDRESS__)
#define SANITIZER_PROC	1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SANITIZER_PROC	1
#endif
#endif

/*
 * fuzz/fuzz_command.c runs whole sessions, logins included, inside one
 * replay or libFuzzer process that must go on opening corpus files.  A
 * weak reference (a GNU extension) finds the harness entry point: it is
 * NULL in pop3-handler itself, so the daemon binary always sandboxes.
 */
extern int	LLVMFuzzerTestOneInput(const uint8_t *, size_t)
		    __attribute__((weak));

static long
ll_create_ruleset(const struct landlock_ruleset_attr *attr, size_t size,
    uint32_t flags)
{
	return syscall(SYS_landlock_create_ruleset, attr, size, flags);
}

static long
ll_add_rule(int fd, int dirfd, uint64_t allowed)
{
	struct landlock_path_beneath_attr	pb;

	memset(&pb, 0, sizeof(pb));
	pb.parent_fd = dirfd;
	pb.allowed_access = allowed;
	return syscall(SYS_landlock_add_rule, fd, LANDLOCK_RULE_PATH_BENEATH,
	    &pb, 0U);
}

#ifdef SANITIZER_PROC
static int
allow_proc(int rfd, uint64_t handled)
{
	int	fd, rv;

	if ((fd = open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		return -1;
	rv = (int)ll_add_rule(rfd, fd, (LANDLOCK_ACCESS_FS_READ_FILE |
	    LANDLOCK_ACCESS_FS_READ_DIR) & handled);
	(void)close(fd);
	return rv;
}
#else
#define allow_proc(rfd, handled)	0
#endif

static long
ll_restrict_self(int fd)
{
	return syscall(SYS_landlock_restrict_self, fd, 0U);
}

#ifdef POP3_FAULT_INJECTION
/*
 * Test builds only: POP3_SANDBOX_PROBE=PATH opens PATH before and after
 * the restriction and logs both results at debug level, which is how the
 * tests see the sandbox from outside.  POP3_SANDBOX_FAIL=nosys pretends
 * the kernel has no Landlock.
 */
static void
probe(const char *when)
{
	const char	*p = getenv("POP3_SANDBOX_PROBE");
	int		 fd;

	if (p == NULL || *p == '\0')
		return;
	if ((fd = open(p, O_RDONLY | O_CLOEXEC | O_NONBLOCK)) == -1) {
		log_debug("landlock probe %s: open %s: %s", when, p,
		    strerror(errno));
		return;
	}
	(void)close(fd);
	log_debug("landlock probe %s: open %s: ok", when, p);
}

static bool
pretend_nosys(void)
{
	const char	*f = getenv("POP3_SANDBOX_FAIL");

	if (f == NULL || strcmp(f, "nosys") != 0)
		return false;
	errno = ENOSYS;
	return true;
}
#else
#define probe(when)		do { } while (0)
#define pretend_nosys()		false
#endif

int
sandbox_maildir(int dirfd, const char *path)
{
	struct landlock_ruleset_attr	ra;
	uint64_t			handled;
	long				abi;
	int				rfd;

	if (LLVMFuzzerTestOneInput != NULL) {
		log_debug("landlock: skipped in a fuzz harness");
		return -1;
	}
	probe("before");
	/*
	 * ENOSYS: built without Landlock; EOPNOTSUPP: disabled at boot;
	 * EPERM: a seccomp filter (systemd's @system-service before v254)
	 * denies the call.  None of them is the operator's mistake.
	 */
	if (pretend_nosys() || (abi = ll_create_ruleset(NULL, 0,
	    LANDLOCK_CREATE_RULESET_VERSION)) < 1) {
		log_debug("landlock: not available (%s); no file-system "
		    "sandbox", strerror(errno));
		return -1;
	}
	handled = abi_fs_rights(abi);

	/* Load the zone file now: syslog(3) stamps local time later. */
	tzset();
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == -1) {
		log_warn("landlock: PR_SET_NO_NEW_PRIVS");
		return -1;
	}
	memset(&ra, 0, sizeof(ra));
	ra.handled_access_fs = handled;
	if ((rfd = (int)ll_create_ruleset(&ra, sizeof(ra), 0)) == -1) {
		log_warn("landlock: cannot create a ruleset");
		return -1;
	}
	if (ll_add_rule(rfd, dirfd, MAILDIR_RIGHTS & handled) == -1 ||
	    allow_proc(rfd, handled) == -1) {
		log_warn("landlock: cannot add the rule for %s", path);
		(void)close(rfd);
		return -1;
	}
	if (ll_restrict_self(rfd) == -1) {
		log_warn("landlock: cannot restrict the process");
		(void)close(rfd);
		return -1;
	}
	(void)close(rfd);
	log_debug("landlock: restricted to %s (ABI %ld)", path, abi);
	probe("after");
	return 0;
}
