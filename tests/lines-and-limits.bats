#!/usr/bin/env bats
# bats file_tags=quick
# spec 2 wire rules: line ends, line length, NUL, bad commands, state
# errors, reply length (C0001), informational text (V0001).

load helpers/load
load helpers/proto

TOOLONG='-ERR Command line too long'
UNKNOWN='-ERR Unknown command'
NUL='-ERR Command contains a NUL octet'

setup() {
	common_setup
	add_user alice s3cret
}

# user_line_of N: a "USER xxx" command of exactly N octets, CRLF included.
user_line_of() {
	printf 'USER '
	head -c "$(($1 - 7))" /dev/zero | tr '\0' u
	printf '\r\n'
}

# command_line N LIMIT REPLY: under --max-command-length=LIMIT, a USER
# line of N octets gets exactly REPLY, and QUIT its +OK Bye.
command_line() {
	{ user_line_of "$1"; crlf QUIT; } | chat --max-command-length="$2"
	[ "$status" -eq 0 ]
	expect_bytes "$GREET" "$3" '+OK Bye'
}

@test "CRLF line ends are accepted (spec 2)" {
	printf 'USER alice\r\nPASS s3cret\r\nQUIT\r\n' | chat
	[ "$status" -eq 0 ]
	expect_bytes "$GREET" "$PWREQ" "$OK0" '+OK Bye'
}

@test "bare LF line ends are accepted, replies still end CRLF (spec 2)" {
	printf 'USER alice\nPASS s3cret\nQUIT\n' | chat
	[ "$status" -eq 0 ]
	expect_bytes "$GREET" "$PWREQ" "$OK0" '+OK Bye'
}

@test "a line of exactly 512 octets (default) is accepted (spec 2, 2.1.2)" {
	{ user_line_of 512; crlf QUIT; } | chat
	[ "$status" -eq 0 ]
	expect_bytes "$GREET" "$PWREQ" '+OK Bye'
}

@test "a line of 513 octets (default): too long, session continues (spec 2, E0006)" {
	{ user_line_of 513; crlf QUIT; } | chat
	[ "$status" -eq 0 ]
	expect_bytes "$GREET" "$TOOLONG" '+OK Bye'
}

@test "--max-command-length=255: a 255-octet line is accepted (spec 2, 2.1.2)" {
	command_line 255 255 "$PWREQ"
}

@test "--max-command-length=255: a 256-octet line is too long (spec 2, 2.1.2)" {
	command_line 256 255 "$TOOLONG"
}

@test "--max-command-length=8192: an 8192-octet line is accepted (spec 2, E0006)" {
	command_line 8192 8192 "$PWREQ"
}

@test "--max-command-length=8192: an 8193-octet line is too long (spec 2, E0006)" {
	command_line 8193 8192 "$TOOLONG"
}

@test "the over-long line's tail is discarded, never run as a command (spec 2)" {
	{ head -c 300 /dev/zero | tr '\0' X
	  head -c 600 /dev/zero | tr '\0' ' '
	  printf 'QUIT\r\n'; crlf 'USER bob'; } | chat
	[ "$status" -eq 1 ]
	expect_bytes "$GREET" "$TOOLONG" "$PWREQ"
}

@test "an over-long line's tail arriving later is discarded, not run (spec 2)" {
	local x
	x=$(head -c 600 /dev/zero | tr '\0' X)
	drive --limit=8 "$x" '=0.3' '    QUIT\r\nUSER bob\r\n'
	[ "$status" -eq 1 ]
	expect_bytes "$GREET" "$TOOLONG" "$PWREQ"
}

@test "an over-long line split over many writes gets one reply (spec 2)" {
	local x
	x=$(head -c 400 /dev/zero | tr '\0' X)
	drive --limit=8 "$x" '=0.2' "$x" '=0.2' "$x" '=0.2' 'QUIT\r\nQUIT\r\n'
	[ "$status" -eq 0 ]
	expect_bytes "$GREET" "$TOOLONG" '+OK Bye'
}

@test "a 20000-octet line gets one reply; the next command is answered (spec 2)" {
	{ head -c 20000 /dev/zero | tr '\0' A; printf '\r\n'; crlf QUIT; } | chat
	[ "$status" -eq 0 ]
	expect_bytes "$GREET" "$TOOLONG" '+OK Bye'
}

