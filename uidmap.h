/*
 * uidmap.h: the UID state file of a Maildir (spec 6, C0007-C0009) and the
 * cache of exact CRLF sizes kept in it.
 *
 * <Maildir>/pop3-handler-uidlist is text, one record a line, written only
 * under the lock file and replaced by rename(2):
 *
 *	pop3-handler-uidlist 1 next=<N>[ cur=<M>]
 *	<uid> <size> <rawsize> <mtime> <name>[:<info>]
 *	...
 *
 * uid is the counter UID (1 <= uid < N, strictly ascending); size the CRLF
 * size (spec 6); rawsize and mtime (st_mtim in nanoseconds, modulo 2^64)
 * describe the file when size was computed (both 0 when size came from a
 * ",W=" field); name is the unique base name, and ":<info>" the rest of
 * the file's name in cur/ when the record was written (the flags, as in
 * "1700000000.M1P1.host:2,S"; a base name never holds ':').  The last
 * field is the rest of the line; it never holds LF.  Every number is
 * decimal.  A record without ":<info>" (written before info was kept) is
 * read as well.
 *
 * cur=<M> (optional, not 0) says that the records are exactly the
 * snapshot of cur/ as it was when its mtime (st_mtim in ns) was M: every
 * record is a listed, sized message, and every listed message has one.
 * The writer (uidmap_update()) states it only when its listing of cur/
 * was complete at M: M did not change while cur/ was read, and no later
 * change can leave it at M (on a local file system the coarse clock that
 * stamps mtimes had passed M when the listing began; elsewhere, NFS
 * included, M was two seconds old).  A login that finds cur/ at mtime M
 * after moving new/ (which changes it when there is mail) takes the
 * snapshot from the records and does not read cur/ at all.  Every
 * create, rename or unlink in cur/ changes its mtime, flag changes
 * included.
 *
 * Trusting the size cache (spec 6: a second login reads no message file,
 * and does not even stat one).  Maildir message files are immutable: a
 * writer that changes a message stores it under a new unique name, and
 * a ",S=" or ",W=" field is part of the base name.  So a listed file whose
 * whole name equals the record's name:info, seen by readdir() as a
 * regular file (d_type DT_REG), takes the cached size without fstatat().
 * When the flags differ (the file was renamed), or d_type is unknown,
 * the file is statted and the size is kept only when st_size and mtime
 * still equal rawsize and mtime; the record is then rewritten with the
 * new name.  Not detected, by design: content changed in place under an
 * unchanged name (no Maildir writer does that).
 *
 * Version 2 (written only when some message keeps an imported UIDL, so
 * every other Maildir keeps a version 1 file) adds one field before the
 * name:
 *
 *	pop3-handler-uidlist 2 next=<N>[ cur=<M>]
 *	<uid> <size> <rawsize> <mtime> <uidl> <name>
 *
 * uidl is "-" when the message shows its counter UID, or "+" and the UIDL
 * it keeps for good (1..70 octets of 0x21-0x7e), imported from the old
 * server (uidmap-import.h).  Collision rule: N is above every imported UIDL
 * that is a decimal number without leading zeros, so no counter UID ever
 * equals one; the parser enforces it (its next is at least that + 1).
 *
 * Version 3 (written only when the per-user policy of spec 4.3 has
 * something to keep, so every other Maildir keeps a version 1 or 2 file)
 * has version 2's records followed by typed lines that start with '@':
 *
 *	pop3-handler-uidlist 3 next=<N>[ cur=<M>]
 *	<uid> <size> <rawsize> <mtime> <-|+uidl> <name>
 *	@login <T>
 *	@retr <uid> <T>
 *
 * "@login": the last successful login (LOGIN-DELAY); "@retr": when the
 * record's message was first retrieved (EXPIRE), for a uid that a record
 * above has.  T is Unix time in seconds.  Forward tolerance: a file of
 * version 3 or later is read as version 3; header items after next= other
 * than cur= are ignored, and so are '@' lines of unknown types, '@' lines
 * that do not parse and "@retr" lines without their record.  So a later
 * version may add header items and '@' lines, never change a record line.
 * A version 1 or 2 binary reads a version 3 file as corrupt (a bad
 * header) and rebuilds it: UIDs renumbered above a time floor.
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
#define UIDMAP_MAX_NAME	255		/* a record's file name (NAME_MAX) */
/* Header lines (above) up to the "next" number. */
#define UIDMAP_HEADER	"pop3-handler-uidlist 1 next="
#define UIDMAP_HEADER2	"pop3-handler-uidlist 2 next="
#define UIDMAP_HEADER3	"pop3-handler-uidlist 3 next="

