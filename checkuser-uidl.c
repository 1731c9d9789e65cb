/*
 * checkuser-uidl.c: the UIDL preview of --check-user (spec 1, 6, C0009):
 * one "uidl-list: <n> <uidl>" line per message, in the order and with the
 * UIDLs a login would show now, before a migration as after it.  It reads
 * storage through its read-only calls (uidmap_load(), uidmap_find(),
 * uidmap_uidl()) and writes nothing: no state file, no lock, no move of
 * new/.
 *
 * Everything it lists is the user's: entries count only when fstatat()
 * without following links says they are regular files, and names are
 * only compared and printed as UIDLs, never used as paths.
 */
#include <sys/stat.h>
#include <sys/types.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "checkuser.h"
#include "uidmap.h"
#include "util.h"

/* The preview: one message of new/ or cur/. */
struct pmsg {
	char		*name;
	uint64_t	 tkey;
	const struct uidmap_entry *rec;
};

static int
pmsg_cmp_delivery(const void *a, const void *b)
{
	const struct pmsg *x = a, *y = b;

	if (x->tkey != y->tkey)
		return x->tkey < y->tkey ? -1 : 1;
	return strcmp(x->name, y->name);
}

static int
pmsg_cmp_name(const void *a, const void *b)
{
	return strcmp(((const struct pmsg *)a)->name,
	    ((const struct pmsg *)b)->name);
}

/*
 * Login order: stored UIDs ascending, then pending imports by (seq,
 * name), then the rest in delivery order.
 */
static int
pmsg_cmp_login(const void *a, const void *b)
{
	const struct pmsg *x = a, *y = b;
	int rx, ry;

	rx = x->rec == NULL ? 2 : x->rec->uid == 0 ? 1 : 0;
	ry = y->rec == NULL ? 2 : y->rec->uid == 0 ? 1 : 0;
	if (rx != ry)
		return rx - ry;
	if (rx == 0)
		return x->rec->uid < y->rec->uid ? -1 : 1;
	if (rx == 1 && x->rec->seq != y->rec->seq)
		return x->rec->seq < y->rec->seq ? -1 : 1;
	return pmsg_cmp_delivery(a, b);
}

/*
 * Adds the base names of the regular non-dot files of sub/.  gcc 12's
 * analyzer loses track of a pointer stored into a grown array and calls
 * it leaked; the array owns it and its owner frees it.
 */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wanalyzer-malloc-leak"
static int
list_sub(int mdfd, const char *sub, struct pmsg **v, size_t *n, size_t *cap,
    bool *any_out)
{
	struct dirent	*de;
	struct stat	 sb;
	struct pmsg	*p;
	char		*name;
	DIR		*d;
	int		 fd;

	if ((fd = openat(mdfd, sub, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC)) == -1)
		return errno == ENOENT ? 0 : -1;
	if ((d = fdopendir(fd)) == NULL) {
		(void)close(fd);
		return -1;
	}
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.' || fstatat(fd, de->d_name, &sb,
		    AT_SYMLINK_NOFOLLOW) == -1 || !S_ISREG(sb.st_mode))
			continue;
		if (*n == *cap) {
			*cap = *cap == 0 ? 256 : *cap * 2;
			if ((p = reallocarray(*v, *cap, sizeof(**v))) == NULL)
				goto fail;
			*v = p;
		}
		if ((name = strdup(de->d_name)) == NULL)
			goto fail;
		(*v)[*n].name = name;
		name[strcspn(name, ":")] = '\0';	/* the base name */
		(*v)[*n].tkey = uidmap_name_time((*v)[*n].name);
		(*v)[*n].rec = NULL;
		(*n)++;
		*any_out = true;
	}
	(void)closedir(d);
	return 0;
 fail:
	(void)closedir(d);
	errno = ENOMEM;
	return -1;
}
#pragma GCC diagnostic pop

/*
 * Keeps the first of each base name (a login keeps one file per name)
 * and finds each one's record in m.  Returns the number kept.
 */
static size_t
match_records(struct pmsg *v, size_t n, const struct uidmap *m)
{
	size_t	 i, k;

	if (n > 1)
		qsort(v, n, sizeof(*v), pmsg_cmp_name);
	for (i = k = 0; i < n; i++) {
		if (k > 0 && strcmp(v[k - 1].name, v[i].name) == 0) {
			free(v[i].name);
			continue;
		}
		v[k] = v[i];
		v[k].rec = m->status == UIDMAP_CORRUPT ? NULL :
		    uidmap_find(m, v[k].name);
		k++;
	}
	return k;
}

long
checkuser_uidl_preview(int mdfd, bool counter, enum uidmap_import mode,
    FILE *f)
{
	struct uidmap		 m;
	struct uidmap_msg	 um;
	struct pmsg		*v = NULL;
	char			 uidl[UIDMAP_MAX_UIDL + 1];
	size_t			 n = 0, cap = 0, i, k;
	uint64_t		 next;
	bool			 in_cur = false, in_new = false, known;
	bool			 by_name;
	long			 rv = -1;

	memset(&m, 0, sizeof(m));
	if (list_sub(mdfd, "cur", &v, &n, &cap, &in_cur) == -1 ||
	    list_sub(mdfd, "new", &v, &n, &cap, &in_new) == -1 ||
	    uidmap_load(mdfd, mode, &m) == -1)
		goto done;
	n = match_records(v, n, &m);
	if (n > 1)
		qsort(v, n, sizeof(*v), counter ? pmsg_cmp_login :
		    pmsg_cmp_delivery);
	/*
	 * Counter UIDs are certain only from a good state file, or for a
	 * Maildir whose cur/ is empty (fresh: counting starts at next).
	 */
	next = m.next;
	known = m.status == UIDMAP_OK ||
	    (m.status == UIDMAP_MISSING && !in_cur);
	if (m.status == UIDMAP_MISSING) {
		/* Imports take UIDs 1..k; the counter goes on above. */
		for (i = k = 0; i < n; i++)
			if (v[i].rec != NULL && v[i].rec->uid == 0)
				k++;
		if (k > 0 && next <= k)
			next = k + 1;
	}
	by_name = m.status == UIDMAP_MISSING && m.imported == 0 &&
	    mode == UIDMAP_IMPORT_FILENAME;
	for (i = 0; i < n; i++) {
		memset(&um, 0, sizeof(um));
		um.name = v[i].name;
		um.old = v[i].rec;
		um.uid = v[i].rec != NULL ? v[i].rec->uid : 0;
		um.uidl_name = by_name;
		if (counter && um.uid == 0 && (um.old == NULL ||
		    um.old->uidl == NULL) && !by_name) {
			if (known)
				fprintf(f, "uidl-list: %zu %" PRIu64 "\n",
				    i + 1, next++);
			else
				fprintf(f, "uidl-list: %zu (new)\n", i + 1);
			continue;
		}
		if (uidmap_uidl(&um, counter, uidl, sizeof(uidl)) == -1)
			(void)strlcpy_(uidl, "?", sizeof(uidl));
		fprintf(f, "uidl-list: %zu %s\n", i + 1, uidl);
	}
	rv = (long)n;
 done:
	for (i = 0; i < n; i++)
		free(v[i].name);
	free(v);
	uidmap_free(&m);
	return rv;
}
