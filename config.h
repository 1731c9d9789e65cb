/*
 * config.h: the settings of spec 1, from long options and a config file.
 * The parsers are pure: they fill a struct config and report a reason.
 */
#ifndef CONFIG_H
#define CONFIG_H

#include <stddef.h>
#include <stdio.h>

#include "pop3.h"

#define CONFIG_MAX_LINE	4096

/* Fills c with the defaults of spec 1 (hostname and passwd-file unset). */
void	config_defaults(struct config *c);

/*
 * Sets one setting by name from a value string.  Returns 0, or -1 with a
 * reason in *errstr_out ("unknown setting", "not a number", ...).  String
 * values are copied; c owns the copies until config_free().
 */
int	config_set(struct config *c, const char *name, const char *value,
	    const char **errstr_out);

/*
 * spec 4.1: parses a list of mechanism names (blank- or comma-separated,
 * any case) into a set of MECH_BIT()s.  Returns 0, or -1 with a reason.
 */
int	config_parse_mechs(const char *v, unsigned int *out,
	    const char **errstr_out);

/* The lower-case name of a mechanism ("scram-sha-256-plus"). */
const char *config_mech_name(enum auth_mech);

/* Writes one line or two per setting, from the table, for --help. */
void	config_usage(FILE *);

/* Frees the values config_set() copied; c is unusable afterwards. */
void	config_free(struct config *c);

/*
 * Parses one config-file line (no newline) of the form "name = value",
 * ignoring blank lines and '#' comments.  Returns 1 when *name_out and
 * *value_out (pointing into buf, at most bufsize bytes) hold a setting,
 * 0 for a blank or comment line, -1 with *errstr_out for a malformed one.
 */
int	config_parse_line(const char *line, size_t len, char *buf,
	    size_t bufsize, const char **name_out, const char **value_out,
	    const char **errstr_out);

/*
 * Checks a maildir template: only %u, %h and %% are allowed.  Returns 0
 * or -1 with a reason.
 */
int	config_check_template(const char *tmpl, const char **errstr_out);

#endif