@test "an over-long line ended by a bare LF is discarded too (spec 2)" {
	{ head -c 600 /dev/zero | tr '\0' A; printf '\nQUIT\n'; } | chat
	[ "$status" -eq 0 ]
	expect_bytes "$GREET" "$TOOLONG" '+OK Bye'
}

@test "an over-long line after login: too long, session continues (spec 2)" {
	{ login alice s3cret; user_line_of 600; crlf NOOP QUIT; } | chat
	[ "$status" -eq 0 ]
	expect_bytes "$GREET" "$PWREQ" "$OK0" "$TOOLONG" '+OK' '+OK Bye'
}

@test "NUL inside a line: -ERR Command contains a NUL octet (spec 2, 4)" {
	printf 'USER al\0ice\r\nQUIT\r\n' | chat
	[ "$status" -eq 0 ]
	expect_bytes "$GREET" "$NUL" '+OK Bye'
}

@test "NUL in a password is refused, never cut short (spec 4)" {
	printf 'USER alice\r\nPASS s3cret\0junk\r\nQUIT\r\n' | chat
	[ "$status" -eq 0 ]
	expect_bytes "$GREET" "$PWREQ" "$NUL" '+OK Bye'
}

@test "NUL as the first octet of a line is refused (spec 2)" {
	printf '\0QUIT\r\nQUIT\r\n' | chat
	[ "$status" -eq 0 ]
	expect_bytes "$GREET" "$NUL" '+OK Bye'
}

@test "unknown command: -ERR Unknown command (spec 3)" {
	crlf FOO QUIT | chat
	[ "$status" -eq 0 ]
	expect_bytes "$GREET" "$UNKNOWN" '+OK Bye'
}

@test "a keyword with a valid prefix (QUITX) is unknown (spec 3)" {
	crlf QUITX 'QUIT' | chat
	[ "$status" -eq 0 ]
	expect_bytes "$GREET" "$UNKNOWN" '+OK Bye'
}

@test "empty line: -ERR Unknown command (spec 3)" {
	crlf '' QUIT | chat
	[ "$status" -eq 0 ]
	expect_bytes "$GREET" "$UNKNOWN" '+OK Bye'
}

@test "a line of only blanks: -ERR Unknown command (spec 2, 3)" {
	crlf $'  \t ' QUIT | chat
	[ "$status" -eq 0 ]
	expect_bytes "$GREET" "$UNKNOWN" '+OK Bye'
}

@test "trailing blanks after QUIT are ignored (spec 2)" {
	crlf $'QUIT \t ' | chat
	[ "$status" -eq 0 ]
	expect_bytes "$GREET" '+OK Bye'
}

@test "STAT before login: -ERR STAT is only valid after login (spec 3)" {
	crlf STAT QUIT | chat
	[ "$status" -eq 0 ]
	expect_bytes "$GREET" '-ERR STAT is only valid after login' '+OK Bye'
}

@test "every TRANSACTION command before login names itself (spec 3)" {
	crlf LIST 'RETR 1' 'DELE 1' NOOP RSET 'TOP 1 1' UIDL QUIT | chat
	[ "$status" -eq 0 ]
	expect_bytes "$GREET" \
	    '-ERR LIST is only valid after login' \
	    '-ERR RETR is only valid after login' \
	    '-ERR DELE is only valid after login' \
	    '-ERR NOOP is only valid after login' \
	    '-ERR RSET is only valid after login' \
	    '-ERR TOP is only valid after login' \
	    '-ERR UIDL is only valid after login' '+OK Bye'
}

@test "USER after login: -ERR USER is only valid before login (spec 3)" {
	{ login alice s3cret; crlf 'USER alice' QUIT; } | chat
	[ "$status" -eq 0 ]
	expect_bytes "$GREET" "$PWREQ" "$OK0" \
	    '-ERR USER is only valid before login' '+OK Bye'
}

@test "PASS after login: -ERR PASS is only valid before login (spec 3)" {
	{ login alice s3cret; crlf 'PASS s3cret' QUIT; } | chat
	[ "$status" -eq 0 ]
	expect_bytes "$GREET" "$PWREQ" "$OK0" \
	    '-ERR PASS is only valid before login' '+OK Bye'
}

@test "20 bad commands: 19 replies, then -ERR Too many errors, exit 1 (spec 2)" {
	local i
	for i in $(seq 1 21); do crlf FOO; done | chat
	[ "$status" -eq 1 ]
	local exp=("$GREET")
	for i in $(seq 1 19); do exp+=("$UNKNOWN"); done
	exp+=('-ERR Too many errors')
	expect_bytes "${exp[@]}"
}