struct uidmap_entry {
	const char	*name;		/* NUL-terminated, inside the buffer */
	const char	*info;		/* after the name's ':', or NULL */
	const char	*uidl;		/* kept imported UIDL, or NULL */
	uint64_t	 uid;		/* 0: an import not yet numbered */
	uint64_t	 seq;		/* import: position in the source */
	uint64_t	 size;		/* exact CRLF size */
	uint64_t	 rawsize;	/* st_size when sized by reading */
	uint64_t	 mtime;		/* its st_mtim in ns, likewise */
	uint64_t	 retr;		/* v3 "@retr": first retrieval
					   (Unix s), 0: not recorded */
};

enum uidmap_status {
	UIDMAP_OK,
	UIDMAP_MISSING,			/* no state file */
	UIDMAP_CORRUPT,			/* unparseable: rebuild (spec 6) */
};

/* Where the first login of a Maildir without a state file takes UIDLs. */
enum uidmap_import {
	UIDMAP_IMPORT_AUTO,		/* dovecot-uidlist, else Courier's */
	UIDMAP_IMPORT_DOVECOT,		/* dovecot-uidlist only */
	UIDMAP_IMPORT_COURIER,		/* courierpop3dsizelist only */
	UIDMAP_IMPORT_FILENAME,		/* base names, as uidl = filename */
	UIDMAP_IMPORT_NONE,
};

struct uidmap {
	enum uidmap_status	 status;
	const char		*why;		/* static text when CORRUPT */
	uint64_t		 next;		/* next UID to hand out */
	struct uidmap_entry	*ents;		/* OK: file order (ascending
						   uid); imports: by name */
	size_t			 count;
	char			*buf;		/* names point here: the records'
						   strings (uidmap_load()), or
						   an imported file */
	size_t			 imported;	/* MISSING: pending imports */
	const char		*source;	/* their file, static text */
	char			*extra;		/* UIDLs made by the import */
	uint64_t		 cur_mtime;	/* header cur=, 0 when absent */
	uint64_t		 last_login;	/* v3 "@login" (Unix s), or 0 */
	uint32_t		*slots;		/* uidmap_find()'s hash index */
	size_t			 mask;		/* slots - 1, a power of 2 */
	unsigned int		 shift;		/* bits of a slot's index */
	uint64_t		 seed;		/* its random hash key */
};

/*
 * Pure parser of a whole state file in buf[0..len) (buf[len] must be
 * writable: it becomes NUL).  Separators are overwritten with NUL in place
 * so names need no allocation.  m->ents must hold cap entries (cap = the
 * number of LF in buf is enough).  Sets m->ents[0..m->count) in file
 * order and m->next, and returns 0.  On a malformed file returns -1 with
 * the first reason in m->why; m->next is then still a safe floor: above
 * the header's next= and every UID seen on a readable line.  Malformed
 * includes a NUL octet anywhere, and two records that show one UIDL (two
 * kept "+X", or a kept "+X" equal to the UID of a "-" record, spec 6);
 * checking that reorders m->ents and restores file order.
 */
int	uidmap_parse(char *buf, size_t len, struct uidmap *m, size_t cap);

/*
 * uidmap_parse() a line at a time, for a reader that does not hold the
 * whole file (uidmap_load()): start, then every complete line (its LF
 * replaced by NUL, len octets before it) in file order, then end with
 * truncated true when octets followed the last LF.  uidmap_parse_line()
 * returns 1 when the line became m->ents[ps->n - 1] (its name, info and
 * uidl point into the line: the caller copies them before the line's
 * storage is reused), else 0; m->ents must hold cap entries.
 * uidmap_parse_end() returns what uidmap_parse() would.
 */
struct uidmap_pstate {
	const char	*why;		/* the first reason, or NULL */
	uint64_t	 hnext;		/* the header's next= */
	uint64_t	 floor;		/* the safe next UID so far */
	uint64_t	 last;		/* the last record's UID */
	uint64_t	 cur;		/* the header's cur= */
	uint64_t	 login;		/* "@login" */
	size_t		 n;		/* records in m->ents */
	int		 ver;
	bool		 header;	/* the header line was seen */
};
void	uidmap_parse_start(struct uidmap_pstate *ps, struct uidmap *m);
int	uidmap_parse_line(struct uidmap_pstate *ps, char *line, size_t len,
	    struct uidmap *m, size_t cap);
