/*
 * config.c: defaults, validation and the "name = value" line parser for
 * the settings of spec 1.  Pure functions apart from strdup() of values:
 * no I/O, no globals.  Reading files and argv is main()'s job.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "uidmap.h"
#include "util.h"

/* Order matches the enums in pop3.h. */
static const char *const plaintext_names[] = { "tls", "never", "always",
    NULL };
static const char *const uidl_names[] = { "counter", "filename", NULL };
/* Order matches enum uidmap_import in uidmap.h. */
static const char *const import_names[] = { "auto", "dovecot", "courier",
    "filename", "none", NULL };
static const char *const log_names[] = { "auto", "journal", "syslog",
    "stderr", NULL };

/* spec 4.1: the names of enum auth_mech, lower case, in its order. */
static const char *const mech_names[MECH_COUNT] = {
	"plain", "login", "scram-sha-1", "scram-sha-1-plus", "scram-sha-256",
	"scram-sha-256-plus", "gssapi", "ntlm"
};

enum stype {
	S_STR,		/* any non-empty text */
	S_PATH,		/* an absolute path */
	S_PATH_NONE,	/* an absolute path, or "none" for NULL */
	S_MAILDIR,	/* a maildir template */
	S_HOST,		/* a host name */
	S_UINT,		/* unsigned int in lo..hi */
	S_U32,		/* uint32_t in lo..hi */
	S_U32_NEVER,	/* uint32_t in lo..hi, or "never" for EXPIRE_NEVER */
	S_BOOL,		/* yes/no */
	S_ENUM,		/* one of names[], stored as an int-sized enum */
	S_MECHS,	/* a list of mechanism names */
};

/*
 * spec 1: the one table of settings.  It drives config_set(), the
 * defaults (config_defaults()) and the settings part of --help; tests/
 * settings.bats holds the README, the man page and the sample config to
 * it.  def is the default as a value would be written (NULL: unset);
 * arg and help are --help's words.
 */
struct setting {
	const char		*name;
	enum stype		 type;
	size_t			 off;
	uint32_t		 lo, hi;
	const char *const	*names;
	const char		*def;
	const char		*arg;
	const char		*help;
};

#define F(field)	offsetof(struct config, field)

static const struct setting settings[] = {
	{ "passwd-file", S_STR, F(passwd_file), 0, 0, NULL, NULL, "FILE",
	    "user:hash:uid:gid:gecos:home:shell:extra (required)" },
	{ "maildir", S_MAILDIR, F(maildir), 0, 0, NULL, "%h/Maildir",
	    "TEMPLATE", "%u user, %h home, %% percent" },
	{ "timeout-unauth", S_UINT, F(timeout_unauth), 1, 86400, NULL, "60",
	    "SECONDS", "idle limit before login" },
	{ "timeout-auth", S_UINT, F(timeout_auth), 1, 86400, NULL, "1800",
	    "SECONDS", "idle limit after login" },
	{ "max-command-length", S_UINT, F(max_command_length),
	    MIN_COMMAND_LENGTH, MAX_COMMAND_LENGTH, NULL, "512", "N",
	    "octets incl. CRLF" },
	{ "plaintext-auth", S_ENUM, F(plaintext_auth), 0, 0, plaintext_names,
	    "tls", NULL, "where a password may travel" },
	{ "tls-cert", S_STR, F(tls_cert), 0, 0, NULL, NULL, "FILE",
	    "PEM certificate chain" },
	{ "tls-key", S_STR, F(tls_key), 0, 0, NULL, NULL, "FILE",
	    "PEM key; with tls-cert, STLS is offered" },
	{ "implicit-tls", S_BOOL, F(implicit_tls), 0, 0, NULL, "no", NULL,
	    "TLS before the greeting (port 995)" },
	{ "secured", S_BOOL, F(secured), 0, 0, NULL, "no", NULL,
	    "the transport is already protected (stunnel exec)" },
	{ "uidl", S_ENUM, F(uidl), 0, 0, uidl_names, "counter", NULL,
	    "UIDL form" },
	{ "uidl-import", S_ENUM, F(uidl_import), 0, 0, import_names, "auto",
	    NULL, "first login: keep the previous server's UIDLs" },
	{ "hostname", S_HOST, F(hostname), 0, 0, NULL, NULL, "NAME",
	    "in the greeting (default: gethostname())" },
	{ "auth-fail-delay", S_UINT, F(auth_fail_delay), 0, 60, NULL, "2",
	    "SECONDS", "before each authentication failure reply" },
	{ "max-auth-failures", S_UINT, F(max_auth_failures), 1, 100, NULL,
	    "3", "N", "then -ERR and close" },
	{ "proxy-protocol", S_BOOL, F(proxy_protocol), 0, 0, NULL, "no", NULL,
	    "a PROXY v1/v2 header comes first" },
	{ "log", S_ENUM, F(log), 0, 0, log_names, "auto", NULL,
	    "where log entries go" },
	{ "log-retrievals", S_BOOL, F(log_retrievals), 0, 0, NULL, "no", NULL,
	    "retrieved and removed UIDLs in the logout entry" },
	{ "penalty-file", S_PATH_NONE, F(penalty_file), 0, 0, NULL,
	    "/var/lib/pop3-handler/penalty", "FILE|none",
	    "failures per peer, shared by all sessions" },
	{ "state-dir", S_PATH, F(state_dir), 0, 0, NULL,
	    "/var/lib/pop3-handler", "DIR", "per-installation secrets" },
	{ "auth-mechanisms", S_MECHS, F(auth_mechs), 0, 0, NULL,
	    "plain login scram-sha-256 scram-sha-256-plus gssapi", "LIST",
	    "SASL mechanisms that may be offered" },
	{ "gssapi-keytab", S_PATH, F(gssapi_keytab), 0, 0, NULL, NULL, "FILE",
	    "Kerberos keytab; set: GSSAPI is offered" },
	{ "gssapi-realms", S_STR, F(gssapi_realms), 0, 0, NULL, NULL,
	    "\"R1 R2\"", "realms accepted (default: krb5.conf's)" },
	{ "gssapi-rcache-dir", S_PATH, F(gssapi_rcache_dir), 0, 0, NULL, NULL,
	    "DIR", "replay cache shared by all sessions (state-dir/rcache)" },
	{ "login-delay", S_U32, F(login_delay), 0, MAX_LOGIN_DELAY, NULL, "0",
	    "SECONDS", "least time between two logins of a user; 0: off" },
	{ "expire", S_U32_NEVER, F(expire_days), 0, MAX_EXPIRE_DAYS, NULL,
	    "never", "DAYS|never", "remove messages retrieved DAYS ago" },
	{ "tls-ticket-key-file", S_PATH_NONE, F(tls_ticket_key_file), 0, 0,
	    NULL, "none", "FILE|none",
	    "TLS ticket keys shared by all sessions; none: no tickets" },
	{ NULL, S_STR, 0, 0, 0, NULL, NULL, NULL, NULL }
};

