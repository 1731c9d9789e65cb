/*
 * passwd.c: pure parsers for the passwd file's lines (spec 4) and their
 * extra fields (spec 4.2).
 *
 * Every byte here comes from a file an administrator wrote, possibly by
 * script from untrusted input (a user's chosen name, a label): every field
 * is bounded and checked, a malformed line is reported by reason (never by
 * content: the line holds secrets), and nothing here allocates, logs or
 * touches a file.  fuzz/fuzz_passwd.c and fuzz/fuzz_extra.c drive it.
 */
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <crypt.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "passwd.h"
#include "util.h"

/* user:password:uid:gid:gecos:home:shell:extra_fields */
#define NFIELDS		8
#define F_EXTRA		7

/* {SCHEME} prefixes of the crypt family, stripped before crypt_r(). */
static const char *const crypt_schemes[] = {
	"{CRYPT}", "{SHA512-CRYPT}", "{SHA256-CRYPT}", "{BLF-CRYPT}",
	"{MD5-CRYPT}", NULL
};

/* {SCHEME} prefixes of SCRAM keys, by enum scram_hash. */
static const char *const scram_schemes[SCRAM_NHASH] = {
	"{SCRAM-SHA-1}", "{SCRAM-SHA-256}"
};

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

/*
 * crypt_checksalt() only reads the setting; a legacy DES hash must also
 * have its full length, or a plaintext password in the hash field would
 * pass as one (salt "se" of "secret").
 */
bool
auth_usable_hash(const char *hash, size_t len)
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

/*
 * Splits line into at most NFIELDS ':' fields; the last one takes the
 * rest of the line (Dovecot's extra fields may hold ':').  Returns the
 * count.
 */
static int
split_fields(const char *line, size_t len, const char **f, size_t *flen)
{
	const char	*p = line, *end = line + len, *c;
	int		 n = 0;

	for (;;) {
		f[n] = p;
		if (n == NFIELDS - 1 ||
		    (c = memchr(p, ':', (size_t)(end - p))) == NULL) {
			flen[n++] = (size_t)(end - p);
			return n;
		}
		flen[n++] = (size_t)(c - p);
		p = c + 1;
	}
}

/*
 * The password field: a crypt hash (a crypt-family {SCHEME} stripped), a
 * locked marker, or {SCRAM-SHA-1}/{SCRAM-SHA-256} keys.
 */
static int
parse_hash_field(const char *f, size_t flen, struct passwd_entry *e,
    const char **errstr_out)
{
	const char	*hash;
	size_t		 hlen = flen, n;
	int		 h;

	for (h = 0; h < SCRAM_NHASH; h++) {
		n = strlen(scram_schemes[h]);
		if (flen < n || strncasecmp(f, scram_schemes[h], n) != 0)
			continue;
		if (auth_parse_scram(f + n, flen - n, (enum scram_hash)h,
		    &e->scram[h], errstr_out) == -1)
			return -1;
		e->pw_scram = h;
		return 0;
	}
	if ((hash = strip_scheme(f, &hlen)) == NULL)
		return *errstr_out = "unsupported password scheme", -1;
	if (hlen >= sizeof(e->hash))
		return *errstr_out = "password hash too long", -1;
	if (has_ctl(hash, hlen))
		return *errstr_out = "control character in password hash", -1;
	memcpy(e->hash, hash, hlen);
	e->hash[hlen] = '\0';
	if (!auth_hash_locked(e->hash) && !auth_usable_hash(e->hash, hlen))
		return *errstr_out = "unusable password hash", -1;
	return 0;
}

/* Copies s[0..len) into a NUL-terminated buf of size; -1 if it won't fit. */
static int
copy_field(char *buf, size_t size, const char *s, size_t len)
{
	if (len >= size)
		return -1;
	memcpy(buf, s, len);
	buf[len] = '\0';
	return 0;
}

