#!/usr/bin/env bats
# Run as root, the handler becomes the user of the passwd line before it
# opens anything of the user's, and refuses uid 0 (spec 4 success).
# Skipped unless root.

load helpers/load
load helpers/mail

setup() {
	common_setup
	[ "$(id -u)" = 0 ] || skip "needs root"
	priv_mailroot priv
}

teardown() {
	sess_cleanup
	[ -z "${PRIVROOT:-}" ] || rm -rf "$PRIVROOT"
	no_sanitizer_report
}

# user4242: alice as uid/gid 4242 with home $MAILROOT/alice owned by her
# and no Maildir yet.
user4242() {
	add_user alice pw 4242 4242
	MD=$(maildir alice)
	chown 4242:4242 "$MAILROOT/alice"
	chmod 700 "$MAILROOT/alice"
}

@test "the Maildir created at login belongs to the user, mode 0700 (spec 4)" {
	user4242
	session STAT | chat
	[ "$status" -eq 0 ]
	expect_after 3 '+OK Logged in, 0 messages (0 octets)' '+OK 0 0' '+OK Bye'
	local d
	for d in "$MD" "$MD/new" "$MD/cur" "$MD/tmp"; do
		[ "$(stat -c '%u:%g %a' "$d")" = '4242:4242 700' ] ||
		    { stat -c '%n %u:%g %a' "$d" >&2; return 1; }
	done
}

@test "the UID state file belongs to the user (spec 4, 6)" {
	user4242
	mkdir -p "$MD/new" "$MD/cur" "$MD/tmp"
	putf new 1700000001.M1P1.host 'a\n'
	chown -R 4242:4242 "$MD"
	chmod -R go-rwx "$MD"
	session UIDL | chat
	[ "$status" -eq 0 ]
	line_is 3 '+OK Logged in, 1 messages (3 octets)' ||
	    line_is 3 '+OK Logged in, 1 message (3 octets)'
	[ "$(stat -c %u:%g "$MD/pop3-handler-uidlist")" = 4242:4242 ]
	[ "$(stat -c %u "$MD/cur/1700000001.M1P1.host:2,")" = 4242 ]
	# no file of the user's is left owned by root
	[ -z "$(find "$MD" -uid 0)" ]
}

@test "the logged-in process runs as the user's uid, gid and no root group (spec 4)" {
	user4242
	sess_start A
	sess_send A 'USER alice' 'PASS pw'
	sess_wait A 3
	local pid
	pid=$(sess_handler_pid A)
	grep -E '^(Uid|Gid|Groups):' "/proc/$pid/status" >"$T/ids"
	sess_send A QUIT
	sess_end A
	[ "$status" -eq 0 ]
	grep -qE '^Uid:\s+4242\s+4242\s+4242\s+4242$' "$T/ids"
	grep -qE '^Gid:\s+4242\s+4242\s+4242\s+4242$' "$T/ids"
	nogrep -qE '^Groups:.*\b0\b' "$T/ids"
}

@test "uid 0 in the passwd line is refused (spec 4)" {
	add_user alice pw 0 0
	MD=$(maildir alice)
	session STAT | chat
	[ "$status" -eq 1 ]
	expect_after 3 '-ERR [SYS/PERM] Unable to switch to the user'
	[ ! -e "$MD" ]
}

@test "uid 0 with a non-zero gid is refused as well (spec 4)" {
	add_user alice pw 0 4242
	session STAT | chat
	[ "$status" -eq 1 ]
	expect_after 3 '-ERR [SYS/PERM] Unable to switch to the user'
}

@test "a message of another uid with mode 600 is not sent (spec 4 privilege drop)" {
	user4242
	mkdir -p "$MD/new" "$MD/cur" "$MD/tmp"
	putf cur '1700000001.M1P1.host,W=12:2,' 'TOPSECRET\n'
	putf cur 1700000002.M1P1.host:2, 'mine\n'
	chown -R 4242:4242 "$MD"
	chmod -R go-rwx "$MD"
	chown 4243:4243 "$MD/cur/1700000001.M1P1.host,W=12:2,"
	chmod 600 "$MD/cur/1700000001.M1P1.host,W=12:2,"
	session 'RETR 1' 'RETR 2' | chat
	nogrep -aq TOPSECRET "$out"
	[ "$(line 4 | cut -c1-5)" = '-ERR ' ]
	expect_after 5 '+OK 6 octets' 'mine' '.' '+OK Bye'
}

@test "an unreadable message without ,W= never leaks (spec 4 privilege drop)" {
	user4242
	mkdir -p "$MD/new" "$MD/cur" "$MD/tmp"
	putf cur 1700000001.M1P1.host:2, 'TOPSECRET\n'
	chown -R 4242:4242 "$MD"
	chmod -R go-rwx "$MD"
	chown 4243:4243 "$MD/cur/1700000001.M1P1.host:2,"
	session 'RETR 1' | chat
	nogrep -aq TOPSECRET "$out"
	grep -aq '^-ERR ' "$out"
}