int	uidmap_parse_end(struct uidmap_pstate *ps, struct uidmap *m,
	    bool truncated);

/*
 * Reads <dirfd>/pop3-handler-uidlist (O_NOFOLLOW, at most UIDMAP_MAX_FILE
 * octets, a 64 KiB chunk at a time: m->buf keeps only the records'
 * names, infos and kept UIDLs) into *m: status OK with entries in file
 * order (ascending UID), MISSING (next 1), or CORRUPT (no entries, next
 * the parser's floor; a duplicate name or a non-regular file is corrupt
 * too).  When the file
 * is MISSING and the import setting mode (uidl-import; NONE: never)
 * finds the old server's file (uidmap-import.h), the entries are that
 * file's UIDLs, pending: uid 0, uidl set, m->imported of them, next above their numeric UIDLs; a login
 * then has no UID for them and numbers them under the lock, so the state
 * file keeps them for good.
 * Returns -1 with errno only when a file exists but cannot be read
 * (EACCES, EIO, ENOMEM): the caller must not rebuild then.  Free with
 * uidmap_free() in every case.
 */
int	uidmap_load(int dirfd, enum uidmap_import mode, struct uidmap *m);

#ifdef POP3_FUZZ
/*
 * Fuzz and replay builds only (-DPOP3_FUZZ, fuzz/fuzz_uidload.c): when
 * not 0, uidmap_load()'s first buffer size and largest read, in place of
 * 64 KiB.  The production build has no such variable.
 */
extern size_t	uidmap_fuzz_chunk;
#endif

/*
 * True when s is a decimal number without sign or leading zero that fits
 * in 64 bits, i.e. a string some counter UID could print as; its value
 * goes to *v_out.  The collision rule (above) is built on it.
 */
bool	uidmap_uidl_numeric(const char *s, uint64_t *v_out);

/* True when s is a valid RFC 1939 UIDL: 1..70 octets of 0x21-0x7e. */
bool	uidmap_uidl_valid(const char *s, size_t len);

/*
 * The UIDL that uidl = filename gives the base name: the name itself if
 * valid, else 16 hex digits of its FNV-1a hash.  buf holds at least
 * UIDMAP_MAX_UIDL + 1 octets.
 */
void	uidmap_uidl_filename(const char *name, char *buf, size_t size);

/*
 * Entry for a base name, or NULL, through a hash index with a random key
 * (names are the user's: no crafted set of names collides on purpose).
 * The map must come from uidmap_load().
 */
const struct uidmap_entry *uidmap_find(const struct uidmap *, const char *);

/* Frees what uidmap_load() allocated; *m may then be loaded again. */
void	uidmap_free(struct uidmap *m);

/*
 * Takes the NFS-safe lock: creates pop3-handler-uidlist.lock with O_EXCL
 * holding "<host> <pid> <pid namespace>", removes a lock older than
 * UIDMAP_LOCK_STALE seconds, or at once one of this host and pid
 * namespace whose process is gone (kill(pid, 0) fails with ESRCH: a
 * handler killed while holding it), and retries with backoff for up to
 * wait_ms.  A lock of another host is broken by age only (NFS).  Returns 0 when
 * held, or -1 with a static reason in *errstr_out and errno (EWOULDBLOCK
 * when the lock stayed busy).
 */
int	uidmap_lock(int dirfd, unsigned int wait_ms, const char **errstr_out);

/* Removes the lock file taken by uidmap_lock(). */
void	uidmap_unlock(int dirfd);

/*
 * Writes ents[0..n) (ascending uid, names and infos without LF), next,
 * cur_mtime (the header's cur=, left out when 0), login (the "@login"
 * line, left out when 0) and the records' retr ("@retr") to
 * tmp/pop3-handler-uidlist.<host>.<pid>, fsyncs it, renames it over the
 * state file and fsyncs the Maildir.  Call only with the lock held.
 * Returns 0, or -1 with a static reason in *errstr_out and errno; the old
 * state file is then unchanged.
 */
int	uidmap_save(int dirfd, const struct uidmap_entry *ents, size_t n,
	    uint64_t next, uint64_t cur_mtime, uint64_t login,
	    const char **errstr_out);

