/*
 * auth.c: the passwd file, password verification, SASL PLAIN decoding and
 * the privilege drop (SPEC 4).
 *
 * This code runs before authentication, usually as the service account and
 * sometimes as root (passwd files that name uids).  It trusts neither the
 * client nor the passwd file: lines are bounded (AUTH_MAX_LINE), every
 * field is checked, a bad line is logged by number (never its hash) and
 * skipped, and the file is opened with O_NOFOLLOW and read fresh by every
 * process.  Passwords and decoded SASL blobs are cleared with
 * explicit_bzero() on every path.  An unknown user, a locked account and a
 * password that can never match still pay for one crypt_r() call, so the
 * answer time does not tell them apart from a wrong password.
 *
 * One deliberate exception to STYLE 3.2: cost_hash below is file-scope
 * mutable state.  auth_lookup() keeps the first usable hash of the passwd
 * file there, and auth_verify(NULL) then runs crypt_r() at that hash's
 * cost.  With a fixed dummy alone, an unknown user would answer 15 times
 * faster than a known one in a $y$ file (SPEC 4: the same cost).
 *
 * Nothing here writes protocol replies; results go back to session.c.
 * auth_become_user() is the only function that changes credentials.
 */
/* GNU: setresuid(), setresgid(), getresuid(), getresgid(). */
#define _GNU_SOURCE
#include <sys/types.h>
#include <sys/stat.h>

#include <crypt.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "auth.h"
#include "log.h"
#include "util.h"

#define AUTH_MAX_LINE	8192	/* one passwd line incl. LF; longer: bad */
#define AUTH_NFIELDS	7	/* user:hash:uid:gid:gecos:home:extra */

/*
 * The hash verified for unknown users and accounts without a usable hash:
 * SHA-512 crypt with the default 5000 rounds, the cost of the passwd
 * lines the test suite and `openssl passwd -6` write.  The password behind
 * it was random and thrown away.
 */
static const char dummy_hash[] =
    "$6$CgecjuvYFJSMK3z$rdtaYRP5hqRzqddVe9Fpxly7SYQe/9fYCkQt9P9O4iwi6KGN"
    "mrnfNSKNUodKRC8Ha7l17hZ.J9PxHm8FWwHQK/";

/* The first usable hash auth_lookup() saw; empty: use dummy_hash. */
static char cost_hash[AUTH_MAX_HASH];

/* {SCHEME} prefixes of the crypt family, stripped before crypt_r(). */
static const char *const crypt_schemes[] = {
	"{CRYPT}", "{SHA512-CRYPT}", "{SHA256-CRYPT}", "{BLF-CRYPT}",
	"{MD5-CRYPT}", NULL
};

const char auth_err_authzid[] = "authorization identity differs";

/* A passwd file read one bounded line at a time. */
struct lreader {
	int		 fd;
	bool		 eof;
	size_t		 off;		/* start of unread data in buf */
	size_t		 len;		/* end of data in buf */
	unsigned long	 lineno;
	char		 buf[AUTH_MAX_LINE];
};

enum { LR_EOF, LR_LINE, LR_TOOLONG, LR_ERROR };

bool
auth_valid_username(const char *name, size_t len)
{
	if (name == NULL || len == 0 || len > MAX_USERNAME)
		return false;
	if (name[0] == '.' || memchr(name, '/', len) != NULL)
		return false;
	/* has_ctl() also catches a NUL inside the name. */
	return !has_ctl(name, len);
}

/* Strips a crypt-family {SCHEME}; returns NULL for any other scheme. */
static const char *
strip_scheme(const char *hash, size_t *len)
{
	size_t	i, n;

	if (*len == 0 || hash[0] != '{')
		return hash;
	for (i = 0; crypt_schemes[i] != NULL; i++) {
		n = strlen(crypt_schemes[i]);
		if (*len >= n && strncasecmp(hash, crypt_schemes[i], n) == 0) {
			*len -= n;
			return hash + n;
		}
	}
	return NULL;
}

static bool
is_locked(const char *hash)
{
	return hash[0] == '\0' || hash[0] == '!' || hash[0] == '*';
}

/*
 * crypt_checksalt() only reads the setting; a legacy DES hash must also
 * have its full length, or a plaintext password in the hash field would
 * pass as one (salt "se" of "secret").
 */
