#!/usr/bin/env bats
# Files of the Maildir are opened with O_NONBLOCK, so that a fifo put in
# a message's or a state file's place cannot hang the login; a file
# system that minds the flag on a regular file may then fail a read with
# EAGAIN.  read_retry() (util.c) clears the flag and reads again: sizing
# a message by reading it (spec 6), the state file and an old server's
# UIDL file all read as usual.
#
# The EAGAIN comes from build/fault/pop3-handler (make target of the
# same name, -DPOP3_FAULT_INJECTION): POP3_FAULT=read-eagain fails every
# read_retry() read of a file still opened O_NONBLOCK.

load helpers/load
load helpers/mail

setup_file() {
	fault_build
}

setup() {
	fault_setup
}

# fchat ARGS...: like chat, with build/fault and POP3_FAULT=read-eagain.
fchat() {
	HANDLER=$FAULT POP3_FAULT=read-eagain chat "$@"
}

@test "EAGAIN from an O_NONBLOCK read: messages sized by reading, Courier's UIDLs imported, the state file read (spec 6)" {
	three_msgs
	printf '%s\n' '/3 3 1699990000' \
	    '1700000001.M1P1.host:2, 4 1:1699990000:0' \
	    '1700000002.M1P1.host:2, 19 2:1699990000:0' \
	    >"$MD/courierpop3dsizelist"
	session STAT LIST UIDL | fchat
	[ "$status" -eq 0 ]
	# Message 3 was not in Courier's file: a counter UID (spec 6 time
	# floor, the state file being missing).
	sed -n 4,12p "$out" >"$T/got"
	crlf '+OK 3 41' '+OK 3 messages (41 octets)' '1 6' '2 21' '3 14' . \
	    '+OK Unique-ID listing follows' '1 UID1-1699990000' \
	    '2 UID2-1699990000' >"$T/exp"
	cmp "$T/exp" "$T/got"
	line 13 | grep -qE '^3 [1-9][0-9]{15}$'
	line_is 14 .
	line_is 15 '+OK Bye'
	[ "$(wc -l <"$out")" -eq 15 ]
	grep -q 'uidlist imported from courierpop3dsizelist (2 UIDLs kept)' "$log"
	cp "$out" "$T/first"
	# The second login reads the state file (and no message).
	session STAT LIST UIDL | fchat
	[ "$status" -eq 0 ]
	cmp "$T/first" "$out"
	! grep -qi 'rebuil' "$log"
}
