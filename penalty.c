/*
 * penalty.c: the per-peer failure counter shared by all handler processes
 * of one host (spec 4), in the file named by the penalty-file setting.
 * Runs before authentication, as whatever identity the launcher gave.
 *
 * The file is a 32-octet header and PENALTY_SLOTS records of 32 octets:
 * an open-addressing table keyed by a hash of the peer address, searched
 * over PENALTY_PROBES slots.  Each record holds the address, the failure
 * count and the time of the last failure, in host byte order (the file
 * is per-host state on local disk).  Every access holds flock(LOCK_EX) for
 * a few pread()/pwrite() calls only, so handlers never wait long.
 *
 * The file is hostile like any input: it is opened with O_NOFOLLOW, must
 * be a regular file with one link owned by this user, and a file of the
 * wrong size or header is reset.  A record with a count of 0, a time in
 * the future or an expired one is empty; a count above PENALTY_MAX_COUNT
 * is read as that.  A file that cannot be used costs the caller one
 * warning and no penalty: it never blocks a login.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "penalty.h"
#include "util.h"

#define HEADER_SIZE	32
#define RECORD_SIZE	32
#define FILE_SIZE	(HEADER_SIZE + (off_t)PENALTY_SLOTS * RECORD_SIZE)
#define MAGIC		"pop3-handler penalty file 1\n"
#define CLOCK_SKEW	60	/* seconds a record may lie in the future */
#define LOCK_TRIES	100	/* of 10 ms each */

/* One record as stored: 16 + 4 + 4 + 8 octets, no padding. */
struct record {
	uint8_t		addr[16];
	uint32_t	count;
	uint32_t	reserved;	/* written as 0, ignored when read */
	int64_t		last;		/* time(NULL) of the last failure */
};

_Static_assert(sizeof(struct record) == RECORD_SIZE, "record layout");
_Static_assert(sizeof(MAGIC) <= HEADER_SIZE, "header layout");

/* ::ffff:127.0.0.0/104, byte by byte: addr has no in6_addr alignment. */
static bool
v4_loopback(const uint8_t *a)
{
	static const uint8_t	prefix[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
				    0xff, 0xff };

	return memcmp(a, prefix, sizeof(prefix)) == 0 && a[12] == 127;
}

bool
penalty_key(const char *peer, struct penalty_key *out)
{
	struct penalty_key	k;
	struct in_addr		a4;
	struct in6_addr		a6;

	if (peer == NULL)
		return false;
	memset(&k, 0, sizeof(k));
	if (inet_pton(AF_INET, peer, &a4) == 1) {
		k.addr[10] = k.addr[11] = 0xff;
		memcpy(&k.addr[12], &a4, 4);
	} else if (inet_pton(AF_INET6, peer, &a6) == 1) {
		memcpy(k.addr, &a6, 16);
		if (IN6_IS_ADDR_LOOPBACK(&a6))
			return false;
		/* One customer network is one peer. */
		if (!IN6_IS_ADDR_V4MAPPED(&a6))
			memset(&k.addr[8], 0, 8);
	} else
		return false;
	if (v4_loopback(k.addr))
		return false;
	*out = k;
	return true;
}

unsigned int
penalty_delay(unsigned int base, uint32_t failures)
{
	uint64_t	d;

	if (failures == 0 || base == 0)
		return 0;
	if (failures > 32 || base >= PENALTY_MAX_DELAY)
		return PENALTY_MAX_DELAY;
	d = (uint64_t)base << (failures - 1);
	return d > PENALTY_MAX_DELAY ? PENALTY_MAX_DELAY : (unsigned int)d;
}

/* FNV-1a: the home slot of a key. */
static size_t
home_slot(const struct penalty_key *k)
{
	uint32_t	h = 2166136261U;
	size_t		i;

	for (i = 0; i < sizeof(k->addr); i++) {
		h ^= k->addr[i];
		h *= 16777619U;
	}
	return h % PENALTY_SLOTS;
}

static off_t
slot_offset(size_t slot)
{
	return HEADER_SIZE + (off_t)slot * RECORD_SIZE;
}

/* A record that counts: a failure within the expiry, not in the future. */
static bool
live(const struct record *r, time_t now)
{
	return r->count > 0 && r->last <= (int64_t)now + CLOCK_SKEW &&
	    (int64_t)now - r->last < PENALTY_EXPIRY;
}

static void
warn_file(bool warn, const char *file, const char *what, bool with_errno)
{
	if (!warn)
		return;
	if (with_errno)
		log_warn("penalty file %s unusable, no brute-force penalty: "
		    "%s", file, what);
	else
		log_warnx("penalty file %s unusable, no brute-force penalty: "
		    "%s", file, what);
}

/* Empties the file and writes the header: a fresh table. */
static int
reset(int fd)
{
	char	hdr[HEADER_SIZE];

	memset(hdr, 0, sizeof(hdr));
	memcpy(hdr, MAGIC, sizeof(MAGIC) - 1);
	if (ftruncate(fd, 0) == -1 || ftruncate(fd, FILE_SIZE) == -1)
		return -1;
	if (pwrite(fd, hdr, sizeof(hdr), 0) != (ssize_t)sizeof(hdr))
		return -1;
	return 0;
}

static int
lock_file(int fd)
{
	struct timespec	ts = { 0, 10 * 1000 * 1000 };
	int		i;

	for (i = 0; i < LOCK_TRIES; i++) {
		if (flock(fd, LOCK_EX | LOCK_NB) == 0)
			return 0;
		if (errno != EWOULDBLOCK && errno != EINTR)
			return -1;
		(void)nanosleep(&ts, NULL);
	}
	errno = EWOULDBLOCK;
	return -1;
}