static bool
usable_hash(const char *hash, size_t len)
{
	if (crypt_checksalt(hash) == CRYPT_SALT_INVALID)
		return false;
	if (hash[0] == '$')
		return true;
	return hash[0] == '_' ? len == 20 : len == 13;
}

/* An empty field is "not set"; else plain decimal below (id_t)-1. */
static int
parse_id(const char *s, size_t len, bool *has_out, uint32_t *id_out)
{
	char		buf[16];
	uint32_t	v;

	if (len == 0) {
		*has_out = false;
		*id_out = 0;
		return 0;
	}
	if (len >= sizeof(buf))
		return -1;
	memcpy(buf, s, len);
	buf[len] = '\0';
	if (parse_u32(buf, &v) != NUM_OK || v == UINT32_MAX)
		return -1;
	*has_out = true;
	*id_out = v;
	return 0;
}

/* Splits line into at most AUTH_NFIELDS ':' fields; returns the count. */
static int
split_fields(const char *line, size_t len, const char **f, size_t *flen)
{
	const char	*p = line, *end = line + len, *c;
	int		 n = 0;

	for (;;) {
		f[n] = p;
		if (n == AUTH_NFIELDS - 1 ||
		    (c = memchr(p, ':', (size_t)(end - p))) == NULL) {
			flen[n++] = (size_t)(end - p);
			return n;
		}
		flen[n++] = (size_t)(c - p);
		p = c + 1;
	}
}

int
auth_parse_line(const char *line, size_t len, struct passwd_entry *out,
    const char **errstr_out)
{
	struct passwd_entry	 e;
	const char		*f[AUTH_NFIELDS], *hash;
	size_t			 flen[AUTH_NFIELDS], i, hlen;
	uint32_t		 id = 0;
	int			 n;

	if (len > 0 && line[len - 1] == '\r')
		len--;
	for (i = 0; i < len && (line[i] == ' ' || line[i] == '\t'); i++)
		;
	if (i == len || line[i] == '#')
		return 0;
	if (memchr(line, '\0', len) != NULL)
		return *errstr_out = "NUL byte in line", -1;

	memset(&e, 0, sizeof(e));
	n = split_fields(line, len, f, flen);
	if (n < 2)
		return *errstr_out = "missing password field", -1;
	if (!auth_valid_username(f[0], flen[0]))
		return *errstr_out = "invalid user name", -1;
	memcpy(e.name, f[0], flen[0]);

	hlen = flen[1];
	if ((hash = strip_scheme(f[1], &hlen)) == NULL)
		return *errstr_out = "unsupported password scheme", -1;
	if (hlen >= sizeof(e.hash))
		return *errstr_out = "password hash too long", -1;
	if (has_ctl(hash, hlen))
		return *errstr_out = "control character in password hash", -1;
	memcpy(e.hash, hash, hlen);
	if (!is_locked(e.hash) && !usable_hash(e.hash, hlen))
		return *errstr_out = "unusable password hash", -1;

	if (n > 2 && parse_id(f[2], flen[2], &e.has_uid, &id) == -1)
		return *errstr_out = "uid is not a decimal number in range", -1;
	e.uid = (uid_t)id;
	if (n > 3 && parse_id(f[3], flen[3], &e.has_gid, &id) == -1)
		return *errstr_out = "gid is not a decimal number in range", -1;
	e.gid = (gid_t)id;

	if (n > 5 && flen[5] > 0) {
		if (flen[5] >= sizeof(e.home))
			return *errstr_out = "home too long", -1;
		if (f[5][0] != '/')
			return *errstr_out = "home is not an absolute path", -1;
		if (has_ctl(f[5], flen[5]))
			return *errstr_out = "control character in home", -1;
		memcpy(e.home, f[5], flen[5]);
	}
	*out = e;
	explicit_bzero(&e, sizeof(e));
	return 1;
}