/* Decodes one base64 field of a SCRAM value into out (at most size). */
static ssize_t
scram_b64(const char *s, size_t len, unsigned char *out, size_t size)
{
	char	in[(AUTH_SCRAM_MAX_SALT + 2) / 3 * 4 + 1];
	ssize_t	n;

	if (len == 0 || copy_field(in, sizeof(in), s, len) == -1)
		return -1;
	n = b64_decode(in, (char *)out, size);
	explicit_bzero(in, sizeof(in));
	return n;
}

int
auth_parse_scram(const char *s, size_t len, enum scram_hash h,
    struct scram_keys *k, const char **errstr_out)
{
	const char	*f[4], *p = s, *end = s + len, *c;
	size_t		 flen[4], keylen = h == SCRAM_SHA_1 ? 20 : 32;
	char		 num[16];
	ssize_t		 n;
	int		 i;

	memset(k, 0, sizeof(*k));
	for (i = 0; i < 4; i++) {
		f[i] = p;
		c = i < 3 ? memchr(p, ',', (size_t)(end - p)) : NULL;
		if (i < 3 && c == NULL)
			return *errstr_out = "SCRAM keys need iter,salt,stored,"
			    "server", -1;
		flen[i] = (size_t)((c != NULL ? c : end) - p);
		p = c != NULL ? c + 1 : end;
	}
	if (memchr(f[3], ',', flen[3]) != NULL)
		return *errstr_out = "SCRAM keys need iter,salt,stored,server",
		    -1;
	if (copy_field(num, sizeof(num), f[0], flen[0]) == -1 ||
	    parse_u32(num, &k->iter) != NUM_OK ||
	    k->iter < AUTH_MIN_SCRAM_ITER || k->iter > AUTH_MAX_SCRAM_ITER)
		return *errstr_out = "SCRAM iteration count not in 4096.."
		    "10000000", -1;
	if ((n = scram_b64(f[1], flen[1], k->salt, sizeof(k->salt))) <= 0)
		return *errstr_out = "SCRAM salt is not base64", -1;
	k->salt_len = (size_t)n;
	if (scram_b64(f[2], flen[2], k->stored, sizeof(k->stored)) !=
	    (ssize_t)keylen ||
	    scram_b64(f[3], flen[3], k->server, sizeof(k->server)) !=
	    (ssize_t)keylen) {
		explicit_bzero(k, sizeof(*k));
		return *errstr_out = "SCRAM key is not base64 of the hash's "
		    "length", -1;
	}
	k->key_len = keylen;
	k->set = true;
	return 0;
}

int
auth_parse_net(const char *s, size_t len, struct net_prefix *p)
{
	char		 buf[INET6_ADDRSTRLEN + 8], *slash;
	uint32_t	 bits;
	unsigned int	 max;

	if (copy_field(buf, sizeof(buf), s, len) == -1)
		return -1;
	memset(p, 0, sizeof(*p));
	if ((slash = strchr(buf, '/')) != NULL)
		*slash++ = '\0';
	if (inet_pton(AF_INET, buf, p->addr) == 1) {
		p->family = AF_INET;
		max = 32;
	} else if (inet_pton(AF_INET6, buf, p->addr) == 1) {
		p->family = AF_INET6;
		max = 128;
		/* ::ffff:a.b.c.d is the IPv4 network a.b.c.d (spec 9). */
		if (IN6_IS_ADDR_V4MAPPED((struct in6_addr *)p->addr) &&
		    (slash == NULL || strlen(slash) > 0)) {
			memmove(p->addr, p->addr + 12, 4);
			memset(p->addr + 4, 0, 12);
			p->family = AF_INET;
			max = 32;
			if (slash != NULL) {
				if (parse_u32(slash, &bits) != NUM_OK ||
				    bits < 96 || bits > 128)
					return -1;
				p->bits = bits - 96;
				return 0;
			}
		}
	} else
		return -1;
	if (slash == NULL)
		bits = max;
	else if (parse_u32(slash, &bits) != NUM_OK || bits > max)
		return -1;
	p->bits = bits;
	return 0;
}

