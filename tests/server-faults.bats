#!/usr/bin/env bats
# spec 9: a server-side fault is never reported as a wrong
# password.  An unreadable or missing passwd file, a Maildir that cannot
# be created, a state file that cannot be read: -ERR [SYS/TEMP] to the
# client and an event=error entry naming the file and the system error.
# The service account and the user are uids 4243 and 4242: needs root.

load helpers/load

TEMPAUTH='-ERR [SYS/TEMP] Authentication is temporarily unavailable; try again later'
NOBOX='-ERR [SYS/TEMP] Unable to open maildrop'

setup() {
	common_setup
	[ "$(id -u)" = 0 ] || skip "needs root"
	priv_mailroot fault
	PASSWD=$PRIVROOT/passwd
	: >"$PASSWD"
}

teardown() {
	[ -z "${PRIVROOT:-}" ] || rm -rf "$PRIVROOT"
	no_sanitizer_report
}

# chat_as UID ARGS...: chat, with the handler run as uid/gid UID (the
# service account), no supplementary groups.
chat_as() {
	local id=$1
	shift
	status=0
	timeout 20 setpriv --reuid="$id" --regid="$id" --clear-groups -- \
	    "$HANDLER" --passwd-file="$PASSWD" --log=stderr \
	    --hostname=test.example --auth-fail-delay=0 --penalty-file=none \
	    "$@" >"$out" 2>"$log" || status=$?
}

@test "passwd file unreadable by the service account: [SYS/TEMP], event=error with the file and errno, not a wrong password (spec 9)" {
	add_user alice pw
	chmod 600 "$PASSWD"
	crlf 'USER alice' 'PASS pw' QUIT | chat_as 4243
	cat "$log" >&2
	[ "$status" -eq 0 ]
	expect_bytes "$GREET" "$PWREQ" "$TEMPAUTH" '+OK Bye'
	grep -qx "pop3-handler: event=error user=alice remote=local mech=user cannot read the passwd file $PASSWD: Permission denied" "$log"
	! grep -q 'login-failed\|unknown user' "$log"
}

@test "passwd file unreadable, AUTH PLAIN: [SYS/TEMP] as well (spec 9)" {
	add_user alice pw
	chmod 600 "$PASSWD"
	crlf "AUTH PLAIN $(printf '\0alice\0pw' | base64)" QUIT | chat_as 4243
	[ "$status" -eq 0 ]
	expect_bytes "$GREET" "$TEMPAUTH" '+OK Bye'
	grep -q "event=error .*cannot read the passwd file $PASSWD: Permission denied" "$log"
}

@test "passwd file unreadable: the fault is not counted as a failure, max-auth-failures does not close (spec 9)" {
	add_user alice pw
	chmod 600 "$PASSWD"
	crlf 'USER alice' 'PASS pw' 'USER alice' 'PASS pw' QUIT |
	    chat_as 4243 --max-auth-failures=1
	[ "$status" -eq 0 ]
	expect_bytes "$GREET" "$PWREQ" "$TEMPAUTH" "$PWREQ" "$TEMPAUTH" \
	    '+OK Bye'
}

@test "missing passwd file: logged with its real errno, not Input/output error (spec 9)" {
	crlf 'USER alice' 'PASS pw' QUIT |
	    chat --passwd-file="$PRIVROOT/no-such-passwd"
	cat "$log" >&2
	[ "$status" -eq 0 ]
	expect_bytes "$GREET" "$PWREQ" "$TEMPAUTH" '+OK Bye'
	grep -q "event=error .*cannot read the passwd file $PRIVROOT/no-such-passwd: No such file or directory" "$log"
	! grep -q 'Input/output error' "$log"
	run timeout 20 "$HANDLER" --passwd-file="$PRIVROOT/no-such-passwd" \
	    --check-user=alice
	[ "$status" -eq 2 ]
	[[ $output == *'problem: cannot read the passwd file: No such file or directory'* ]]
	[[ $output != *'Input/output error'* ]]
}

@test "Maildir whose parent the user cannot write: [SYS/TEMP] with the errno in the log (spec 9)" {
	add_user alice pw 4242 4242
	chmod 755 "$MAILROOT/alice"		# root's: alice cannot create in it
	crlf 'USER alice' 'PASS pw' | chat
	cat "$log" >&2
	[ "$status" -eq 1 ]
	expect_bytes "$GREET" "$PWREQ" "$NOBOX"
	grep -qx "pop3-handler: event=error user=alice remote=local mech=user cannot open maildrop $MAILROOT/alice/Maildir: cannot create the Maildir: Permission denied" "$log"
	! grep -q 'login-failed' "$log"
	# the session ended before login: reason=server-error (spec 9)
	grep -qx 'pop3-handler: event=aborted user=alice remote=local mech=user aborted login: reason=server-error attempts=1 users=alice tls=no' "$log"
}

@test "--check-user: a Maildir the login cannot create is a problem, not 'a login would work' (spec 9)" {
	add_user alice pw 4242 4242
	chmod 755 "$MAILROOT/alice"
	run timeout 20 "$HANDLER" --passwd-file="$PASSWD" --check-user=alice
	echo "$output" >&2
	[ "$status" -eq 1 ]
	[[ $output == *'problem: the login cannot create the Maildir'* ]]
	[ "${lines[${#lines[@]}-1]}" = 'result: a login would fail' ]
	# the same home owned by alice: the first login creates it
	chown 4242:4242 "$MAILROOT/alice"
	run timeout 20 "$HANDLER" --passwd-file="$PASSWD" --check-user=alice
	echo "$output" >&2
	[ "$status" -eq 0 ]
	[[ $output == *'maildir-state: missing (the first login creates it)'* ]]
	[ "${lines[${#lines[@]}-1]}" = 'result: a login would work' ]
}

@test "--check-user as the service account: an unwritable parent is a problem (spec 9)" {
	add_user alice pw
	chmod 644 "$PASSWD"
	chmod 755 "$MAILROOT/alice"
	run timeout 20 setpriv --reuid=4243 --regid=4243 --clear-groups -- \
	    "$HANDLER" --passwd-file="$PASSWD" --check-user=alice
	echo "$output" >&2
	[ "$status" -eq 1 ]
	[[ $output == *'problem: the login cannot create the Maildir'* ]]
}

@test "UID state file the user cannot read: [SYS/TEMP], event=error naming the file and errno (spec 9)" {
	add_user alice pw 4242 4242
	local md
	md=$(maildir alice)
	mkdir -p "$md/new" "$md/cur" "$md/tmp"
	printf 'a\n' >"$md/cur/1700000001.M1P1.host:2,"
	chown -R 4242:4242 "$MAILROOT/alice"
	printf 'junk\n' >"$md/pop3-handler-uidlist"
	chown 0:0 "$md/pop3-handler-uidlist"
	chmod 600 "$md/pop3-handler-uidlist"
	crlf 'USER alice' 'PASS pw' | chat
	cat "$log" >&2
	[ "$status" -eq 1 ]
	expect_bytes "$GREET" "$PWREQ" "$NOBOX"
	grep -qx "pop3-handler: event=error user=alice remote=local mech=user cannot open maildrop $md: cannot read the UID state file pop3-handler-uidlist: Permission denied" "$log"
	# nothing was rebuilt or renumbered
	[ "$(cat "$md/pop3-handler-uidlist")" = junk ]
}