/*
 * spec 4: the file's directory, when missing, is created 0700 by
 * whoever runs (the service account); only that last component.
 */
int
penalty_mkdir(const char *file)
{
	char		dir[4096];
	char		*slash;

	if (strlcpy_(dir, file, sizeof(dir)) >= sizeof(dir) ||
	    (slash = strrchr(dir, '/')) == NULL || slash == dir) {
		errno = ENOENT;
		return -1;
	}
	*slash = '\0';
	if (mkdir(dir, 0700) == -1 && errno != EEXIST)
		return -1;
	log_info("penalty file directory %s created", dir);
	return 0;
}

/*
 * Opens, checks and locks the file (created 0600 when absent).  Returns
 * the descriptor, or -1 after warning.  Closing it drops the lock.
 */
static int
open_locked(const char *file, bool warn)
{
	char		hdr[HEADER_SIZE];
	struct stat	st;
	int		fd;

	/* O_NONBLOCK: a fifo planted at the path must not hang us. */
	fd = open(file, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC |
	    O_NOCTTY | O_NONBLOCK, 0600);
	if (fd == -1 && errno == ENOENT && penalty_mkdir(file) == 0)
		fd = open(file, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC |
		    O_NOCTTY | O_NONBLOCK, 0600);
	if (fd == -1) {
		warn_file(warn, file, "cannot open", true);
		return -1;
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode) ||
	    st.st_nlink != 1 || st.st_uid != geteuid()) {
		warn_file(warn, file, "not a regular file with one link owned "
		    "by this user", false);
		(void)close(fd);
		return -1;
	}
	if (lock_file(fd) == -1) {
		warn_file(warn, file, "cannot lock", true);
		(void)close(fd);
		return -1;
	}
	/* The size may have changed while we waited for the lock. */
	if (fstat(fd, &st) == -1 || st.st_size != FILE_SIZE ||
	    pread(fd, hdr, sizeof(hdr), 0) != (ssize_t)sizeof(hdr) ||
	    memcmp(hdr, MAGIC, sizeof(MAGIC) - 1) != 0) {
		if (st.st_size != 0 && warn)
			log_warnx("penalty file %s was not a penalty file; "
			    "reset", file);
		if (reset(fd) == -1) {
			warn_file(warn, file, "cannot initialise", true);
			(void)close(fd);
			return -1;
		}
	}
	return fd;
}

/*
 * Searches the key's probe window.  Returns 0 with *slot_out the key's
 * live record (*found_out true), or else the slot to use for it: the
 * first empty one, or the one with the oldest failure.  -1: read error.
 */
static int
find_slot(int fd, const struct penalty_key *k, time_t now, size_t *slot_out,
    struct record *rec_out, bool *found_out)
{
	struct record	r;
	size_t		i, slot, pick = PENALTY_SLOTS;
	int64_t		oldest = INT64_MAX;
	bool		have_empty = false;

	for (i = 0; i < PENALTY_PROBES; i++) {
		slot = (home_slot(k) + i) % PENALTY_SLOTS;
		if (pread(fd, &r, sizeof(r), slot_offset(slot)) !=
		    (ssize_t)sizeof(r))
			return -1;
		if (!live(&r, now)) {
			if (!have_empty) {
				have_empty = true;
				pick = slot;
			}
			continue;
		}
		if (memcmp(r.addr, k->addr, sizeof(r.addr)) == 0) {
			if (r.count > PENALTY_MAX_COUNT)
				r.count = PENALTY_MAX_COUNT;
			*slot_out = slot;
			*rec_out = r;
			*found_out = true;
			return 0;
		}
		if (!have_empty && r.last < oldest) {
			oldest = r.last;
			pick = slot;
		}
	}
	*slot_out = pick;
	*found_out = false;
	return 0;
}

int
penalty_check(const char *file, const char *peer, unsigned int base,
    bool warn, unsigned int *wait_out)
{
	struct penalty_key	k;
	struct record		r;
	size_t			slot;
	bool			found;
	int			fd, rv = 0;

	*wait_out = 0;
	if (file == NULL || !penalty_key(peer, &k))
		return 0;
	if ((fd = open_locked(file, warn)) == -1)
		return -1;
	if (find_slot(fd, &k, time(NULL), &slot, &r, &found) == -1) {
		warn_file(warn, file, "cannot read", true);
		rv = -1;
	} else if (found)
		*wait_out = penalty_delay(base, r.count);
	(void)close(fd);
	return rv;
}

int
penalty_note(const char *file, const char *peer, bool failed, bool warn)
{
	struct penalty_key	k;
	struct record		r;
	time_t			now = time(NULL);
	size_t			slot;
	bool			found;
	int			fd, rv = 0;

	if (file == NULL || !penalty_key(peer, &k))
		return 0;
	if ((fd = open_locked(file, warn)) == -1)
		return -1;
	if (find_slot(fd, &k, now, &slot, &r, &found) == -1) {
		warn_file(warn, file, "cannot read", true);
		(void)close(fd);
		return -1;
	}
	if (failed) {
		if (!found) {
			memset(&r, 0, sizeof(r));
			memcpy(r.addr, k.addr, sizeof(r.addr));
		}
		if (r.count < PENALTY_MAX_COUNT)
			r.count++;
		r.reserved = 0;
		r.last = (int64_t)now;
	} else if (found)
		memset(&r, 0, sizeof(r));	/* a success clears */
	if ((failed || found) && pwrite(fd, &r, sizeof(r),
	    slot_offset(slot)) != (ssize_t)sizeof(r)) {
		warn_file(warn, file, "cannot write", true);
		rv = -1;
	}
	(void)close(fd);
	return rv;
}
