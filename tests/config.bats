#!/usr/bin/env bats
# bats file_tags=quick
# spec 1: --config=FILE, precedence, --check-config, --hash-password.

load helpers/load
load helpers/proto

# conf LINE...: writes the config file $T/conf.
conf() {
	printf '%s\n' "$@" >"$T/conf"
}

@test "--config file: name = value lines, # comments and blank lines (spec 1)" {
	add_user alice s3cret
	conf '# pop3-handler test configuration' '' \
	    "passwd-file = $PASSWD" \
	    '   # an indented comment' \
	    'hostname = conf.example' \
	    'auth-fail-delay = 0'
	crlf QUIT | chat_raw --config="$T/conf"
	[ "$status" -eq 0 ]
	expect_bytes '+OK conf.example POP3 server ready' '+OK Bye'
}

@test "--config file: settings take effect (max-auth-failures = 1) (spec 1)" {
	add_user alice s3cret
	conf "passwd-file = $PASSWD" 'hostname = conf.example' \
	    'auth-fail-delay = 0' 'max-auth-failures = 1'
	crlf 'USER alice' 'PASS wrong' 'QUIT' | chat_raw --config="$T/conf"
	[ "$status" -eq 1 ]
	expect_bytes '+OK conf.example POP3 server ready' \
	    '+OK Password required' '-ERR [AUTH] Authentication failed'
}

@test "--config file: name=value without blanks is accepted too (spec 1)" {
	add_user alice s3cret
	conf "passwd-file=$PASSWD" 'hostname=conf.example'
	crlf QUIT | chat_raw --config="$T/conf"
	[ "$status" -eq 0 ]
	expect_bytes '+OK conf.example POP3 server ready' '+OK Bye'
}

@test "--config file: blanks after a value are not part of it (spec 1)" {
	add_user alice s3cret
	conf "passwd-file = $PASSWD  " $'hostname = conf.example \t'
	crlf QUIT | chat_raw --config="$T/conf"
	[ "$status" -eq 0 ]
	expect_bytes '+OK conf.example POP3 server ready' '+OK Bye'
}

@test "--config file: an empty value is malformed, exit 2 (spec 1)" {
	add_user alice s3cret
	conf "passwd-file = $PASSWD" 'hostname ='
	crlf QUIT | chat_raw --config="$T/conf"
	[ "$status" -eq 2 ]
	[ ! -s "$out" ]
}

@test "command line wins over the config file (option after --config) (spec 1)" {
	add_user alice s3cret
	conf "passwd-file = $PASSWD" 'hostname = conf.example'
	crlf QUIT | chat_raw --config="$T/conf" --hostname=cli.example
	[ "$status" -eq 0 ]
	expect_bytes '+OK cli.example POP3 server ready' '+OK Bye'
}

@test "command line wins over the config file (option before --config) (spec 1)" {
	add_user alice s3cret
	conf "passwd-file = $PASSWD" 'hostname = conf.example'
	crlf QUIT | chat_raw --hostname=cli.example --config="$T/conf"
	[ "$status" -eq 0 ]
	expect_bytes '+OK cli.example POP3 server ready' '+OK Bye'
}

@test "command line wins over the file for a limit (max-auth-failures) (spec 1)" {
	add_user alice s3cret
	conf "passwd-file = $PASSWD" 'max-auth-failures = 1' \
	    'auth-fail-delay = 0'
	crlf 'USER alice' 'PASS wrong' 'QUIT' |
	    chat_raw --config="$T/conf" --max-auth-failures=3 \
	    --hostname=test.example
	[ "$status" -eq 0 ]
	expect_bytes '+OK test.example POP3 server ready' \
	    '+OK Password required' '-ERR [AUTH] Authentication failed' \
	    '+OK Bye'
}

@test "unknown key in the config file: exit 2, message, nothing on stdout (spec 1)" {
	add_user alice s3cret
	conf "passwd-file = $PASSWD" 'frobnicate = yes'
	crlf QUIT | chat_raw --config="$T/conf"
	[ "$status" -eq 2 ]
	[ ! -s "$out" ]
	[ -s "$log" ]
}

@test "malformed value in the config file: exit 2 (spec 1)" {
	add_user alice s3cret
	conf "passwd-file = $PASSWD" 'max-command-length = 100'
	crlf QUIT | chat_raw --config="$T/conf"
	[ "$status" -eq 2 ]
	[ ! -s "$out" ]
	[ -s "$log" ]
}

