/*
 * uidmap.h: the UID state file of a Maildir (SPEC 6, C0007-C0009) and the
 * cache of exact CRLF sizes kept in it.
 *
 * <Maildir>/pop3-handler-uidlist is text, one record a line, written only
 * under the lock file and replaced by rename(2):
 *
 *	pop3-handler-uidlist 1 next=<N>
 *	<uid> <size> <rawsize> <mtime> <name>
 *	...
 *
 * uid is the counter UID (1 <= uid < N, strictly ascending); size the CRLF
 * size (SPEC 6); rawsize and mtime (st_mtim in nanoseconds, modulo 2^64)
 * describe the file when size was computed, so a changed file is re-read
 * (both 0 when size came from a ",W=" field); name is the unique base name
 * (the rest of the line; it never holds LF).  Every number is decimal.
 */
#ifndef UIDMAP_H
#define UIDMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define UIDMAP_FILE	"pop3-handler-uidlist"
#define UIDMAP_LOCK	"pop3-handler-uidlist.lock"
#define UIDMAP_MAX_FILE	(64 * 1024 * 1024)	/* larger counts as corrupt */
#define UIDMAP_LOCK_WAIT 10000		/* ms to wait for a busy lock */
#define UIDMAP_LOCK_STALE 60		/* s: an older lock file is removed */
#define UIDMAP_MAX_UIDL	70		/* RFC 1939: 1..70 of 0x21-0x7e */

struct uidmap_entry {
	const char	*name;		/* NUL-terminated, inside the buffer */
	uint64_t	 uid;
	uint64_t	 size;		/* exact CRLF size */
	uint64_t	 rawsize;	/* st_size when sized by reading */
	uint64_t	 mtime;		/* its st_mtim in ns, likewise */
};

enum uidmap_status {
	UIDMAP_OK,
	UIDMAP_MISSING,			/* no state file */
	UIDMAP_CORRUPT,			/* unparseable: rebuild (SPEC 6) */
};

struct uidmap {
	enum uidmap_status	 status;
	const char		*why;		/* static text when CORRUPT */
	uint64_t		 next;		/* next UID to hand out */
	struct uidmap_entry	*ents;		/* sorted by name (load) */
	size_t			 count;
	char			*buf;		/* the file; names point here */
};

/*
 * Pure parser of a whole state file in buf[0..len) (buf[len] must be
 * writable: it becomes NUL).  Separators are overwritten with NUL in place
 * so names need no allocation.  m->ents must hold cap entries (cap = the
 * number of LF in buf is enough).  Sets m->ents[0..m->count) in file
 * order and m->next, and returns 0.  On a malformed file returns -1 with
 * the first reason in m->why; m->next is then still a safe floor: above
 * the header's next= and every UID seen on a readable line.
 */
int	uidmap_parse(char *buf, size_t len, struct uidmap *m, size_t cap);

/*
 * Reads <dirfd>/pop3-handler-uidlist (O_NOFOLLOW, at most UIDMAP_MAX_FILE
 * octets) into *m: status OK with entries sorted by name, MISSING (next 1),
 * or CORRUPT (no entries, next the parser's floor; a duplicate name or a
 * non-regular file is corrupt too).  Returns -1 with errno only when the
 * file exists but cannot be read (EACCES, EIO, ENOMEM): the caller must
 * not rebuild then.  Free with uidmap_free() in every case.
 */
int	uidmap_load(int dirfd, struct uidmap *m);

/* Entry for a base name, or NULL.  The map must come from uidmap_load(). */
const struct uidmap_entry *uidmap_find(const struct uidmap *, const char *);

/* Frees what uidmap_load() allocated; *m may then be loaded again. */
void	uidmap_free(struct uidmap *m);

/*
 * Takes the NFS-safe lock: creates pop3-handler-uidlist.lock with O_EXCL
 * (hostname and pid inside), removes a lock older than UIDMAP_LOCK_STALE
 * seconds, and retries with backoff for up to wait_ms.  Returns 0 when
 * held, or -1 with a static reason in *errstr_out and errno (EWOULDBLOCK
 * when the lock stayed busy).
 */
