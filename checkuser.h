/*
 * checkuser.h: the --check-user=NAME helper mode, an offline report for
 * the administrator of what a login of NAME would see.
 */
#ifndef CHECKUSER_H
#define CHECKUSER_H

#include <stdbool.h>
#include <stdio.h>

#include "pop3.h"
#include "uidmap.h"

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

/*
 * checkuser-uidl.c, for checkuser_run(): writes to f one "uidl-list: <n>
 * <uidl>" line per message of the Maildir mdfd, in the order and with the
 * UIDLs a login would show now (counter: uidl = counter; mode: the
 * uidl-import setting), reading only: new/ and cur/, the state file or
 * the import source.  A message that gets a counter UID at the next
 * login shows the UID it will get when that is certain, else "(new)".
 * Returns the number of messages, or -1 with errno.
 */
long	checkuser_uidl_preview(int mdfd, bool counter,
	    enum uidmap_import mode, FILE *f);

#endif