/*
 * spec 4.3 LOGIN-DELAY, for maildir_open() before it changes anything:
 * under the state file's lock, a login sooner than delay seconds after
 * the "@login" time is refused (returns 1, *last_out the previous login);
 * otherwise the file gets "@login now" and 0 is returned.  When the file
 * is missing or corrupt nothing is written and *later_out is set: the
 * login's own update of the state file must store now
 * (uidmap_update()'s login).  A lock or write failure is logged and the
 * login allowed (returns 0): a broken state file must not lock a user
 * out.  A previous login more than delay seconds in the future (a clock
 * stepped back) does not refuse.
 */
int	uidmap_login_gate(int dirfd, uint32_t delay, uint64_t now,
	    uint64_t *last_out, bool *later_out);

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
	bool		 statted;	/* rawsize and mtime valid (from
					   fstat or the trusted record) */
	bool		 dirty;		/* sized by reading, or renamed:
					   its record is to be rewritten */
	bool		 skip;		/* unreadable: not in the snapshot */
	bool		 uidl_name;	/* shows the filename-style UIDL kept
					   by uidl-import = filename */
};

/* Delivery order (spec 5): tkey, then name by strcmp; for qsort. */
int	uidmap_cmp_delivery(const void *, const void *);

/* Records (struct uidmap_entry) by UID ascending; for qsort. */
int	uidmap_cmp_uid(const void *, const void *);

/*
 * Pure parsers of Maildir file names.  uidmap_name_wsize(): the CRLF size
 * from a ",W=<n>" field (spec 6); false when there is none that parses.
 * uidmap_name_time(): the leading decimal number (the delivery time),
 * saturating at UINT64_MAX, 0 when there is none.
 */
bool	 uidmap_name_wsize(const char *file, uint64_t *size_out);
uint64_t uidmap_name_time(const char *name);

/*
 * The UIDL string of a message into buf (size > UIDMAP_MAX_UIDL): counter
 * mode: the imported UIDL its record keeps (old->uidl, or uidl_name), else
 * with a UID its decimal, else "N" and 16 hex digits of an FNV-1a hash of
 * the name (never a decimal, so never another message's UIDL); filename
 * mode: the name if it is 1..70 octets of 0x21-0x7e, else 16 hex digits
 * of its FNV-1a hash.  Returns 0 or -1.
 */
int	 uidmap_uidl(const struct uidmap_msg *, bool counter, char *buf,
	    size_t size);

struct uidmap_update {
	struct uidmap_msg	*msgs;		/* names unique, any order */
	size_t			 count;
	const struct uidmap	*before;	/* read before listing cur/ */
	bool			 stable;	/* cur/ unchanged meanwhile */
	uint64_t		 cur_mtime;	/* cur/'s mtime, the listing
						   complete (cur=), or 0 */
	bool			 fresh;		/* no state file, cur/ empty */
	bool			 need_uid;	/* a message has no UID yet */
	uint64_t		 login;		/* not 0: the "@login" to save
						   (else the file's is kept) */
	bool			 drop_login;	/* no delay: drop "@login" */
	bool			 drop_retr;	/* EXPIRE off: no "@retr" */
	enum uidmap_import	 import;	/* the uidl-import setting */
};

/*
 * Takes the lock (waiting only when need_uid), re-reads the state file
 * (now the authority), sets every message's uid from it, gives the others
 * the next UIDs in delivery order, and saves the records of the listed
 * messages with their sizes.  A missing file (unless fresh) or a corrupt
 * one is rebuilt above a time floor and logged ("uidlist rebuilt ...").
 * A missing file with pending imports (uidmap_load() with u->import),
 * or with u->import FILENAME, is an import: the imported UIDLs are numbered first
 * in their source's order, kept in the records, and logged ("uidlist
 * imported ...").  The records keep their "@retr" times unless
 * drop_retr, and the file its "@login" unless u->login replaces it or
 * drop_login.  Afterwards old points into *before (or is NULL), never
 * into the re-read file, so it stays valid as long as *before.
 * A record whose file is not listed is dropped only when it was in
 * *before and the listing was stable: readdir() may miss a file being
 * renamed, and a record added meanwhile may be a concurrent login's new
 * arrival.  The header gets cur=<cur_mtime> when the records saved are
 * exactly the listed messages.  next never goes down.  Returns 0 when
 * saved, or -1 with a static reason in *errstr_out (errno set); messages
 * then keep only UIDs that were already stored, others have uid 0.
 */
int	uidmap_update(int dirfd, struct uidmap_update *u,
	    const char **errstr_out);

#endif