int	uidmap_lock(int dirfd, unsigned int wait_ms, const char **errstr_out);

/* Removes the lock file taken by uidmap_lock(). */
void	uidmap_unlock(int dirfd);

/*
 * Writes ents[0..n) (ascending uid, names without LF) and next to
 * tmp/pop3-handler-uidlist.<host>.<pid>, fsyncs it, renames it over the
 * state file and fsyncs the Maildir.  Call only with the lock held.
 * Returns 0, or -1 with a static reason in *errstr_out and errno; the old
 * state file is then unchanged.
 */
int	uidmap_save(int dirfd, const struct uidmap_entry *ents, size_t n,
	    uint64_t next, const char **errstr_out);

/* One message of cur/ as maildir.c lists it and uidmap_update() numbers it. */
struct uidmap_msg {
	const char	*name;		/* unique base name (before ':') */
	const char	*file;		/* file name in cur/ */
	size_t		 off;		/* maildir.c: where name is stored */
	const struct uidmap_entry *old;	/* its state-file record, or NULL */
	uint64_t	 tkey;		/* delivery time: leading digits */
	uint64_t	 size;		/* exact CRLF size */
	uint64_t	 rawsize;	/* st_size, when statted */
	uint64_t	 mtime;		/* st_mtim in ns, when statted */
	uint64_t	 uid;		/* 0: none */
	bool		 sized;
	bool		 statted;	/* rawsize and mtime valid */
	bool		 dirty;		/* sized by reading: to be cached */
	bool		 skip;		/* unreadable: not in the snapshot */
};

/* Delivery order (SPEC 5): tkey, then name by strcmp; for qsort. */
int	uidmap_cmp_delivery(const void *, const void *);

/*
 * Pure parsers of Maildir file names.  uidmap_name_wsize(): the CRLF size
 * from a ",W=<n>" field (SPEC 6); false when there is none that parses.
 * uidmap_name_time(): the leading decimal number (the delivery time),
 * saturating at UINT64_MAX, 0 when there is none.
 */
bool	 uidmap_name_wsize(const char *file, uint64_t *size_out);
uint64_t uidmap_name_time(const char *name);

/*
 * The UIDL string of a message into buf (size > UIDMAP_MAX_UIDL): counter
 * mode with a UID: its decimal; counter mode without a stored UID: "N" and
 * 16 hex digits of an FNV-1a hash of the name (never a decimal, so never
 * another message's UIDL); filename mode: the name if it is 1..70 octets of
 * 0x21-0x7e, else 16 hex digits of its FNV-1a hash.  Returns 0 or -1.
 */
int	 uidmap_uidl(const struct uidmap_msg *, bool counter, char *buf,
	    size_t size);

struct uidmap_update {
	struct uidmap_msg	*msgs;		/* by name, names unique */
	size_t			 count;
	const struct uidmap	*before;	/* read before listing cur/ */
	bool			 stable;	/* cur/ unchanged meanwhile */
	bool			 fresh;		/* no state file, cur/ empty */
	bool			 need_uid;	/* a message has no UID yet */
};

/*
 * Takes the lock (waiting only when need_uid), re-reads the state file
 * (now the authority), sets every message's uid from it, gives the others
 * the next UIDs in delivery order, and saves the records of the listed
 * messages with their sizes.  A missing file (unless fresh) or a corrupt
 * one is rebuilt above a time floor and logged ("uidlist rebuilt ...").
 * A record whose file is not listed is dropped only when it was in
 * *before and the listing was stable: readdir() may miss a file being
 * renamed, and a record added meanwhile may be a concurrent login's new
 * arrival.  next never goes down.  Returns 0 when saved, or -1 with a
 * static reason in *errstr_out (errno set); messages then keep only
 * UIDs that were already stored, others have uid 0.
 */
int	uidmap_update(int dirfd, struct uidmap_update *u,
	    const char **errstr_out);

#endif
