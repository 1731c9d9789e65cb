/*
 * maildir-update.c: UPDATE (spec 5) and its crash safety: the marked base names go
 * to an intent list (maildir-update.h) that is durable before the first unlink
 * and removed after the last one, and update_recover(), which
 * maildir_open() runs before the listing, finishes a list that a dead
 * session left.  The snapshot, the listing and the sizes are maildir.c's.
 *
 * It runs as the user and trusts nothing in the Maildir: only names on
 * complete lines of a well-formed list are acted on, only regular files
 * with exactly such a base name are removed, and a list is opened like a
 * message (O_NOFOLLOW, regular file only).  It never removes an unmarked
 * message and writes no protocol replies; failures are logged.
 */
#include <sys/stat.h>
#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#ifdef POP3_FAULT_INJECTION
#include <signal.h>
#endif

#include "log.h"
#include "maildir-file.h"
#include "maildir-int.h"
#include "maildir-update.h"
#include "maildir.h"
#include "util.h"

#define LIST_NAME	128		/* pop3-handler-update.<host>.<pid> */
#define LIST_LINE	512		/* a base name is at most NAME_MAX */

#ifdef POP3_FAULT_INJECTION
/*
 * Test builds only (make build/fault/pop3-handler): POP3_FAULT=<point>
 * kills the process at that point of UPDATE, as a crash or kill -9 would.
 */
void
fault_point(const char *point)
{
	const char	*f = getenv("POP3_FAULT");

	if (f != NULL && strcmp(f, point) == 0)
		(void)raise(SIGKILL);
}
#endif

/* What write_list() writes: the marked messages of the snapshot. */
struct list_arg {
	const struct snapshot	*s;
	unsigned int		 marked;
};

/* The intent list's text (maildir-update.h). */
static void
list_text(struct mfile_out *w, const void *arg)
{
	const struct list_arg	*a = arg;
	size_t			 i;

	mfile_put(w, UPDATE_LIST " 1 ", sizeof(UPDATE_LIST " 1 ") - 1);
	mfile_num(w, a->marked, '\n');
	for (i = 0; i < a->s->count; i++)
		if (a->s->msgs[i].deleted) {
			mfile_put(w, a->s->msgs[i].name,
			    strlen(a->s->msgs[i].name));
			mfile_put(w, "\n", 1);
		}
}

/*
 * spec 5: the intent list, complete or absent, under name
 * ("pop3-handler-update.<host>.<pid>": one list per process, 2.1.3).
 * Written to tmp/, fsynced, renamed into the Maildir, and the Maildir
 * fsynced, all before the first unlink (maildir-file.h).  Returns 0 when
 * the list is in place, or -1 with errno and a static reason in
 * *errstr_out; no list is left behind then.
 */
static int
write_list(struct snapshot *s, unsigned int marked, const char *name,
    const char **errstr_out)
{
	struct list_arg	 a = { s, marked };
	int		 r, saved;

	if ((r = mfile_replace(s->dirfd, name, UPDATE_LIST, list_text, &a,
	    errstr_out)) == -2) {
		saved = errno;
		(void)unlinkat(s->dirfd, name, 0);	/* not durable */
		errno = saved;
	}
	return r == 0 ? 0 : -1;
}

/* Removes a list whose work is done; the next login redoes it if not. */
static void
remove_list(int dirfd, const char *name)
{
	if (unlinkat(dirfd, name, 0) == -1 && errno != ENOENT) {
		log_warn("cannot remove the UPDATE list %s", name);
		return;
	}
	if (fsync(dirfd) == -1 && errno != EINVAL)
		log_warn("cannot fsync the Maildir");
}

/* One marked message: 0 removed or already gone, -1 failed (logged). */
static int
remove_msg(struct snap_priv *sp, const struct msg *m, struct dirindex *ix,
    bool *indexed)
{
	char		 fbuf[MDIR_FILE_MAX];
	const char	*found, *file = mdir_msg_file(m, fbuf, sizeof(fbuf));

	if (unlinkat(sp->curfd, file, 0) == 0)
		return 0;
	if (errno == ENOENT) {
		/* Renamed meanwhile (flags): found by its base name. */
		if (!*indexed)
			*indexed = mdir_index_dir(sp->curfd, ix) == 0;
		found = *indexed ? mdir_index_find(ix, m->name) : NULL;
		if (found == NULL || unlinkat(sp->curfd, found, 0) == 0 ||
		    errno == ENOENT)
			return 0;
	}
	log_warn("cannot remove cur/%s", file);
	return -1;
}

