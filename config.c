/*
 * config.c: defaults, validation and the "name = value" line parser for
 * the settings of SPEC 1.  Pure functions apart from strdup() of values:
 * no I/O, no globals.  Reading files and argv is main()'s job.
 */
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "uidmap.h"
#include "util.h"

void
config_defaults(struct config *c)
{
	memset(c, 0, sizeof(*c));
	c->maildir = "%h/Maildir";
	c->timeout_unauth = 60;
	c->timeout_auth = 1800;
	c->max_command_length = 512;
	c->plaintext_auth = PLAINTEXT_TLS;
	c->uidl = UIDL_COUNTER;
	c->uidl_import = UIDMAP_IMPORT_AUTO;
	c->auth_fail_delay = 2;
	c->max_auth_failures = 3;
	c->log = LOGTO_AUTO;
	c->penalty_file = "/var/lib/pop3-handler/penalty";
	c->state_dir = "/var/lib/pop3-handler";
	c->auth_mechs = MECH_BIT(MECH_PLAIN) | MECH_BIT(MECH_LOGIN) |
	    MECH_BIT(MECH_SCRAM_SHA_256) | MECH_BIT(MECH_SCRAM_SHA_256_PLUS) |
	    MECH_BIT(MECH_GSSAPI);
	c->login_delay = 0;
	c->expire_days = EXPIRE_NEVER;
}

/* SPEC 4.1: the names of enum auth_mech, lower case, in its order. */
static const char *const mech_names[MECH_COUNT] = {
	"plain", "login", "scram-sha-1", "scram-sha-1-plus", "scram-sha-256",
	"scram-sha-256-plus", "gssapi", "ntlm"
};

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