static int
lr_open(struct lreader *r, const char *file)
{
	struct stat	st;

	memset(r, 0, sizeof(*r));
	r->fd = open(file, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
	if (r->fd == -1)
		return -1;
	if (fstat(r->fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		if (fstat(r->fd, &st) == 0)
			errno = EINVAL;		/* not a regular file */
		(void)close(r->fd);
		return -1;
	}
	return 0;
}

/*
 * Gives the next line in *line_out and *len_out, valid until the next call.
 * A line longer than the buffer is consumed and reported as LR_TOOLONG.
 */
static int
lr_next(struct lreader *r, char **line_out, size_t *len_out)
{
	char	*nl, *start;
	ssize_t	 n;
	bool	 toolong = false;

	for (;;) {
		start = r->buf + r->off;
		nl = memchr(start, '\n', r->len - r->off);
		if (nl == NULL && r->eof && r->off < r->len)
			nl = r->buf + r->len;	/* last line without LF */
		if (nl != NULL) {
			r->off = (size_t)(nl - r->buf) + (nl < r->buf + r->len);
			r->lineno++;
			*line_out = start;
			*len_out = (size_t)(nl - start);
			return toolong ? LR_TOOLONG : LR_LINE;
		}
		if (r->eof) {
			if (toolong)
				r->lineno++;
			return toolong ? LR_TOOLONG : LR_EOF;
		}
		memmove(r->buf, start, r->len - r->off);
		r->len -= r->off;
		r->off = 0;
		if (r->len == sizeof(r->buf)) {
			toolong = true;		/* discard up to the LF */
			r->len = 0;
		}
		n = read(r->fd, r->buf + r->len, sizeof(r->buf) - r->len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			return LR_ERROR;
		if (n == 0)
			r->eof = true;
		r->len += (size_t)n;
	}
}

static void
log_bad_line(const char *file, unsigned long lineno, const char *why)
{
	log_warnx("%s: line %lu: %s; line skipped", file, lineno, why);
}

int
auth_lookup(const char *file, const char *name, struct passwd_entry *out)
{
	struct lreader		*r;
	struct passwd_entry	*e;
	const char		*why;
	char			*line;
	size_t			 len;
	int			 rv = -1, err = ENOENT, k;

	if (!auth_valid_username(name, strlen(name))) {
		errno = ENOENT;
		return -1;
	}
	if ((r = malloc(sizeof(*r))) == NULL)
		return -1;
	if ((e = malloc(sizeof(*e))) == NULL) {
		free(r);
		return -1;
	}
	if (lr_open(r, file) == -1) {
		/* A missing file must not read as "no such user". */
		err = errno == ENOENT ? EIO : errno;
		log_warn("passwd file %s", file);
		goto done;
	}
	while ((k = lr_next(r, &line, &len)) != LR_EOF) {
		if (k == LR_ERROR) {
			err = errno;
			log_warn("passwd file %s", file);
			break;
		}
		if (k == LR_TOOLONG) {
			log_bad_line(file, r->lineno, "line too long");
			continue;
		}
		switch (auth_parse_line(line, len, e, &why)) {
		case -1:
			log_bad_line(file, r->lineno, why);
			break;
		case 1:
			if (cost_hash[0] == '\0' && !is_locked(e->hash))
				(void)strlcpy_(cost_hash, e->hash,
				    sizeof(cost_hash));
			if (strcmp(e->name, name) != 0)
				break;
			*out = *e;
			rv = 0;
			goto close;
		}
	}
close:
	(void)close(r->fd);
done:
	explicit_bzero(r, sizeof(*r));
	explicit_bzero(e, sizeof(*e));
	free(r);
	free(e);
	if (rv == -1)
		errno = err;
	return rv;
}

int
auth_check_file(const char *file)
{
	struct lreader		*r;
	struct passwd_entry	*e;
	const char		*why;
	char			*line;
	size_t			 len;
	int			 bad = 0, k;

	if ((r = malloc(sizeof(*r))) == NULL)
		return -1;
	if ((e = malloc(sizeof(*e))) == NULL || lr_open(r, file) == -1) {
		log_warn("passwd file %s", file);
		free(e);
		free(r);
		return -1;
	}
	while ((k = lr_next(r, &line, &len)) != LR_EOF) {
		if (k == LR_ERROR) {
			log_warn("passwd file %s", file);
			bad = -1;
			break;
		}
		why = "line too long";
		if (k == LR_TOOLONG || auth_parse_line(line, len, e, &why) == -1) {
			log_bad_line(file, r->lineno, why);
			if (bad < INT32_MAX)
				bad++;
		}
	}
	(void)close(r->fd);
	explicit_bzero(r, sizeof(*r));
	explicit_bzero(e, sizeof(*e));
	free(r);
	free(e);
	return bad;
}

/* Compares without an early exit; the lengths of hashes are not secret. */
static bool
ct_equal(const char *a, const char *b)
{
	size_t		 alen = strlen(a), blen = strlen(b), i;
	unsigned char	 d = 0;

	if (alen != blen)
		return false;
	for (i = 0; i < alen; i++)
		d |= (unsigned char)a[i] ^ (unsigned char)b[i];
	return d == 0;
}

/* The setting crypt_r() runs with, and whether a match may succeed. */
static const char *
verify_setting(const struct passwd_entry *e, bool *usable)
{
	*usable = false;
	if (e == NULL)
		return cost_hash[0] != '\0' ? cost_hash : dummy_hash;
	if (!is_locked(e->hash)) {
		*usable = true;
		return e->hash;
	}
	/* A locked "!$6$..." still costs what its own hash costs. */
	if (e->hash[0] != '\0' && e->hash[1] == '$' &&
	    crypt_checksalt(e->hash + 1) != CRYPT_SALT_INVALID)
		return e->hash + 1;
	return cost_hash[0] != '\0' ? cost_hash : dummy_hash;
}

bool
auth_verify(const struct passwd_entry *e, const char *pw, size_t len)
{
	struct crypt_data	*cd;
	const char		*setting, *res;
	char			*buf;
	bool			 usable, ok = false;

	setting = verify_setting(e, &usable);
	/* SPEC 4: a password is never cut short at a NUL. */
	if (len > MAX_PASSWORD || memchr(pw, '\0', len) != NULL) {
		usable = false;
		len = 0;
	}
	if ((cd = calloc(1, sizeof(*cd))) == NULL)
		return false;
	if ((buf = malloc(MAX_PASSWORD + 1)) == NULL) {
		free(cd);
		return false;
	}
	memcpy(buf, pw, len);
	buf[len] = '\0';
	res = crypt_r(buf, setting, cd);
	if (usable && res != NULL && res[0] != '*')
		ok = ct_equal(res, setting);
	explicit_bzero(buf, MAX_PASSWORD + 1);
	explicit_bzero(cd, sizeof(*cd));
	free(buf);
	free(cd);
	return ok;
}

/* RFC 4648 base64 value of c, or -1. */
static int
b64_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

/*
 * Strict RFC 4648 decoding: padding required, no blanks, no bits set in
 * the padding.  Returns the decoded length, or -1.
 */
static ssize_t
b64_decode(const char *in, char *out, size_t outsize)
{
	size_t		 inlen = strlen(in), i, o = 0, pad = 0;
	uint32_t	 acc;
	int		 v, j;

	if (inlen % 4 != 0)
		return -1;
	if (inlen > 0 && in[inlen - 1] == '=')
		pad = inlen > 1 && in[inlen - 2] == '=' ? 2 : 1;
	if (inlen / 4 * 3 - pad > outsize)
		return -1;
	for (i = 0; i < inlen; i += 4) {
		acc = 0;
		for (j = 0; j < 4; j++) {
			if (i + (size_t)j >= inlen - pad)
				v = 0;
			else if ((v = b64_value((unsigned char)in[i + j])) < 0)
				return -1;
			acc = acc << 6 | (uint32_t)v;
		}
		out[o++] = (char)(acc >> 16);
		if (i + 4 < inlen || pad < 2)
			out[o++] = (char)(acc >> 8 & 0xff);
		if (i + 4 < inlen || pad < 1)
			out[o++] = (char)(acc & 0xff);
		/* Non-canonical: bits hidden under the padding. */
		if (i + 4 >= inlen && ((pad == 1 && (acc & 0xff) != 0) ||
		    (pad == 2 && (acc & 0xffff) != 0)))
			return -1;
	}
	return (ssize_t)o;
}

int
auth_sasl_plain(const char *b64, char *buf, size_t bufsize,
    const char **authcid_out, size_t *authcid_len_out,
    const char **passwd_out, size_t *passwd_len_out,
    const char **errstr_out)
{
	ssize_t		 n;
	char		*nul1, *nul2, *end;
	size_t		 zlen, clen, plen;

	if (bufsize == 0)
		return *errstr_out = "no room to decode", -1;
	/* "=" is the empty initial response (RFC 5034); it has no NULs. */
	if (strcmp(b64, "=") == 0)
		n = 0;
	/* One byte is kept for the terminator after the password. */
	else if ((n = b64_decode(b64, buf, bufsize - 1)) == -1) {
		*errstr_out = "invalid base64";
		goto bad;
	}
	end = buf + n;
	*end = '\0';
	if ((nul1 = memchr(buf, '\0', (size_t)n)) == NULL ||
	    (nul2 = memchr(nul1 + 1, '\0', (size_t)(end - nul1 - 1))) == NULL ||
	    memchr(nul2 + 1, '\0', (size_t)(end - nul2 - 1)) != NULL) {
		*errstr_out = "PLAIN message needs exactly two NUL separators";
		goto bad;
	}
	zlen = (size_t)(nul1 - buf);
	clen = (size_t)(nul2 - nul1 - 1);
	plen = (size_t)(end - nul2 - 1);
	if (clen == 0 || plen == 0) {
		*errstr_out = "empty authentication identity or password";
		goto bad;
	}
	if (zlen != 0 && (zlen != clen || memcmp(buf, nul1 + 1, clen) != 0)) {
		*errstr_out = auth_err_authzid;
		goto bad;
	}
	*authcid_out = nul1 + 1;
	*authcid_len_out = clen;
	*passwd_out = nul2 + 1;
	*passwd_len_out = plen;
	return 0;
bad:
	explicit_bzero(buf, bufsize);
	return -1;
}

/* STYLE 3.8: one function, nothing else, checked after the fact. */
int
auth_become_user(const struct passwd_entry *e, const char **errstr_out)
{
	uid_t	ru, eu, su;
	gid_t	rg, eg, sg, gid = e->gid;

	if (geteuid() != 0 || (!e->has_uid && !e->has_gid))
		return 0;
	if (e->has_uid != e->has_gid)
		return *errstr_out = "uid and gid must be set together", -1;
	if (e->uid == 0 || e->gid == 0)
		return *errstr_out = "refusing to run as uid or gid 0", -1;
	if (setgroups(1, &gid) == -1)
		return *errstr_out = "setgroups failed", -1;
	if (setresgid(gid, gid, gid) == -1)
		return *errstr_out = "setresgid failed", -1;
	if (setresuid(e->uid, e->uid, e->uid) == -1)
		return *errstr_out = "setresuid failed", -1;
	/* Dovecot's check: root must be out of reach now. */
	if (setuid(0) != -1)
		return *errstr_out = "root could be regained", -1;
	if (getresuid(&ru, &eu, &su) == -1 || getresgid(&rg, &eg, &sg) == -1)
		return *errstr_out = "cannot read back the identity", -1;
	if (ru != e->uid || eu != e->uid || su != e->uid ||
	    rg != gid || eg != gid || sg != gid ||
	    getuid() != e->uid || geteuid() != e->uid ||
	    getgid() != gid || getegid() != gid)
		return *errstr_out = "identity differs after the switch", -1;
	return 0;
}

int
auth_hash_password(const char *pw, char *out, size_t outsize)
{
	struct crypt_data	*cd;
	char			 salt[CRYPT_GENSALT_OUTPUT_SIZE];
	const char		*res;
	int			 rv = -1;

	if (strlen(pw) > MAX_PASSWORD) {
		errno = EINVAL;
		return -1;
	}
	if (crypt_gensalt_rn("$y$", 0, NULL, 0, salt, sizeof(salt)) == NULL)
		return -1;
	if ((cd = calloc(1, sizeof(*cd))) == NULL)
		return -1;
	res = crypt_rn(pw, salt, cd, (int)sizeof(*cd));
	if (res != NULL && res[0] == '$' && strlen(res) < outsize) {
		(void)strlcpy_(out, res, outsize);
		rv = 0;
	} else if (res != NULL)
		errno = EINVAL;
	explicit_bzero(cd, sizeof(*cd));
	free(cd);
	return rv;
}