/*
 * spec 5: UPDATE.  ENOENT counts as removed; unmarked files are kept.
 * Order for crash safety: list durable, unlinks, cur/ fsynced, list gone.
 */
int
update_apply(struct snapshot *s, unsigned int *marked_out,
    unsigned int *failed_out)
{
	struct snap_priv	*sp = (struct snap_priv *)s;
	struct dirindex		 ix = { NULL, 0 };
	char			 name[LIST_NAME];
	const char		*err = "name too long";
	unsigned int		 marked = 0, failed = 0, gone = 0;
	size_t			 i;
	bool			 indexed = false, listed = false;

	for (i = 0; i < s->count; i++)
		if (s->msgs[i].deleted)
			marked++;
	*marked_out = marked;
	*failed_out = 0;
	if (marked == 0)
		return 0;
	if (mfile_name(name, sizeof(name), UPDATE_LIST) == 0 &&
	    write_list(s, marked, name, &err) == 0)
		listed = true;
	else
		log_warn("UPDATE list not written (%s); removing the %u "
		    "marked messages without it", err, marked);
	fault_point("update-after-list");
	for (i = 0; i < s->count; i++) {
		if (!s->msgs[i].deleted)
			continue;
		if (remove_msg(sp, &s->msgs[i], &ix, &indexed) == -1) {
			failed++;
			continue;
		}
		if (gone++ == 0)
			fault_point("update-after-first-unlink");
	}
	if (indexed)
		mdir_index_free(&ix);
	/* "+OK" promises the messages are gone, on disk too. */
	if (fsync(sp->curfd) == -1 && errno != EINVAL)
		log_warn("cannot fsync cur/");
	fault_point("update-before-list-removal");
	if (listed)
		remove_list(s->dirfd, name);
	*failed_out = failed;
	return failed == 0 ? 0 : -1;
}

/*
 * spec 5: the line's base name, if it may be one: 1..255 octets, no NUL,
 * '/', ':' or LF, not starting with '.'.
 */
static bool
list_name_ok(const char *line, size_t len)
{
	return len > 0 && len <= 255 && line[0] != '.' &&
	    strlen(line) == len && strchr(line, '/') == NULL &&
	    strchr(line, ':') == NULL;
}

/* Header "pop3-handler-update 1 <count>": 0 and the count, or -1. */
static int
list_header(const char *line, uint64_t *count_out)
{
	static const char	 magic[] = UPDATE_LIST " 1 ";

	if (strncmp(line, magic, sizeof(magic) - 1) != 0)
		return -1;
	return parse_u64(line + sizeof(magic) - 1, count_out) == NUM_OK ?
	    0 : -1;
}

/*
 * Removes the regular files of cur/ and new/ whose base name is exactly
 * base.  Adds to *removed; returns -1 when one could not be removed.
 */
static int
remove_listed(struct snap_priv *sp, const char *base,
    const struct dirindex *ix, uint64_t *removed, bool *touched)
{
	struct stat	 st;
	const char	*found;
	int		 k, dfd, rv = 0;

	for (k = 0; k < 2; k++) {
		dfd = k == 0 ? sp->curfd : sp->newfd;
		if (dfd < 0 || (found = mdir_index_find(&ix[k], base)) == NULL)
			continue;
		if (fstatat(dfd, found, &st, AT_SYMLINK_NOFOLLOW) == -1 ||
		    !S_ISREG(st.st_mode))
			continue;
		if (unlinkat(dfd, found, 0) == -1 && errno != ENOENT) {
			log_warn("cannot remove %s/%s", k == 0 ? "cur" : "new",
			    found);
			rv = -1;
			continue;
		}
		touched[k] = true;
		(*removed)++;
	}
	return rv;
}