static int
set_uint(unsigned int *u, const char *v, uint32_t lo, uint32_t hi,
    const char **errstr)
{
	uint32_t n;
	enum parse_num r;

	if ((r = parse_u32(v, &n)) != NUM_OK) {
		*errstr = parse_num_str(r);
		return -1;
	}
	if (n < lo || n > hi) {
		*errstr = "out of range";
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

static int
set_abs_path(struct config *c, const char **s, const char *v,
    const char **errstr)
{
	if (v[0] != '/') {
		*errstr = "expected an absolute path";
		return -1;
	}
	return set_str(c, s, v, errstr);
}

static int
set_u32(uint32_t *u, const char *v, uint32_t lo, uint32_t hi,
    const char **errstr)
{
	unsigned int n;

	if (set_uint(&n, v, lo, hi, errstr) == -1)
		return -1;
	*u = n;
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

/* Order matches the enums in pop3.h. */
static const char *const plaintext_names[] = { "tls", "never", "always",
    NULL };
static const char *const uidl_names[] = { "counter", "filename", NULL };
/* Order matches enum uidmap_import in uidmap.h. */
static const char *const import_names[] = { "auto", "dovecot", "courier",
    "filename", "none", NULL };
static const char *const log_names[] = { "auto", "journal", "syslog",
    "stderr", NULL };

int
config_set(struct config *c, const char *name, const char *v,
    const char **errstr)
{
	int e, r;

	if (!strcmp(name, "passwd-file"))
		return set_str(c, &c->passwd_file, v, errstr);
	if (!strcmp(name, "maildir")) {
		if (config_check_template(v, errstr) == -1)
			return -1;
		return set_str(c, &c->maildir, v, errstr);
	}
	if (!strcmp(name, "timeout-unauth"))
		return set_uint(&c->timeout_unauth, v, 1, 86400, errstr);
	if (!strcmp(name, "timeout-auth"))
		return set_uint(&c->timeout_auth, v, 1, 86400, errstr);
	if (!strcmp(name, "max-command-length"))
		return set_uint(&c->max_command_length, v, MIN_COMMAND_LENGTH,
		    MAX_COMMAND_LENGTH, errstr);
	if (!strcmp(name, "plaintext-auth")) {
		if ((r = set_enum(&e, v, plaintext_names, errstr)) == 0)
			c->plaintext_auth = (enum plaintext_auth)e;
		return r;
	}
	if (!strcmp(name, "tls-cert"))
		return set_str(c, &c->tls_cert, v, errstr);
	if (!strcmp(name, "tls-key"))
		return set_str(c, &c->tls_key, v, errstr);
	if (!strcmp(name, "implicit-tls"))
		return set_bool(&c->implicit_tls, v, errstr);
	if (!strcmp(name, "secured"))
		return set_bool(&c->secured, v, errstr);
	if (!strcmp(name, "uidl")) {
		if ((r = set_enum(&e, v, uidl_names, errstr)) == 0)
			c->uidl = (enum uidl_mode)e;
		return r;
	}
	if (!strcmp(name, "uidl-import")) {
		/* SPEC 6, C0009: the first login's source of kept UIDLs. */
		if ((r = set_enum(&e, v, import_names, errstr)) == 0)
			c->uidl_import = (unsigned int)e;
		return r;
	}
	if (!strcmp(name, "hostname")) {
		if (has_ctl(v, strlen(v)) || strlen(v) > 255) {
			*errstr = "not a valid host name";
			return -1;
		}
		return set_str(c, &c->hostname, v, errstr);
	}
	if (!strcmp(name, "auth-fail-delay"))
		return set_uint(&c->auth_fail_delay, v, 0, 60, errstr);
	if (!strcmp(name, "max-auth-failures"))
		return set_uint(&c->max_auth_failures, v, 1, 100, errstr);
	if (!strcmp(name, "proxy-protocol"))
		return set_bool(&c->proxy_protocol, v, errstr);
	if (!strcmp(name, "log")) {
		if ((r = set_enum(&e, v, log_names, errstr)) == 0)
			c->log = (enum log_backend)e;
		return r;
	}
	if (!strcmp(name, "penalty-file")) {
		/* Issue 5: an absolute path, or "none" to turn it off. */
		if (!strcmp(v, "none")) {
			c->penalty_file = NULL;
			return 0;
		}
		if (v[0] != '/') {
			*errstr = "expected an absolute path or none";
			return -1;
		}
		return set_str(c, &c->penalty_file, v, errstr);
	}
	if (!strcmp(name, "auth-mechanisms"))
		return config_parse_mechs(v, &c->auth_mechs, errstr);
	if (!strcmp(name, "gssapi-keytab"))
		return set_abs_path(c, &c->gssapi_keytab, v, errstr);
	if (!strcmp(name, "gssapi-realms"))
		return set_str(c, &c->gssapi_realms, v, errstr);
	if (!strcmp(name, "gssapi-rcache-dir"))
		return set_abs_path(c, &c->gssapi_rcache_dir, v, errstr);
	if (!strcmp(name, "state-dir"))
		return set_abs_path(c, &c->state_dir, v, errstr);
	if (!strcmp(name, "login-delay"))
		return set_u32(&c->login_delay, v, 0, MAX_LOGIN_DELAY, errstr);
	if (!strcmp(name, "expire")) {
		if (!strcmp(v, "never")) {
			c->expire_days = EXPIRE_NEVER;
			return 0;
		}
		return set_u32(&c->expire_days, v, 0, MAX_EXPIRE_DAYS, errstr);
	}
	if (!strcmp(name, "log-retrievals"))
		return set_bool(&c->log_retrievals, v, errstr);
	*errstr = "unknown setting";
	return -1;
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

int
config_expand_maildir(const char *t, const char *user, const char *home,
    char *out, size_t outsize)
{
	size_t o = 0, n;
	const char *ins;
	char pct[2] = "%";

	for (; *t != '\0'; t++) {
		if (*t == '%') {
			t++;
			if (*t == 'u')
				ins = user;
			else if (*t == 'h')
				ins = home;
			else if (*t == '%')
				ins = pct;
			else
				return -1;
			if (*ins == '\0')
				return -1;
		} else {
			pct[0] = *t;
			ins = pct;
		}
		n = strlen(ins);
		if (n >= outsize - o)
			return -1;
		memcpy(out + o, ins, n);
		o += n;
		pct[0] = '%';
	}
	if (o == 0)
		return -1;
	out[o] = '\0';
	return 0;
}