_Static_assert(sizeof(enum plaintext_auth) == sizeof(int) &&
    sizeof(enum uidl_mode) == sizeof(int) &&
    sizeof(enum log_backend) == sizeof(int) &&
    sizeof(unsigned int) == sizeof(int), "S_ENUM fields are int-sized");

static int
set_bool(bool *b, const char *v, const char **errstr)
{
	if (!strcmp(v, "yes") || !strcmp(v, "true") || !strcmp(v, "1"))
		*b = true;
	else if (!strcmp(v, "no") || !strcmp(v, "false") || !strcmp(v, "0"))
		*b = false;
	else {
		*errstr = "expected yes or no";
		return -1;
	}
	return 0;
}

/* "out of range (1..86400)": the reason names the range. */
static int
set_u32(uint32_t *u, const char *v, uint32_t lo, uint32_t hi,
    const char **errstr)
{
	static char range[64];
	uint32_t n;
	enum parse_num r;

	if ((r = parse_u32(v, &n)) != NUM_OK) {
		*errstr = parse_num_str(r);
		return -1;
	}
	if (n < lo || n > hi) {
		(void)snprintf(range, sizeof(range), "out of range (%u..%u)",
		    (unsigned int)lo, (unsigned int)hi);
		*errstr = range;
		return -1;
	}
	*u = n;
	return 0;
}

static int
set_str(struct config *c, const char **s, const char *v, const char **errstr)
{
	char *copy;

	if (*v == '\0') {
		*errstr = "empty value";
		return -1;
	}
	if (c->nowned == sizeof(c->owned) / sizeof(c->owned[0])) {
		*errstr = "too many settings";
		return -1;
	}
	if ((copy = strdup(v)) == NULL) {
		*errstr = "out of memory";
		return -1;
	}
	c->owned[c->nowned++] = copy;
	*s = copy;
	return 0;
}

void
config_free(struct config *c)
{
	while (c->nowned > 0)
		free(c->owned[--c->nowned]);
}

static int
set_enum(int *e, const char *v, const char *const *names, const char **errstr)
{
	int i;

	for (i = 0; names[i] != NULL; i++) {
		if (!strcmp(v, names[i])) {
			*e = i;
			return 0;
		}
	}
	*errstr = "not one of the allowed values";
	return -1;
}

const char *
config_mech_name(enum auth_mech m)
{
	return (unsigned int)m < MECH_COUNT ? mech_names[m] : "?";
}

int
config_parse_mechs(const char *v, unsigned int *out, const char **errstr)
{
	char name[32];
	size_t n;
	unsigned int set = 0, m;

	for (;;) {
		while (*v == ' ' || *v == '\t' || *v == ',')
			v++;
		if (*v == '\0')
			break;
		n = strcspn(v, " \t,");
		if (n >= sizeof(name)) {
			*errstr = "unknown mechanism";
			return -1;
		}
		for (size_t i = 0; i < n; i++)
			name[i] = (v[i] >= 'A' && v[i] <= 'Z') ?
			    (char)(v[i] - 'A' + 'a') : v[i];
		name[n] = '\0';
		for (m = 0; m < MECH_COUNT; m++)
			if (!strcmp(name, mech_names[m]))
				break;
		if (m == MECH_COUNT) {
			*errstr = "unknown mechanism";
			return -1;
		}
		set |= MECH_BIT(m);
		v += n;
	}
	*out = set;
	return 0;
}

