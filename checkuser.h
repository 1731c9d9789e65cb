/*
 * checkuser.h: the --check-user=NAME helper mode, an offline report for
 * the administrator of what a login of NAME would see.
 */
#ifndef CHECKUSER_H
#define CHECKUSER_H

#include "pop3.h"

/*
 * Looks NAME up in cfg->passwd_file and inspects the Maildir the login
 * would open, without changing anything: nothing is created, moved or
 * rewritten, and the Maildir is not locked.  Prints a report to stdout
 * (never the password hash; whether the account is locked), and problems
 * that would stop a login as "problem: ..." lines.  Malformed passwd
 * lines go through log_warnx(), so main() calls log_init(LOGTO_STDERR)
 * first.  Returns the exit status: 0 when a login would work, 1 when it
 * would not (unknown or invalid name, locked account, no usable Maildir,
 * unreadable UID state file), 2 when the passwd file cannot be read.
 */
int	checkuser_run(const struct config *cfg, const char *name);

#endif