bool
auth_net_allowed(const struct passwd_entry *e, const char *peer)
{
	struct net_prefix	 a;
	const unsigned char	*x, *y;
	unsigned int		 i, full, rest;

	if (e->nnets == 0)
		return true;
	if (peer == NULL || auth_parse_net(peer, strlen(peer), &a) == -1 ||
	    strchr(peer, '/') != NULL)
		return false;
	for (i = 0; i < e->nnets; i++) {
		if (e->nets[i].family != a.family)
			continue;
		x = e->nets[i].addr;
		y = a.addr;
		full = e->nets[i].bits / 8;
		rest = e->nets[i].bits % 8;
		if (memcmp(x, y, full) != 0)
			continue;
		if (rest == 0 ||
		    ((x[full] ^ y[full]) & (0xff00u >> rest & 0xff)) == 0)
			return true;
	}
	return false;
}

static int
parse_nets(const char *v, size_t len, struct passwd_entry *e)
{
	const char	*end = v + len, *c;

	while (v < end) {
		c = memchr(v, ',', (size_t)(end - v));
		if (c == NULL)
			c = end;
		if (c > v) {
			if (e->nnets == AUTH_MAX_NETS || auth_parse_net(v,
			    (size_t)(c - v), &e->nets[e->nnets]) == -1)
				return -1;
			e->nnets++;
		}
		v = c + 1;
	}
	return e->nnets > 0 ? 0 : -1;
}

/* app-password=LABEL,HASH: a label of [A-Za-z0-9._-] and a crypt hash. */
static int
parse_app(const char *v, size_t len, struct passwd_entry *e,
    const char **errstr_out)
{
	struct app_password	*a;
	const char		*comma, *hash;
	size_t			 llen, hlen, i;

	if (e->napp == AUTH_MAX_APP)
		return *errstr_out = "too many app-password items", -1;
	a = &e->app[e->napp];
	if ((comma = memchr(v, ',', len)) == NULL)
		return *errstr_out = "app-password needs LABEL,HASH", -1;
	llen = (size_t)(comma - v);
	if (llen == 0 || llen >= sizeof(a->label))
		return *errstr_out = "app-password label empty or too long", -1;
	for (i = 0; i < llen; i++)
		if (!((v[i] >= 'a' && v[i] <= 'z') ||
		    (v[i] >= 'A' && v[i] <= 'Z') ||
		    (v[i] >= '0' && v[i] <= '9') ||
		    v[i] == '.' || v[i] == '_' || v[i] == '-'))
			return *errstr_out = "app-password label holds a "
			    "character other than A-Z a-z 0-9 . _ -", -1;
	hlen = len - llen - 1;
	if ((hash = strip_scheme(comma + 1, &hlen)) == NULL ||
	    copy_field(a->hash, sizeof(a->hash), hash, hlen) == -1 ||
	    auth_hash_locked(a->hash) || !auth_usable_hash(a->hash, hlen)) {
		explicit_bzero(a, sizeof(*a));
		return *errstr_out = "app-password hash unusable", -1;
	}
	memcpy(a->label, v, llen);
	a->label[llen] = '\0';
	/* A label given twice: the first item wins, like the first line. */
	for (i = 0; i < e->napp; i++)
		if (!strcmp(e->app[i].label, a->label))
			return 0;
	e->napp++;
	return 0;
}

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static int
parse_seconds(const char *v, size_t len, uint32_t max, uint32_t *out)
{
	char num[16];

	if (copy_field(num, sizeof(num), v, len) == -1 ||
	    parse_u32(num, out) != NUM_OK || *out > max)
		return -1;
	return 0;
}