@test "config line without '=': exit 2 (spec 1)" {
	add_user alice s3cret
	conf "passwd-file = $PASSWD" 'hostname conf.example'
	crlf QUIT | chat_raw --config="$T/conf"
	[ "$status" -eq 2 ]
	[ ! -s "$out" ]
}

@test "config file that does not exist: exit 2 (spec 1)" {
	add_user alice s3cret
	crlf QUIT | chat_raw --passwd-file="$PASSWD" --config="$T/nonexistent"
	[ "$status" -eq 2 ]
	[ ! -s "$out" ]
	[ -s "$log" ]
}

@test "unknown key in the config file on a socket: the misconfigured line (spec 1)" {
	add_user alice s3cret
	conf "passwd-file = $PASSWD" 'frobnicate = yes'
	drive --sock --raw -- --config="$T/conf"
	[ "$status" -eq 2 ]
	expect_bytes '-ERR [SYS/PERM] Server misconfigured'
}

@test "--check-config: good config and passwd file exit 0 (spec 1 helper modes)" {
	add_user alice s3cret
	add_user bob hunter2
	printf '# a comment\n' >>"$PASSWD"
	chat_raw --passwd-file="$PASSWD" --check-config </dev/null
	[ "$status" -eq 0 ]
	! grep -q 'POP3 server ready' "$out"
}

@test "--check-config: a bad passwd line exits 2 and names its line number (spec 1, 4)" {
	printf '# users\n' >"$PASSWD"
	add_user alice s3cret
	printf 'this line has no colons at all\n' >>"$PASSWD"
	add_user bob hunter2
	chat_raw --passwd-file="$PASSWD" --check-config </dev/null
	[ "$status" -eq 2 ]
	cat "$out" "$log" | grep -Eq '(line 3|:3)([^0-9]|$)'
}

@test "--check-config: every bad passwd line is reported (spec 1, 4)" {
	add_user alice s3cret
	printf 'no colons\n' >>"$PASSWD"
	add_user bob hunter2
	printf 'carol:%s:12x:100::/tmp::\n' "$(hash6 pw)" >>"$PASSWD"
	chat_raw --passwd-file="$PASSWD" --check-config </dev/null
	[ "$status" -eq 2 ]
	cat "$out" "$log" | grep -Eq '(line 2|:2)([^0-9]|$)'
	cat "$out" "$log" | grep -Eq '(line 4|:4)([^0-9]|$)'
}

@test "--check-config: a bad setting exits 2 (spec 1 helper modes)" {
	add_user alice s3cret
	chat_raw --passwd-file="$PASSWD" --uidl=foo --check-config </dev/null
	[ "$status" -eq 2 ]
}

@test "--check-config: a passwd file that does not exist exits 2 (spec 1)" {
	chat_raw --passwd-file="$T/nonexistent" --check-config </dev/null
	[ "$status" -eq 2 ]
}

@test "--hash-password prints a \$y\$ hash of the password on stdin (spec 1)" {
	printf 's3cret\n' | chat_raw --hash-password
	[ "$status" -eq 0 ]
	[ "$(wc -l <"$out")" -eq 1 ]
	grep -Eq '^\$y\$[./0-9A-Za-z$]+$' "$out"
}

@test "--hash-password output logs in with that password (spec 1, 4)" {
	local h
	printf 's3cret\n' | chat_raw --hash-password
	[ "$status" -eq 0 ]
	h=$(head -1 "$out")
	mkdir -p "$MAILROOT/alice"
	printf 'alice:%s::::%s::\n' "$h" "$MAILROOT/alice" >"$PASSWD"
	crlf 'USER alice' 'PASS s3cret' 'QUIT' | chat
	[ "$status" -eq 0 ]
	expect_bytes '+OK test.example POP3 server ready' \
	    '+OK Password required' '+OK Logged in, 0 messages (0 octets)' \
	    '+OK Bye'
}

@test "--hash-password output does not verify a different password (spec 1, 4)" {
	local h
	printf 's3cret\n' | chat_raw --hash-password
	h=$(head -1 "$out")
	mkdir -p "$MAILROOT/alice"
	printf 'alice:%s::::%s::\n' "$h" "$MAILROOT/alice" >"$PASSWD"
	crlf 'USER alice' 'PASS s3cret2' 'QUIT' | chat
	[ "$status" -eq 0 ]
	line_is 3 '-ERR [AUTH] Authentication failed'
}
