#!/usr/bin/env bats
# EXPIRE under crashes (spec 4.3, 5): expired messages join the DELE'd
# ones in UPDATE's intent list, after the first retrievals are stored
# under the lock.  A handler killed at any step of that (the state file
# stored, the list written, the first unlink, before the list's removal)
# never loses a message that was neither marked nor expired; the next
# login finishes the list, and its own QUIT expires what was recorded.
#
# The kills come from build/fault/pop3-handler (-DPOP3_FAULT_INJECTION):
# POP3_FAULT=<point> raises SIGKILL there (policy.c, maildir-update.c).  The next
# login runs $HANDLER, the build under test.

load helpers/load
load helpers/mail

setup_file() {
	fault_build
}

setup() {
	fault_setup
}

STATE=pop3-handler-uidlist

# five: messages 1..5 (UIDs 1..5); message 3 was first retrieved two
# days ago; alice has expire=0.
five() {
	local hash i now
	hash=$(printf pw | openssl passwd -6 -salt saltsalt -stdin)
	mkdir -p "$MAILROOT/alice"
	printf 'alice:%s::::%s::expire=0\n' "$hash" "$MAILROOT/alice" \
	    >>"$PASSWD"
	MD=$(maildir alice)
	mkdir -p "$MD/new" "$MD/cur" "$MD/tmp"
	now=$(date +%s)
	printf 'pop3-handler-uidlist 3 next=6\n' >"$MD/$STATE"
	for i in 1 2 3 4 5; do
		printf 'Subject: %s\n\nbody %s\n' "$i" "$i" \
		    >"$MD/cur/170000000$i.M1P1.host:2,"
		printf '%s 0 0 0 - 170000000%s.M1P1.host:2,\n' "$i" "$i" \
		    >>"$MD/$STATE"
	done
	printf '@retr 3 %s\n' "$((now - 2 * 86400))" >>"$MD/$STATE"
}

# have N...: cur/ holds exactly messages N..., each intact.
have() {
	local want got i
	want=$(printf '170000000%s.M1P1.host:2,\n' "$@" | sort)
	got=$(ls -A "$MD/cur" | sort)
	[ "$want" = "$got" ] || { echo "cur/: [$got] want [$want]" >&2
		return 1; }
	for i in "$@"; do
		[ "$(cat "$MD/cur/170000000$i.M1P1.host:2,")" = \
		    "$(printf 'Subject: %s\n\nbody %s' "$i" "$i")" ]
	done
}

# kill_at POINT: DELE 1, RETR 2, QUIT, killed at POINT.
kill_at() {
	status=0
	{ login alice pw; crlf 'DELE 1' 'RETR 2' QUIT; } |
	    POP3_FAULT=$1 timeout 20 "$FAULT" --passwd-file="$PASSWD" \
	    --log=stderr --hostname=test.example --auth-fail-delay=0 \
	    >"$out" 2>"$log" || status=$?
	[ "$status" -eq 137 ] || { echo "status $status" >&2; return 1; }
	! grep -q '^+OK Bye' "$out"
}

# next_login: a plain login and QUIT that finishes what was left.
next_login() {
	{ login alice pw; crlf STAT QUIT; } | chat
	[ "$status" -eq 0 ]
	line_is 5 '+OK Bye'
}

@test "no fault: the DELE'd, the retrieved and the long-retrieved go, 4 and 5 stay (spec 4.3)" {
	five
	{ login alice pw; crlf 'DELE 1' 'RETR 2' QUIT; } | chat
	[ "$status" -eq 0 ]
	have 4 5
	[ -z "$(ls -A "$MD" | grep '^pop3-handler-update' || true)" ]
}

@test "killed after the retrievals are stored, before the list: nothing removed; the next QUIT expires 2 and 3 (spec 4.3, 5)" {
	five
	kill_at expire-after-state
	have 1 2 3 4 5
	grep -q '^@retr 2 [0-9]*$' "$MD/$STATE"
	next_login
	# DELE 1 never got its +OK: message 1 stays (V0006).
	have 1 4 5
}

@test "killed after the intent list is written: the next login removes exactly the marked and expired (spec 4.3, 5)" {
	five
	kill_at update-after-list
	have 1 2 3 4 5
	next_login
	have 4 5
	grep -q 'finished an interrupted UPDATE' "$log"
}

@test "killed after the first unlink: the rest goes at the next login, 4 and 5 stay (spec 4.3, 5)" {
	five
	kill_at update-after-first-unlink
	have 2 3 4 5
	next_login
	have 4 5
}

@test "killed before the list is removed: everything listed is gone, 4 and 5 stay (spec 4.3, 5)" {
	five
	kill_at update-before-list-removal
	have 4 5
	next_login
	have 4 5
	[ -z "$(ls -A "$MD" | grep '^pop3-handler-update' || true)" ]
}
