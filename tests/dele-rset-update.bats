#!/usr/bin/env bats
# bats file_tags=quick
# DELE marks, RSET unmarks, QUIT in TRANSACTION enters UPDATE and unlinks
# exactly the marked messages; any other end removes nothing (spec 3, 5).

load helpers/load
load helpers/mail

# Three messages in cur/: 6 + 21 + 14 = 41 octets.
three() {
	three_msgs
}

# cur_is NAME...: cur/ holds exactly these files.
cur_is() {
	local want got
	want=$(printf '%s\n' "$@" | sort)
	got=$(ls -A "$MD/cur" | sort)
	[ "$want" = "$got" ] || { echo "cur/: [$got] want [$want]" >&2; return 1; }
}

ALL='1700000001.M1P1.host:2, 1700000002.M1P1.host:2, 1700000003.M1P1.host:2,'

@test "DELE answers with the message number (spec 3 DELE)" {
	three
	session 'DELE 2' | chat
	[ "$status" -eq 0 ]
	expect_after 4 '+OK Message 2 deleted' '+OK Bye'
}

@test "DELE then QUIT removes exactly the marked messages (spec 5 UPDATE)" {
	three
	session 'DELE 1' 'DELE 3' | chat
	[ "$status" -eq 0 ]
	expect_after 4 '+OK Message 1 deleted' '+OK Message 3 deleted' '+OK Bye'
	cur_is 1700000002.M1P1.host:2,
}

@test "QUIT without DELE removes nothing (spec 5 UPDATE)" {
	three
	session STAT | chat
	[ "$status" -eq 0 ]
	# shellcheck disable=SC2086
	cur_is $ALL
}

@test "DELE of a message already marked is an error (spec 3 DELE)" {
	three
	session 'DELE 2' 'DELE 2' | chat
	expect_after 4 '+OK Message 2 deleted' '-ERR Message 2 is deleted' \
	    '+OK Bye'
}

@test "DELE argument errors (spec 2 message numbers)" {
	three
	session 'DELE' 'DELE 0' 'DELE 4' 'DELE 1x' 'DELE 1 2' | chat
	expect_after 4 '-ERR Missing message number' '-ERR No such message' \
	    '-ERR No such message' \
	    '-ERR Invalid message number: trailing characters' \
	    '-ERR Too many arguments' '+OK Bye'
	# shellcheck disable=SC2086
	cur_is $ALL
}

@test "RSET answers with the counts after clearing the marks (spec 3 RSET)" {
	three
	session 'DELE 1' 'DELE 2' STAT RSET STAT | chat
	expect_after 4 '+OK Message 1 deleted' '+OK Message 2 deleted' \
	    '+OK 1 14' '+OK 3 messages (41 octets)' '+OK 3 41' '+OK Bye'
}

@test "RSET unmarks: QUIT afterwards removes nothing (spec 3 RSET, 5)" {
	three
	session 'DELE 1' 'DELE 2' RSET | chat
	[ "$status" -eq 0 ]
	# shellcheck disable=SC2086
	cur_is $ALL
}

@test "a message unmarked by RSET can be retrieved and marked again (spec 3 RSET)" {
	three
	session 'DELE 1' RSET 'LIST 1' 'DELE 1' | chat
	expect_after 4 '+OK Message 1 deleted' '+OK 3 messages (41 octets)' \
	    '+OK 1 6' '+OK Message 1 deleted' '+OK Bye'
	cur_is 1700000002.M1P1.host:2, 1700000003.M1P1.host:2,
}

@test "NOOP answers +OK and changes nothing (spec 3 NOOP)" {
	three
	session NOOP | chat
	expect_after 4 '+OK' '+OK Bye'
}

@test "end of input without QUIT removes nothing, exit 1 (spec 5)" {
	three
	{ login alice pw; crlf 'DELE 1' 'DELE 2'; } | chat
	[ "$status" -eq 1 ]
	expect_after 4 '+OK Message 1 deleted' '+OK Message 2 deleted'
	# shellcheck disable=SC2086
	cur_is $ALL
}

@test "a session killed before QUIT removes nothing (spec 5)" {
	three
	sess_start A
	sess_send A 'USER alice' 'PASS pw' 'DELE 1' 'DELE 3'
	sess_wait A 5
	kill -KILL "$(sess_handler_pid A)"
	sess_end A
	[ "$status" -eq 137 ]
	# shellcheck disable=SC2086
	cur_is $ALL
}

@test "QUIT after a marked message was removed by someone else: +OK Bye (spec 5)" {
	three
	sess_start A
	sess_send A 'USER alice' 'PASS pw' 'DELE 1' 'DELE 2'
	sess_wait A 5
	rm "$MD/cur/1700000001.M1P1.host:2,"
	sess_send A QUIT
	sess_end A
	[ "$status" -eq 0 ]
	expect_after 4 '+OK Message 1 deleted' '+OK Message 2 deleted' '+OK Bye'
	cur_is 1700000003.M1P1.host:2,
}

@test "UPDATE removes a marked message renamed meanwhile (spec 5)" {
	three
	sess_start A
	sess_send A 'USER alice' 'PASS pw' 'DELE 2'
	sess_wait A 4
	mv "$MD/cur/1700000002.M1P1.host:2," "$MD/cur/1700000002.M1P1.host:2,S"
	sess_send A QUIT
	sess_end A
	[ "$status" -eq 0 ]
	expect_after 4 '+OK Message 2 deleted' '+OK Bye'
	cur_is 1700000001.M1P1.host:2, 1700000003.M1P1.host:2,
}

@test "UPDATE never removes messages outside the snapshot (spec 5)" {
	three
	sess_start A
	sess_send A 'USER alice' 'PASS pw' 'DELE 1' 'DELE 2' 'DELE 3'
	sess_wait A 6
	putf cur 1700000004.M1P1.host:2, 'late\n'
	putf new 1700000005.M1P1.host 'later\n'
	sess_send A QUIT
	sess_end A
	[ "$status" -eq 0 ]
	cur_is 1700000004.M1P1.host:2,
	[ -f "$MD/new/1700000005.M1P1.host" ]
}

@test "UPDATE failure: -ERR [SYS/TEMP] k of m, nothing unmarked removed (spec 5, V0006)" {
	three
	if ! unshare -m true 2>/dev/null; then
		skip "needs unshare -m (root) to make unlink fail with EROFS"
	fi
	session 'DELE 2' >"$T/in"
	status=0
	# cur/ read-only in a private mount namespace: unlink fails even for
	# root.  The messages are in cur/ already, so login renames nothing.
	timeout 20 unshare -m sh -c '
		mount --bind "$1/cur" "$1/cur" &&
		mount -o remount,bind,ro "$1/cur" || exit 77
		shift
		exec "$@"' sh "$MD" "$HANDLER" --passwd-file="$PASSWD" \
	    --log=stderr --hostname=test.example --auth-fail-delay=0 \
	    <"$T/in" >"$out" 2>"$log" || status=$?
	[ "$status" -ne 77 ] || skip "read-only bind mount not possible here"
	expect_after 4 '+OK Message 2 deleted' \
	    '-ERR [SYS/TEMP] 1 of 1 messages could not be removed'
	# shellcheck disable=SC2086
	cur_is $ALL
}
