#!/usr/bin/env bats
# bats file_tags=quick
# STAT, LIST and LIST n: exact CRLF sizes, deleted messages, argument
# errors, and the entries of a Maildir that are not messages (spec 3, 5).

load helpers/load
load helpers/mail

# Three messages: 6 + 21 + 14 = 41 octets in CRLF form, the third in new/.
three() {
	three_msgs new
}

@test "login reply counts messages and exact octets (spec 4 success)" {
	three
	session | chat
	[ "$status" -eq 0 ]
	line_is 3 '+OK Logged in, 3 messages (41 octets)'
}

@test "STAT gives count and exact CRLF octets, nothing after (spec 3 STAT, 2.1.4, V0004)" {
	three
	session STAT | chat
	expect_after 4 '+OK 3 41' '+OK Bye'
}

@test "STAT: a 4-octet LF file is 6 octets (spec 3 STAT, 2.1.4)" {
	setup_alice
	putf cur 1700000001.M1P1.host:2, 'a\nb\n'
	session STAT | chat
	expect_after 4 '+OK 1 6' '+OK Bye'
}

@test "LIST gives every scan listing with exact sizes (spec 3 LIST, 2.1.5, V0005)" {
	three
	session LIST | chat
	expect_after 4 '+OK 3 messages (41 octets)' '1 6' '2 21' '3 14' '.' \
	    '+OK Bye'
}

@test "LIST n gives one scan listing (spec 3 LIST n)" {
	three
	session 'LIST 2' 'LIST 3' | chat
	expect_after 4 '+OK 2 21' '+OK 3 14' '+OK Bye'
}

@test "LIST on an empty maildrop (spec 3 LIST)" {
	setup_alice
	session STAT LIST | chat
	expect_after 4 '+OK 0 0' '+OK 0 messages (0 octets)' '.' '+OK Bye'
}

@test "a message marked deleted is skipped by LIST (spec 3 LIST)" {
	three
	session 'DELE 2' LIST | chat
	expect_after 4 '+OK Message 2 deleted' '+OK 2 messages (20 octets)' \
	    '1 6' '3 14' '.' '+OK Bye'
}

@test "a message marked deleted is not counted by STAT (spec 3 STAT)" {
	three
	session 'DELE 1' STAT | chat
	expect_after 4 '+OK Message 1 deleted' '+OK 2 35' '+OK Bye'
}

@test "LIST n of a deleted message is an error (spec 3 LIST n)" {
	three
	session 'DELE 1' 'LIST 1' | chat
	expect_after 4 '+OK Message 1 deleted' '-ERR Message 1 is deleted' \
	    '+OK Bye'
}

@test "LIST 0 is no such message (spec 2 message numbers)" {
	three
	session 'LIST 0' | chat
	expect_after 4 '-ERR No such message' '+OK Bye'
}

@test "LIST beyond the count is no such message (spec 2 message numbers)" {
	three
	session 'LIST 4' | chat
	expect_after 4 '-ERR No such message' '+OK Bye'
}

@test "LIST -1 is not a number (spec 2 message numbers)" {
	three
	session 'LIST -1' | chat
	expect_after 4 '-ERR Invalid message number: not a number' '+OK Bye'
}

@test "LIST +1 is not a number (spec 2 message numbers)" {
	three
	session 'LIST +1' | chat
	expect_after 4 '-ERR Invalid message number: not a number' '+OK Bye'
}

@test "LIST x is not a number (spec 2 message numbers)" {
	three
	session 'LIST x' | chat
	expect_after 4 '-ERR Invalid message number: not a number' '+OK Bye'
}

@test "LIST 1x has trailing characters (spec 2 message numbers)" {
	three
	session 'LIST 1x' | chat
	expect_after 4 '-ERR Invalid message number: trailing characters' \
	    '+OK Bye'
}

@test "LIST 99999999999 is too large (spec 2 message numbers)" {
	three
	session 'LIST 99999999999' 'LIST 4294967296' | chat
	expect_after 4 '-ERR Invalid message number: too large' \
	    '-ERR Invalid message number: too large' '+OK Bye'
}

@test "LIST 1 2 has too many arguments (spec 2 message numbers)" {
	three
	session 'LIST 1 2' | chat
	expect_after 4 '-ERR Too many arguments' '+OK Bye'
}

@test "LIST n takes tabs and several blanks as separators (spec 2, 2.1.1)" {
	three
	{ login alice pw; printf 'list \t 2\r\n'; crlf QUIT; } | chat
	expect_after 4 '+OK 2 21' '+OK Bye'
}

@test "files in new/ move to cur/ with :2, appended (spec 5)" {
	three
	session | chat
	[ "$status" -eq 0 ]
	[ -z "$(ls -A "$MD/new")" ]
	[ -f "$MD/cur/1700000003.M1P1.host:2," ]
	[ -f "$MD/cur/1700000001.M1P1.host:2," ]
	[ -f "$MD/cur/1700000002.M1P1.host:2," ]
}

@test "dotfiles in cur/ and new/ are ignored (spec 5)" {
	three
	putf cur .hidden.1700000000.M1P1.host:2, 'x\n'
	putf new .1700000000.M2P1.host 'xy\n'
	session STAT | chat
	expect_after 4 '+OK 3 41' '+OK Bye'
	[ -f "$MD/cur/.hidden.1700000000.M1P1.host:2," ]
}

@test "directories in cur/ and new/ are ignored (spec 5)" {
	three
	mkdir "$MD/cur/1700000000.M1P1.host:2," "$MD/new/1700000000.M2P1.host"
	session STAT LIST | chat
	expect_after 4 '+OK 3 41' '+OK 3 messages (41 octets)' '1 6' '2 21' \
	    '3 14' '.' '+OK Bye'
}

@test "fifos in cur/ and new/ are ignored and never block (spec 5)" {
	three
	mkfifo "$MD/cur/1700000000.M1P1.host:2," "$MD/new/1700000000.M2P1.host"
	session STAT LIST | chat
	[ "$status" -eq 0 ]
	expect_after 4 '+OK 3 41' '+OK 3 messages (41 octets)' '1 6' '2 21' \
	    '3 14' '.' '+OK Bye'
}

@test "symlinks in cur/ and new/ are ignored (spec 5)" {
	three
	printf 'secret\n' >"$T/target"
	ln -s "$T/target" "$MD/cur/1700000000.M1P1.host:2,"
	ln -s "$T/target" "$MD/new/1700000000.M2P1.host"
	ln -s /nonexistent "$MD/cur/1700000000.M3P1.host:2,"
	session STAT LIST | chat
	expect_after 4 '+OK 3 41' '+OK 3 messages (41 octets)' '1 6' '2 21' \
	    '3 14' '.' '+OK Bye'
	nogrep -aq secret "$out"
}
