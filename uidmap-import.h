/*
 * uidmap-import.h: UIDLs of the server a Maildir migrates from (spec 6,
 * C0009), read on the first login of a Maildir without a state file.
 *
 * Sources (uidl-import = auto tries Dovecot, then Courier):
 *
 *	dovecot-uidlist		versions 1, 2 and 3.  A record's explicit
 *				POP3 UIDL (the 'P' field of version 3) wins;
 *				else Dovecot's default pop3_uidl_format
 *				%08Xu%08Xv: the record's UID and the header's
 *				UIDVALIDITY, 8 hex digits each (Dovecot's
 *				%X prints lower case).
 *	courierpop3dsizelist	"/<2|3> <nextuid> [<uidv>]", then
 *				"<file> <size> <n>:<uidv>[:<utf8>]" lines;
 *				UIDL "UID<n>-<uidv>" ("UID<n>" when uidv is
 *				0), or for n 0 the file's base name with
 *				octets outside 0x21-0x7e and ' " + written
 *				as +XX, as Courier's pop3d prints them.
 *	base names		uidl-import = filename: done by uidmap.c from
 *				the listing (uidmap_uidl_filename()).
 *
 * Each parser is pure: it overwrites separators in buf with NUL, points
 * names into buf and UIDLs into buf or m->extra (allocated here), and
 * never trusts a length or a number it reads.  A UIDL outside RFC 1939
 * (1..70 octets of 0x21-0x7e) is not imported; of two records with one
 * base name or one UIDL the first in the source is kept.
 */
#ifndef UIDMAP_IMPORT_H
#define UIDMAP_IMPORT_H

#include <stdbool.h>
#include <stddef.h>

#include "uidmap.h"

#define UIDIMPORT_DOVECOT	"dovecot-uidlist"
#define UIDIMPORT_COURIER	"courierpop3dsizelist"

/*
 * Parse buf[0..len) (buf[len] writable) into m->ents (room for cap, the
 * number of LF is enough): uid 0, uidl, name, and seq (the Dovecot UID,
 * or for Courier the delivery time of the name, so that numbering by
 * (seq, name) gives the old server's message order).  Returns the number
 * of records left out, or -1 with a static reason in m->why when the
 * file cannot be used at all (unknown header, no UIDVALIDITY, no memory).
 */
int	uidimport_parse_dovecot(char *buf, size_t len, struct uidmap *m,
	    size_t cap);
int	uidimport_parse_courier(char *buf, size_t len, struct uidmap *m,
	    size_t cap);

/*
 * For uidmap_load() on a MISSING state file: reads the source the mode
 * names from the Maildir dirfd (O_NOFOLLOW, a regular file of at most
 * UIDMAP_MAX_FILE octets) into *m as pending imports (see uidmap_load()),
 * sorted by name, m->next above every numeric UIDL.  Finding nothing
 * usable is not an error (m->imported 0).  Returns -1 with errno only
 * when a source exists but cannot be read: the login must fail then
 * rather than hand out new UIDLs for good.
 */
int	uidimport_load(int dirfd, enum uidmap_import mode, struct uidmap *m);

#endif
