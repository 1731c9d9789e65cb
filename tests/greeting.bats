#!/usr/bin/env bats
# bats file_tags=quick
# spec 3: the greeting and QUIT in AUTHORIZATION; spec 1 exit statuses.

load helpers/load
load helpers/proto

@test "greeting is exactly '+OK <hostname> POP3 server ready' CRLF (spec 3)" {
	add_user alice s3cret
	: | chat
	expect_bytes "$GREET"
}

@test "greeting uses gethostname() when hostname is not set (spec 1, 3)" {
	add_user alice s3cret
	: | chat_raw --passwd-file="$PASSWD" --auth-fail-delay=0
	expect_bytes "+OK $(uname -n) POP3 server ready"
}

@test "greeting is sent before any command arrives (spec 3)" {
	add_user alice s3cret
	drive --hold --limit=3 '=0.5' 'QUIT\r\n'
	[ "$status" -eq 0 ]
	expect_bytes "$GREET" '+OK Bye'
}

@test "QUIT in AUTHORIZATION: +OK Bye, exit 0 (spec 3)" {
	add_user alice s3cret
	crlf QUIT | chat
	[ "$status" -eq 0 ]
	expect_bytes "$GREET" '+OK Bye'
}

@test "QUIT ends the session: later commands are not answered (spec 3)" {
	add_user alice s3cret
	crlf QUIT 'USER alice' CAPA | chat
	[ "$status" -eq 0 ]
	expect_bytes "$GREET" '+OK Bye'
}

@test "EOF without QUIT: exit 1 after the greeting (spec 1)" {
	add_user alice s3cret
	: | chat
	[ "$status" -eq 1 ]
	expect_bytes "$GREET"
}

@test "EOF after a command without QUIT: exit 1 (spec 1)" {
	add_user alice s3cret
	crlf 'USER alice' | chat
	[ "$status" -eq 1 ]
	expect_bytes "$GREET" '+OK Password required'
}

@test "EOF after login without QUIT: exit 1 (spec 1)" {
	add_user alice s3cret
	login alice s3cret | chat
	[ "$status" -eq 1 ]
	expect_bytes "$GREET" '+OK Password required' \
	    '+OK Logged in, 0 messages (0 octets)'
}

@test "EOF on a socket without QUIT: exit 1 (spec 1)" {
	add_user alice s3cret
	drive --sock
	[ "$status" -eq 1 ]
	expect_bytes "$GREET"
}
