#!/usr/bin/env bats
# spec 1: command line, helper modes, exit statuses of a bad configuration.

load helpers/load
load helpers/proto

MISCONF='-ERR [SYS/PERM] Server misconfigured'

# bad_option ARGS...: exit 2, a message on stderr, nothing on stdout.
bad_option() {
	add_user alice s3cret
	: | chat_raw --passwd-file="$PASSWD" --hostname=test.example "$@"
	[ "$status" -eq 2 ]
	[ ! -s "$out" ]
	[ -s "$log" ]
}

@test "--version prints the version and exits 0 (spec 1 helper modes)" {
	chat_raw --version </dev/null
	[ "$status" -eq 0 ]
	[ "$(sed -n 1p "$out")" = "pop3-handler 0.1.0" ]
}

@test "--help prints usage naming the options and exits 0 (spec 1 helper modes)" {
	chat_raw --help </dev/null
	[ "$status" -eq 0 ]
	cat "$out" "$log" | grep -q -- 'passwd-file'
	cat "$out" "$log" | grep -q -- 'max-command-length'
}

@test "--version serves no session: no greeting (spec 1 helper modes)" {
	add_user alice s3cret
	crlf QUIT | chat_raw --passwd-file="$PASSWD" --version
	[ "$status" -eq 0 ]
	! grep -q 'POP3 server ready' "$out"
}

@test "unknown option: exit 2, stderr message, nothing on stdout (spec 1)" {
	bad_option --frobnicate=1
}

@test "timeout-unauth=abc is malformed: exit 2 (spec 1)" {
	bad_option --timeout-unauth=abc
}

@test "timeout-unauth=0 is out of range 1..86400: exit 2 (spec 1)" {
	bad_option --timeout-unauth=0
}

@test "timeout-auth=86401 is out of range: exit 2 (spec 1)" {
	bad_option --timeout-auth=86401
}

@test "timeout-unauth=10x has trailing characters: exit 2 (spec 1)" {
	bad_option --timeout-unauth=10x
}

@test "max-command-length=100 is below 255: exit 2 (spec 1, 2.1.2)" {
	bad_option --max-command-length=100
}

@test "max-command-length=254 is below 255: exit 2 (spec 1, 2.1.2)" {
	bad_option --max-command-length=254
}

@test "max-command-length=9000 is above 8192: exit 2 (spec 1, E0006)" {
	bad_option --max-command-length=9000
}

@test "max-command-length=8193 is above 8192: exit 2 (spec 1, E0006)" {
	bad_option --max-command-length=8193
}

@test "plaintext-auth=maybe is malformed: exit 2 (spec 1)" {
	bad_option --plaintext-auth=maybe
}

@test "uidl=foo is malformed: exit 2 (spec 1)" {
	bad_option --uidl=foo
}

@test "auth-fail-delay=61 is out of range 0..60: exit 2 (spec 1)" {
	bad_option --auth-fail-delay=61
}

@test "max-auth-failures=0 is out of range 1..100: exit 2 (spec 1)" {
	bad_option --max-auth-failures=0
}

@test "secured=perhaps is not a boolean: exit 2 (spec 1)" {
	bad_option --secured=perhaps
}

@test "log=file is not a log backend: exit 2 (spec 1)" {
	add_user alice s3cret
	: | chat_raw --passwd-file="$PASSWD" --log=file
	[ "$status" -eq 2 ]
	[ ! -s "$out" ]
	[ -s "$log" ]
}

@test "missing passwd-file: exit 2, stderr message, nothing on stdout (spec 1)" {
	: | chat_raw --hostname=test.example
	[ "$status" -eq 2 ]
	[ ! -s "$out" ]
	[ -s "$log" ]
}

@test "boolean spellings yes/no/true/false/1/0 are accepted (spec 1)" {
	add_user alice s3cret
	local v
	for v in yes no true false 1 0; do
		crlf QUIT | chat --secured="$v"
		[ "$status" -eq 0 ] || { echo "secured=$v: $status" >&2; return 1; }
	done
}

@test "range limits are accepted: max-command-length=255 and 8192 (spec 1)" {
	add_user alice s3cret
	crlf QUIT | chat --max-command-length=255
	[ "$status" -eq 0 ]
	crlf QUIT | chat --max-command-length=8192
	[ "$status" -eq 0 ]
}

@test "bad option with a socket on fd 1: exactly the misconfigured line, exit 2 (spec 1)" {
	add_user alice s3cret
	drive --sock -- --frobnicate=1
	[ "$status" -eq 2 ]
	expect_bytes "$MISCONF"
	[ -s "$log" ]
}

@test "malformed value with a socket on fd 1: exactly the misconfigured line (spec 1)" {
	add_user alice s3cret
	drive --sock -- --max-command-length=9000
	[ "$status" -eq 2 ]
	expect_bytes "$MISCONF"
}

@test "missing passwd-file with a socket on fd 1: exactly the misconfigured line (spec 1)" {
	drive --sock --raw -- --hostname=test.example
	[ "$status" -eq 2 ]
	expect_bytes "$MISCONF"
}

@test "a good configuration on a socket greets normally (spec 1, 3)" {
	add_user alice s3cret
	drive --sock 'QUIT\r\n'
	[ "$status" -eq 0 ]
	expect_bytes '+OK test.example POP3 server ready' '+OK Bye'
}
