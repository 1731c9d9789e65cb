#!/usr/bin/env bats
# style 3.8, doc/design.md 3: after the privilege drop and the snapshot the handler
# confines itself with Landlock to the user's Maildir.  The whole suite
# runs with the sandbox on; these tests show that it is on, that the
# session still works inside it, and (with the fault-injection build and
# POP3_SANDBOX_PROBE) that a file outside the Maildir can no longer be
# opened by the very process that could open it a moment before.

load helpers/load

FAULT_HANDLER=${FAULT_HANDLER:-$TOP/build/fault/pop3-handler}

setup() {
	common_setup
	add_user alice s3cret
	mkmsg alice new 1700000000.1.host 'Subject: a' '' 'hi'
	mkmsg alice new 1700000001.2.host 'Subject: b' '' 'hello'
}

# landlock_or_skip: skips, with the kernel's reason, when this kernel
# cannot give the handler a Landlock domain.
landlock_or_skip() {
	crlf 'USER alice' 'PASS s3cret' QUIT | chat --debug
	[ "$status" -eq 0 ]
	if grep -q 'landlock: not available' "$log"; then
		skip "$(grep -o 'landlock: not available.*' "$log")"
	fi
}

fault_or_skip() {
	[ -x "$FAULT_HANDLER" ] ||
	    skip "no fault-injection build at $FAULT_HANDLER"
}

@test "--debug logs the Landlock restriction to the Maildir once, with the ABI (style 3.8)" {
	landlock_or_skip
	[ "$(grep -c 'landlock: ' "$log")" -eq 1 ]
	grep -qx "pop3-handler: landlock: restricted to $(maildir alice) (ABI [1-9][0-9]*)" "$log"
	# After the login line: the sandbox starts before TRANSACTION.
	[ "$(grep -n 'landlock: restricted' "$log" | cut -d: -f1)" -lt \
	    "$(grep -n 'event=login ' "$log" | cut -d: -f1)" ]
}

@test "without --debug the sandbox writes nothing to the log (style 3.8)" {
	crlf 'USER alice' 'PASS s3cret' QUIT | chat
	[ "$status" -eq 0 ]
	! grep -q 'landlock' "$log" || false
}

@test "inside the sandbox RETR, TOP, UIDL, DELE and UPDATE work (spec 3, 5)" {
	landlock_or_skip
	crlf 'USER alice' 'PASS s3cret' 'RETR 1' 'TOP 2 0' 'UIDL 2' 'DELE 1' \
	    QUIT | chat --debug
	[ "$status" -eq 0 ]
	grep -q 'landlock: restricted' "$log"
	expect_bytes "$GREET" "$PWREQ" '+OK Logged in, 2 messages (39 octets)' \
	    '+OK 18 octets' 'Subject: a' '' 'hi' '.' \
	    '+OK Top of message follows' 'Subject: b' '' '.' '+OK 2 2' \
	    '+OK Message 1 deleted' '+OK Bye'
	[ -z "$(ls "$(maildir alice)/cur" | grep 1700000000.1.host)" ]
	[ -n "$(ls "$(maildir alice)/cur" | grep 1700000001.2.host)" ]
}

@test "inside the sandbox a message renamed after login is still found (spec 5, C0004)" {
	landlock_or_skip
	local md
	md=$(maildir alice)
	# First login moves new/ to cur/; then rename a message's flags
	# from the side while a second session runs.
	crlf 'USER alice' 'PASS s3cret' QUIT | chat
	{
		crlf 'USER alice' 'PASS s3cret'
		sleep 0.5
		mv "$md/cur/1700000000.1.host:2," "$md/cur/1700000000.1.host:2,S"
		crlf 'RETR 1' QUIT
	} | chat --debug
	[ "$status" -eq 0 ]
	grep -q 'landlock: restricted' "$log"
	line_is 3 '+OK Logged in, 2 messages (39 octets)'
	line_is 4 '+OK 18 octets'
	line_is 5 'Subject: a'
	line_is 9 '+OK Bye'
}

@test "a Maildir created at login is the one the sandbox allows (spec 4, style 3.8)" {
	landlock_or_skip
	add_user bob pw2
	[ ! -e "$(maildir bob)" ]
	crlf 'USER bob' 'PASS pw2' QUIT | chat --debug
	[ "$status" -eq 0 ]
	expect_bytes "$GREET" "$PWREQ" '+OK Logged in, 0 messages (0 octets)' \
	    '+OK Bye'
	grep -qx "pop3-handler: landlock: restricted to $(maildir bob) (ABI [0-9]*)" "$log"
	[ -d "$(maildir bob)/cur" ]
}

@test "after the restriction a file outside the Maildir cannot be opened (style 3.8, fault build)" {
	fault_or_skip
	landlock_or_skip
	echo secret >"$T/outside"
	crlf 'USER alice' 'PASS s3cret' 'RETR 1' QUIT |
	    POP3_SANDBOX_PROBE=$T/outside HANDLER=$FAULT_HANDLER chat --debug
	[ "$status" -eq 0 ]
	line_is 4 '+OK 18 octets'
	grep -qx "pop3-handler: landlock probe before: open $T/outside: ok" "$log"
	grep -qx "pop3-handler: landlock probe after: open $T/outside: Permission denied" "$log"
}

@test "after the restriction the passwd file is out of reach too (style 3.8, fault build)" {
	fault_or_skip
	landlock_or_skip
	crlf 'USER alice' 'PASS s3cret' QUIT |
	    POP3_SANDBOX_PROBE=$PASSWD HANDLER=$FAULT_HANDLER chat --debug
	[ "$status" -eq 0 ]
	grep -qx "pop3-handler: landlock probe after: open $PASSWD: Permission denied" "$log"
}

@test "after the restriction files inside the Maildir stay readable (style 3.8, fault build)" {
	fault_or_skip
	landlock_or_skip
	local f
	f=$(maildir alice)/pop3-handler-uidlist
	crlf 'USER alice' 'PASS s3cret' QUIT |
	    POP3_SANDBOX_PROBE=$f HANDLER=$FAULT_HANDLER chat --debug
	[ "$status" -eq 0 ]
	grep -qx "pop3-handler: landlock probe after: open $f: ok" "$log"
}

@test "a kernel without Landlock: one debug line, and the session is served (style 3.8, fault build)" {
	fault_or_skip
	crlf 'USER alice' 'PASS s3cret' 'RETR 1' QUIT |
	    POP3_SANDBOX_FAIL=nosys HANDLER=$FAULT_HANDLER chat --debug
	[ "$status" -eq 0 ]
	line_is 4 '+OK 18 octets'
	[ "$(grep -c 'landlock' "$log")" -eq 1 ]
	grep -qx 'pop3-handler: landlock: not available (Function not implemented); no file-system sandbox' "$log"
	# Without --debug: not a word.
	crlf 'USER alice' 'PASS s3cret' QUIT |
	    POP3_SANDBOX_FAIL=nosys HANDLER=$FAULT_HANDLER chat
	[ "$status" -eq 0 ]
	! grep -q 'landlock' "$log" || false
}