/*
 * Sets one table row from v.  String defaults (own == false) point at
 * the table's literal; values from the user are copied into c->owned.
 */
static int
apply(struct config *c, const struct setting *t, const char *v, bool own,
    const char **errstr)
{
	void *p = (char *)c + t->off;
	const char **sp = p;

	switch (t->type) {
	case S_PATH_NONE:
		if (!strcmp(v, "none")) {
			*sp = NULL;
			return 0;
		}
		/* FALLTHROUGH */
	case S_PATH:
		if (v[0] != '/') {
			*errstr = t->type == S_PATH ? "expected an absolute path"
			    : "expected an absolute path or none";
			return -1;
		}
		break;
	case S_MAILDIR:
		if (config_check_template(v, errstr) == -1)
			return -1;
		break;
	case S_HOST:
		if (has_ctl(v, strlen(v)) || strlen(v) > 255) {
			*errstr = "not a valid host name";
			return -1;
		}
		break;
	case S_STR:
		break;
	case S_UINT:
		return set_u32((uint32_t *)p, v, t->lo, t->hi, errstr);
	case S_U32_NEVER:
		if (!strcmp(v, "never")) {
			*(uint32_t *)p = EXPIRE_NEVER;
			return 0;
		}
		/* FALLTHROUGH */
	case S_U32:
		return set_u32((uint32_t *)p, v, t->lo, t->hi, errstr);
	case S_BOOL:
		return set_bool((bool *)p, v, errstr);
	case S_ENUM:
		return set_enum((int *)p, v, t->names, errstr);
	case S_MECHS:
		return config_parse_mechs(v, (unsigned int *)p, errstr);
	}
	if (!own) {
		*sp = v;
		return 0;
	}
	return set_str(c, sp, v, errstr);
}

void
config_defaults(struct config *c)
{
	const struct setting *t;
	const char *errstr;

	memset(c, 0, sizeof(*c));
	for (t = settings; t->name != NULL; t++)
		if (t->def != NULL && apply(c, t, t->def, false, &errstr) == -1)
			abort();	/* a bad default is a bug */
}

int
config_set(struct config *c, const char *name, const char *v,
    const char **errstr)
{
	const struct setting *t;

	for (t = settings; t->name != NULL; t++)
		if (!strcmp(name, t->name))
			return apply(c, t, v, true, errstr);
	*errstr = "unknown setting";
	return -1;
}

void
config_usage(FILE *f)
{
	const struct setting *t;
	const char *const *n;

	for (t = settings; t->name != NULL; t++) {
		fprintf(f, "  --%s=", t->name);
		if (t->type == S_BOOL)
			fputs("yes|no", f);
		else if (t->type == S_ENUM)
			for (n = t->names; *n != NULL; n++)
				fprintf(f, "%s%s", n == t->names ? "" : "|", *n);
		else
			fputs(t->arg, f);
		fprintf(f, "\n      %s%s%s%s\n", t->help, t->def != NULL ?
		    " (default: " : "", t->def != NULL ? t->def : "",
		    t->def != NULL ? ")" : "");
	}
}

static bool
blank(char ch)
{
	return ch == ' ' || ch == '\t';
}

int
config_parse_line(const char *line, size_t len, char *buf, size_t bufsize,
    const char **name_out, const char **value_out, const char **errstr)
{
	size_t i = 0, n0, n1, v0, v1;

	while (i < len && (blank(line[i]) || line[i] == '\r'))
		i++;
	if (i == len || line[i] == '#')
		return 0;
	if (len >= bufsize || memchr(line, '\0', len) != NULL) {
		*errstr = "line too long or holds a NUL";
		return -1;
	}
	n0 = i;
	while (i < len && line[i] != '=' && !blank(line[i]))
		i++;
	n1 = i;
	while (i < len && blank(line[i]))
		i++;
	if (i == len || line[i] != '=' || n1 == n0) {
		*errstr = "expected name = value";
		return -1;
	}
	i++;
	while (i < len && blank(line[i]))
		i++;
	v0 = i;
	v1 = len;
	while (v1 > v0 && (blank(line[v1 - 1]) || line[v1 - 1] == '\r'))
		v1--;
	if (has_ctl(line + v0, v1 - v0)) {
		*errstr = "control character in value";
		return -1;
	}
	memcpy(buf, line + n0, n1 - n0);
	buf[n1 - n0] = '\0';
	memcpy(buf + n1 - n0 + 1, line + v0, v1 - v0);
	buf[n1 - n0 + 1 + v1 - v0] = '\0';
	*name_out = buf;
	*value_out = buf + n1 - n0 + 1;
	return 1;
}

int
config_check_template(const char *t, const char **errstr)
{
	for (; *t != '\0'; t++) {
		if (*t != '%')
			continue;
		t++;
		if (*t != 'u' && *t != 'h' && *t != '%') {
			*errstr = "maildir template allows only %u, %h and %%";
			return -1;
		}
	}
	return 0;
}