@test "the 21st command after too many errors is never answered (spec 2)" {
	local i
	{ for i in $(seq 1 20); do crlf FOO; done; crlf QUIT; } | chat
	[ "$status" -eq 1 ]
	! grep -aq '^+OK Bye' "$out" || false
	[ "$(wc -l <"$out")" -eq 21 ]
	line_is 21 '-ERR Too many errors'
}

@test "19 bad commands leave the session open (spec 2)" {
	local i
	{ for i in $(seq 1 19); do crlf FOO; done; crlf QUIT; } | chat
	[ "$status" -eq 0 ]
	line_is 20 "$UNKNOWN"
	line_is 21 '+OK Bye'
}

@test "every kind of bad command counts towards 20 (spec 2)" {
	local i
	{ crlf FOO FOO ''  STAT LIST NOOP 'USER' 'USER a b' 'RETR 1'
	  user_line_of 600; user_line_of 600; user_line_of 600
	  printf 'A\0\r\nB\0\r\nC\0\r\n'
	  crlf 'AUTH PLAIN !!' 'AUTH PLAIN !!' 'AUTH PLAIN !!' '  '
	  crlf BAR QUIT; } | chat
	[ "$status" -eq 1 ]
	expect_bytes "$GREET" "$UNKNOWN" "$UNKNOWN" "$UNKNOWN" \
	    '-ERR STAT is only valid after login' \
	    '-ERR LIST is only valid after login' \
	    '-ERR NOOP is only valid after login' \
	    '-ERR Missing user name' '-ERR Too many arguments' \
	    '-ERR RETR is only valid after login' \
	    "$TOOLONG" "$TOOLONG" "$TOOLONG" "$NUL" "$NUL" "$NUL" \
	    '-ERR Malformed authentication data' \
	    '-ERR Malformed authentication data' \
	    '-ERR Malformed authentication data' \
	    "$UNKNOWN" '-ERR Too many errors'
}

@test "bad commands after login count too: 20th closes, no UPDATE (spec 2)" {
	local i
	mkmsg alice cur 1700000000.1.host:2,S 'Subject: a' '' 'hi'
	{ login alice s3cret; crlf 'DELE 1'
	  for i in $(seq 1 20); do crlf 'RETR x'; done; crlf QUIT; } | chat
	[ "$status" -eq 1 ]
	[ "$(wc -l <"$out")" -eq 24 ]
	line_is 4 '+OK Message 1 deleted'
	line_is 5 '-ERR Invalid message number: not a number'
	line_is 23 '-ERR Invalid message number: not a number'
	line_is 24 '-ERR Too many errors'
	[ -f "$(maildir alice)/cur/1700000000.1.host:2,S" ]
}

@test "every -ERR line carries text after '-ERR ' (spec 2, V0001)" {
	mkmsg alice cur 1700000000.1.host:2,S 'Subject: a' '' 'hi'
	# 18 bad commands at most, so the session survives to QUIT
	{ crlf FOO '' STAT USER 'USER a b' 'PASS x' APOP 'AUTH FOO' \
	    'AUTH PLAIN !!' 'AUTH PLAIN' '*' STLS
	  printf 'N\0\r\n'; user_line_of 600
	  crlf 'USER alice' 'PASS wrong'
	  login alice s3cret
	  crlf 'USER x' 'RETR 0' 'RETR x' 'TOP 1' 'DELE 1' 'DELE 1' QUIT; } |
	    chat
	[ "$status" -eq 0 ]
	[ "$(grep -ac '^-ERR' "$out")" -eq 19 ]
	every_err_has_text
}

@test "no reply line exceeds 512 octets, no input is echoed (spec 2, C0001)" {
	local z
	z=$(head -c 480 /dev/zero | tr '\0' Z)
	{ crlf "FOO$z" "STAT $z" "USER a $z" "USER $z" "PASS $z"
	  printf 'Z%s%s\r\n' "$z" "$z"
	  login alice s3cret
	  crlf "RETR $z" "LIST 1$z" "TOP 1 $z" "UIDL 9$z" "BAR $z" QUIT; } |
	    chat
	[ "$status" -eq 0 ]
	echo "longest: $(max_line_len)" >&2
	[ "$(max_line_len)" -le 512 ]
	! grep -aq 'ZZZZZZZZZZZZZZZZ' "$out"
}
