/*
 * fuzz_config.c: a config file (spec 1) line by line through
 * config_parse_line() and config_set(), and maildir templates through
 * config_check_template() and maildir_expand_path().  A parsed line
 * must give a non-empty name without blanks or '=' and a value without
 * control bytes or outer blanks; an expansion must equal a plain model of
 * %u, %h and %% and fit its buffer exactly when the model says it fits.
 */
#include <string.h>

#include "../config.h"
#include "../maildir.h"
#include "../util.h"
#include "fuzz.h"

#define USER	"alice"
#define HOME	"/home/alice"

/* The expansion spelled out; -1 where maildir_expand_path() refuses. */
static int
model_expand(const char *t, const char *user, const char *home, char *out,
    size_t outsize)
{
	const char	*ins;
	size_t		 o = 0, n;
	char		 one[2] = { 0, 0 };

	for (; *t != '\0'; t++) {
		if (*t == '%') {
			if (t[1] == 'u')
				ins = user;
			else if (t[1] == 'h')
				ins = home;
			else if (t[1] == '%')
				ins = "%";
			else
				return -1;
			t++;
			if (*ins == '\0')
				return -1;
		} else {
			one[0] = *t;
			ins = one;
		}
		n = strlen(ins);
		if (o + n >= outsize)
			return -1;
		memcpy(out + o, ins, n);
		o += n;
	}
	if (o == 0)
		return -1;
	out[o] = '\0';
	return 0;
}

static void
check_template(const char *t, size_t outsize)
{
	char		 got[4608], want[4608];
	const char	*errstr = NULL;
	int		 r, m;

	r = maildir_expand_path(t, USER, HOME, got, outsize);
	m = model_expand(t, USER, HOME, want, outsize);
	fuzz_check(r == m);
	if (r == 0)
		fuzz_check(strcmp(got, want) == 0);
	/* An empty user or home is refused wherever it is used. */
	fuzz_check(maildir_expand_path(t, "", HOME, got, outsize) ==
	    model_expand(t, "", HOME, want, outsize));
	fuzz_check(maildir_expand_path(t, USER, "", got, outsize) ==
	    model_expand(t, USER, "", want, outsize));
	if (config_check_template(t, &errstr) == -1)
		fuzz_check(errstr != NULL && r == -1);
}

/* One setting into c; what it set must read back. */
static void
set_one(struct config *c, const char *name, const char *value)
{
	const struct {
		const char	 *name;
		const char	**field;
	} strs[] = {
		{ "passwd-file", &c->passwd_file }, { "maildir", &c->maildir },
		{ "tls-cert", &c->tls_cert }, { "tls-key", &c->tls_key },
		{ "hostname", &c->hostname },
		{ "penalty-file", &c->penalty_file },
	};
	const char	*errstr = NULL;
	size_t		 i;

	if (config_set(c, name, value, &errstr) == -1) {
		fuzz_check(errstr != NULL);
		return;
	}
	for (i = 0; i < sizeof(strs) / sizeof(strs[0]); i++) {
		if (strcmp(name, strs[i].name) != 0)
			continue;
		if (strcmp(name, "penalty-file") == 0 &&
		    strcmp(value, "none") == 0)
			fuzz_check(*strs[i].field == NULL);
		else
			fuzz_check(*strs[i].field != NULL &&
			    strcmp(*strs[i].field, value) == 0 &&
			    *strs[i].field != value);
	}
	fuzz_check(c->max_command_length >= MIN_COMMAND_LENGTH &&
	    c->max_command_length <= MAX_COMMAND_LENGTH);
	fuzz_check(c->timeout_unauth >= 1 && c->timeout_auth >= 1);
	fuzz_check(c->max_auth_failures >= 1 && c->auth_fail_delay <= 60);
	fuzz_check(c->penalty_file == NULL || c->penalty_file[0] == '/');
	if (strcmp(name, "maildir") == 0)
		check_template(value, 4096 + 512);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char	*p = (const char *)data, *end = p + size, *eol;
	const char	*name, *value, *errstr;
	struct config	 c;
	char		 buf[CONFIG_MAX_LINE], *line, *tmpl;
	size_t		 len;
	int		 r;

	/* Like a config file: settings add up, the last one wins. */
	config_defaults(&c);
	for (; p < end; p = eol + 1) {
		if ((eol = memchr(p, '\n', (size_t)(end - p))) == NULL)
			eol = end;
		len = (size_t)(eol - p);
		/* An exact copy, so ASan sees any read past the line. */
		if ((line = malloc(len == 0 ? 1 : len)) == NULL)
			abort();
		memcpy(line, p, len);
		errstr = NULL;
		r = config_parse_line(line, len, buf, sizeof(buf), &name,
		    &value, &errstr);
		fuzz_check(r >= -1 && r <= 1);
		fuzz_check(r != -1 || errstr != NULL);
		if (r == 1) {
			fuzz_check(name == buf && name[0] != '\0');
			fuzz_check(strpbrk(name, " \t=") == NULL);
			fuzz_check(!has_ctl(value, strlen(value)));
			fuzz_check(value[0] != ' ' && value[0] != '\t');
			fuzz_check(value[0] == '\0' ||
			    (value[strlen(value) - 1] != ' ' &&
			    value[strlen(value) - 1] != '\t'));
			set_one(&c, name, value);
		}
		/* Every NUL-free line is also a maildir template. */
		if (memchr(line, '\0', len) == NULL &&
		    (tmpl = strndup(line, len)) != NULL) {
			check_template(tmpl, 1 + len % 64);
			check_template(tmpl, 4096 + 512);
			free(tmpl);
		}
		free(line);
	}
	config_free(&c);
	return 0;
}