/*
 * Finishes one list left by a dead session.  Only complete lines count: a
 * list cut short (it is renamed into place whole, so only a hand edit or
 * a damaged disk does that) loses its last, partial line, which may be a
 * prefix of an unmarked message's name.  A list without a valid header
 * removes nothing.  The list goes once all its messages are gone.
 */
static void
finish_list(struct snap_priv *sp, const char *list, const struct dirindex *ix)
{
	char		 line[LIST_LINE], buf[4096];
	uint64_t	 want = 0, seen = 0, removed = 0, bad = 0;
	size_t		 ll = 0;
	ssize_t		 r, k;
	struct stat	 sb;
	int		 fd, failed = 0;
	bool		 header = false, toolong = false, badhdr = false;
	bool		 touched[2] = { false, false };

	if ((fd = mdir_open_msg(sp->pub.dirfd, list, &sb)) == -1) {
		if (errno != ENOENT)
			log_warn("cannot open the UPDATE list %s", list);
		return;
	}
	while (!badhdr && seen + bad < MAX_MSGS) {
		if ((r = read(fd, buf, sizeof(buf))) == -1 && errno == EINTR)
			continue;
		if (r == -1) {
			log_warn("cannot read the UPDATE list %s", list);
			(void)close(fd);
			return;
		}
		if (r == 0)
			break;
		for (k = 0; k < r && !badhdr; k++) {
			if (buf[k] != '\n') {
				if (ll < sizeof(line) - 1)
					line[ll++] = buf[k];
				else
					toolong = true;
				continue;
			}
			line[ll] = '\0';
			if (!header) {
				header = true;
				badhdr = toolong || list_header(line, &want)
				    == -1;
			} else if (toolong || !list_name_ok(line, ll))
				bad++;
			else {
				seen++;
				if (remove_listed(sp, line, ix, &removed,
				    touched) == -1)
					failed = 1;
			}
			ll = 0;
			toolong = false;
		}
	}
	(void)close(fd);
	if (!header || badhdr) {
		log_warnx("%s is not an UPDATE list; removed without acting "
		    "on it", list);
		remove_list(sp->pub.dirfd, list);
		return;
	}
	if ((touched[0] && fsync(sp->curfd) == -1 && errno != EINVAL) ||
	    (touched[1] && fsync(sp->newfd) == -1 && errno != EINVAL))
		failed = 1;
	if (ll > 0 || toolong || seen + bad != want)
		log_warnx("UPDATE list %s is damaged: %llu of %llu names "
		    "readable; only those are acted on", list,
		    (unsigned long long)seen, (unsigned long long)want);
	if (failed) {
		log_warnx("interrupted UPDATE not finished (%s kept): %llu "
		    "removed", list, (unsigned long long)removed);
		return;
	}
	log_info("finished an interrupted UPDATE (%s): %llu of %llu listed "
	    "messages removed", list, (unsigned long long)removed,
	    (unsigned long long)seen);
	remove_list(sp->pub.dirfd, list);
}

/* spec 5: before the listing, finish what dead sessions left undone. */
void
update_recover(struct snap_priv *sp)
{
	static const char	 prefix[] = UPDATE_LIST ".";
	struct dirindex		 root, ix[2];
	size_t			 i;
	bool			 indexed = false;

	if (mdir_index_dir(sp->pub.dirfd, &root) == -1) {
		log_warn("cannot read the Maildir for UPDATE lists");
		return;
	}
	for (i = 0; i < root.n; i++) {
		if (strncmp(root.names[i], prefix, sizeof(prefix) - 1) != 0)
			continue;
		if (!indexed) {
			if (mdir_index_dir(sp->curfd, &ix[0]) == -1) {
				log_warn("cannot read cur/; UPDATE list %s "
				    "kept", root.names[i]);
				break;
			}
			if (mdir_index_dir(sp->newfd, &ix[1]) == -1 &&
			    sp->newfd >= 0) {
				mdir_index_free(&ix[0]);
				log_warn("cannot read new/; UPDATE list %s "
				    "kept", root.names[i]);
				break;
			}
			indexed = true;
		}
		finish_list(sp, root.names[i], ix);
	}
	if (indexed) {
		mdir_index_free(&ix[0]);
		mdir_index_free(&ix[1]);
	}
	mdir_index_free(&root);
}
