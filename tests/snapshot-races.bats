#!/usr/bin/env bats
# bats file_tags=quick
# No exclusive lock: two sessions of one user at once; the snapshot
# ignores later additions, flag changes and removals (spec 5; 2.1.3,
# C0004).  Session A is driven step by step through a fifo.

load helpers/load
load helpers/mail

two() {
	setup_alice
	putf cur 1700000001.M1P1.host:2, 'S: one\n\nfirst\n'
	putf cur 1700000002.M1P1.host:2, 'S: two\n\nsecond\n'
}

# A logs in and waits for the login reply.
a_login() {
	sess_start A "$@"
	sess_send A 'USER alice' 'PASS pw'
	sess_wait A 3
}

@test "a second session of the same user logs in while the first runs (spec 5, 2.1.3)" {
	two
	a_login
	session STAT | chat
	[ "$status" -eq 0 ]
	line_is 3 '+OK Logged in, 2 messages (35 octets)'
	expect_after 4 '+OK 2 35' '+OK Bye'
	sess_send A STAT QUIT
	sess_end A
	[ "$status" -eq 0 ]
	expect_after 3 '+OK Logged in, 2 messages (35 octets)' '+OK 2 35' \
	    '+OK Bye'
}

@test "[IN-USE] is never sent, whatever the other session does (spec 2, 2.1.3)" {
	two
	a_login
	sess_start B
	sess_send B 'USER alice' 'PASS pw'
	sess_wait B 3
	session 'DELE 1' | chat
	sess_send A 'RETR 1' 'DELE 2' QUIT
	sess_send B 'RETR 2' QUIT
	sess_end A
	sess_end B
	nogrep -aq 'IN-USE' "$T/A.out" "$T/B.out" "$T/out"
	nogrep -aq '^-ERR \[SYS' "$T/B.out"
}

@test "a message delivered during a session is not in its snapshot (C0004)" {
	two
	a_login
	putf new 1700000003.M1P1.host 'S: three\n\nthird\n'
	putf cur 1700000004.M1P1.host:2, 'S: four\n\nfourth\n'
	sess_send A STAT LIST UIDL 'RETR 3' QUIT
	sess_end A
	[ "$status" -eq 0 ]
	uidl_body >"$T/u"
	[ "$(wc -l <"$T/u")" -eq 2 ]
	expect_after 4 '+OK 2 35' '+OK 2 messages (35 octets)' '1 17' '2 18' \
	    '.' '+OK Unique-ID listing follows' "$(sed -n 1p "$T/u")" \
	    "$(sed -n 2p "$T/u")" '.' '-ERR No such message' '+OK Bye'
	# and it is still there for the next session
	[ -f "$MD/new/1700000003.M1P1.host" ]
	session STAT | chat
	line_is 4 '+OK 4 73'
}

@test "RETR of a message removed by another session: removed from the maildrop (C0004)" {
	two
	a_login
	session 'DELE 1' | chat
	[ "$status" -eq 0 ]
	[ ! -e "$MD/cur/1700000001.M1P1.host:2," ]
	sess_send A 'RETR 1' QUIT
	sess_end A
	[ "$status" -eq 0 ]
	expect_after 4 '-ERR Message 1 was removed from the maildrop' '+OK Bye'
}

@test "TOP of a message removed by another session: removed from the maildrop (C0004)" {
	two
	a_login
	session 'DELE 2' | chat
	[ "$status" -eq 0 ]
	sess_send A 'TOP 2 0' QUIT
	sess_end A
	[ "$status" -eq 0 ]
	expect_after 4 '-ERR Message 2 was removed from the maildrop' '+OK Bye'
}

@test "STAT and LIST still show a message removed meanwhile (C0004)" {
	two
	a_login
	rm "$MD/cur/1700000001.M1P1.host:2,"
	sess_send A STAT 'LIST 1' 'RETR 2' QUIT
	sess_end A
	[ "$status" -eq 0 ]
	expect_after 4 '+OK 2 35' '+OK 1 17' '+OK 18 octets' 'S: two' '' \
	    'second' '.' '+OK Bye'
}

@test "RETR finds a message renamed meanwhile (flags changed) (spec 5, C0004)" {
	two
	a_login
	mv "$MD/cur/1700000001.M1P1.host:2," "$MD/cur/1700000001.M1P1.host:2,S"
	sess_send A 'RETR 1' QUIT
	sess_end A
	[ "$status" -eq 0 ]
	expect_after 4 '+OK 17 octets' 'S: one' '' 'first' '.' '+OK Bye'
}

@test "TOP finds a message renamed meanwhile, twice (spec 5, C0004)" {
	two
	a_login
	mv "$MD/cur/1700000002.M1P1.host:2," "$MD/cur/1700000002.M1P1.host:2,RS"
	sess_send A 'TOP 2 0'
	sess_wait A 7
	mv "$MD/cur/1700000002.M1P1.host:2,RS" \
	    "$MD/cur/1700000002.M1P1.host:2,FRS"
	sess_send A 'TOP 2 1' QUIT
	sess_end A
	[ "$status" -eq 0 ]
	expect_after 4 '+OK Top of message follows' 'S: two' '' '.' \
	    '+OK Top of message follows' 'S: two' '' 'second' '.' '+OK Bye'
}

@test "a message replaced by a symlink meanwhile is not followed (spec 5 O_NOFOLLOW)" {
	two
	printf 'secret\n' >"$T/target"
	a_login
	rm "$MD/cur/1700000001.M1P1.host:2,"
	ln -s "$T/target" "$MD/cur/1700000001.M1P1.host:2,"
	sess_send A 'RETR 1' QUIT
	sess_end A
	nogrep -aq secret "$out"
	[ "$(line 4 | cut -c1-4)" = '-ERR' ]
}

@test "a message replaced by a fifo meanwhile: -ERR, no hang (spec 5 regular files)" {
	two
	a_login
	rm "$MD/cur/1700000001.M1P1.host:2,"
	mkfifo "$MD/cur/1700000001.M1P1.host:2,"
	sess_send A 'RETR 1'
	sess_wait A 4
	sess_send A 'TOP 1 0' QUIT
	sess_end A
	[ "$status" -eq 0 ]
	[ "$(sed -n 4p "$out" | cut -c1-5)" = '-ERR ' ]
	[ "$(sed -n 5p "$out" | cut -c1-5)" = '-ERR ' ]
	line_is 6 '+OK Bye'
}

@test "DELE in two sessions of one message: both QUITs answer +OK Bye (spec 5)" {
	two
	a_login
	sess_send A 'DELE 1'
	sess_wait A 4
	session 'DELE 1' | chat
	expect_after 4 '+OK Message 1 deleted' '+OK Bye'
	sess_send A QUIT
	sess_end A
	[ "$status" -eq 0 ]
	expect_after 4 '+OK Message 1 deleted' '+OK Bye'
	[ "$(ls "$MD/cur")" = '1700000002.M1P1.host:2,' ]
}