/* One known key=value item; unknown keys return 0 untouched. */
static int
parse_item(const char *k, size_t klen, const char *v, size_t vlen,
    bool has_v, struct passwd_entry *e, const char **errstr_out)
{
#define KEY(name) (klen == sizeof(name) - 1 && !memcmp(k, name, klen))
	size_t i;
	int hi, lo;

	if (KEY("nologin")) {
		e->nologin = true;
		return 0;
	}
	if (!has_v) {
		if (KEY("reason") || KEY("allow_nets") || KEY("app-password") ||
		    KEY("scram-sha-256") || KEY("scram-sha-1") || KEY("ntlm") ||
		    KEY("login-delay") || KEY("expire"))
			return *errstr_out = "extra field needs a value", -1;
		return 0;
	}
	if (KEY("reason")) {
		if (copy_field(e->reason, sizeof(e->reason), v, vlen) == -1)
			return *errstr_out = "reason too long", -1;
		for (i = 0; i < vlen; i++)
			if (e->reason[i] == '_')
				e->reason[i] = ' ';
		return 0;
	}
	if (KEY("allow_nets"))
		return parse_nets(v, vlen, e) == -1 ?
		    (*errstr_out = "allow_nets: not a list of networks", -1) :
		    0;
	if (KEY("app-password"))
		return parse_app(v, vlen, e, errstr_out);
	if (KEY("scram-sha-256"))
		return auth_parse_scram(v, vlen, SCRAM_SHA_256,
		    &e->scram[SCRAM_SHA_256], errstr_out);
	if (KEY("scram-sha-1"))
		return auth_parse_scram(v, vlen, SCRAM_SHA_1,
		    &e->scram[SCRAM_SHA_1], errstr_out);
	if (KEY("ntlm")) {
		if (vlen != 32)
			return *errstr_out = "ntlm needs 32 hex digits", -1;
		for (i = 0; i < 16; i++) {
			if ((hi = hexval(v[2 * i])) < 0 ||
			    (lo = hexval(v[2 * i + 1])) < 0)
				return *errstr_out = "ntlm needs 32 hex digits",
				    -1;
			e->ntlm[i] = (unsigned char)(hi << 4 | lo);
		}
		e->has_ntlm = true;
		return 0;
	}
	if (KEY("login-delay")) {
		if (parse_seconds(v, vlen, MAX_LOGIN_DELAY,
		    &e->login_delay) == -1)
			return *errstr_out = "login-delay: not a number of "
			    "seconds in range", -1;
		e->has_login_delay = true;
		return 0;
	}
	if (KEY("expire")) {
		if (vlen == 5 && !memcmp(v, "never", 5))
			e->expire_days = EXPIRE_NEVER;
		else if (parse_seconds(v, vlen, MAX_EXPIRE_DAYS,
		    &e->expire_days) == -1)
			return *errstr_out = "expire: not never or a number of "
			    "days in range", -1;
		e->has_expire = true;
		return 0;
	}
	return 0;
#undef KEY
}

int
auth_parse_extra(const char *s, size_t len, struct passwd_entry *e,
    const char **errstr_out)
{
	const char	*end = s + len, *item, *eq, *v;
	size_t		 ilen, klen;

	if (has_ctl(s, len))
		return *errstr_out = "control character in extra fields", -1;
	while (s < end) {
		while (s < end && *s == ' ')
			s++;
		item = s;
		while (s < end && *s != ' ')
			s++;
		if ((ilen = (size_t)(s - item)) == 0)
			break;
		eq = memchr(item, '=', ilen);
		klen = eq != NULL ? (size_t)(eq - item) : ilen;
		if (klen == 0)
			return *errstr_out = "extra field without a key", -1;
		v = eq != NULL ? eq + 1 : NULL;
		if (parse_item(item, klen, v, v != NULL ?
		    (size_t)(s - v) : 0, v != NULL, e, errstr_out) == -1)
			return -1;
	}
	return 0;
}

int
auth_parse_line(const char *line, size_t len, struct passwd_entry *out,
    const char **errstr_out)
{
	struct passwd_entry	 e;
	const char		*f[NFIELDS];
	size_t			 flen[NFIELDS], i;
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

	e.pw_scram = -1;
	if (parse_hash_field(f[1], flen[1], &e, errstr_out) == -1)
		return -1;

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
	/* f[6], the shell, is ignored. */
	if (n > F_EXTRA &&
	    auth_parse_extra(f[F_EXTRA], flen[F_EXTRA], &e, errstr_out) == -1) {
		explicit_bzero(&e, sizeof(e));
		return -1;
	}
	*out = e;
	explicit_bzero(&e, sizeof(e));
	return 1;
}

