#!/usr/bin/env bats
# spec 1 --hash-password, spec 4 passwd-file details (schemes, bounds,
# identities) and spec 9 log hygiene, through the binary.

load helpers/load
load helpers/proto

PERM='-ERR [SYS/PERM] Unable to switch to the user'

# hashpw PW: a $y$ hash from the handler itself.
hashpw() {
	printf '%s\n' "$1" | timeout 20 "$HANDLER" --hash-password
}

# try NAME PASS: USER/PASS/QUIT; the PASS reply is line 3.
try() {
	crlf "USER $1" "PASS $2" QUIT | chat
	line_is 2 "$PWREQ"
}

@test "--hash-password: two runs give two salts, both verify (spec 1, 4)" {
	local a b
	a=$(hashpw s3cret)
	b=$(hashpw s3cret)
	[[ $a == '$y$'* ]]
	[ "$a" != "$b" ]
	user_line alice "$b"
	try alice s3cret
	[ "$status" -eq 0 ]
	line_is 3 "$OK0"
}

@test "--hash-password keeps inner and trailing spaces of the password (spec 1, V0011)" {
	user_line alice "$(hashpw 'my pass ')"
	try alice 'my pass '
	[ "$status" -eq 0 ]
	line_is 3 "$OK0"
}

@test "--hash-password hash fails for the password without its trailing space (spec 1, V0011)" {
	user_line alice "$(hashpw 'my pass ')"
	try alice 'my pass'
	[ "$status" -eq 0 ]
	line_is 3 "$FAIL"
}

@test "{PLAIN} scheme is refused: the text itself never logs in (spec 4)" {
	user_line alice '{PLAIN}s3cret'
	try alice s3cret
	[ "$status" -eq 0 ]
	line_is 3 "$FAIL"
}

@test "a plain-text password in the hash field never logs in (spec 4)" {
	user_line alice 's3cret'
	try alice s3cret
	[ "$status" -eq 0 ]
	line_is 3 "$FAIL"
}

@test "--check-config reports a plain-text password in the hash field (spec 1, 4)" {
	add_user alice s3cret
	printf 'bob:hunter2\n' >>"$PASSWD"
	chat_raw --passwd-file="$PASSWD" --check-config </dev/null
	[ "$status" -eq 2 ]
	grep -q 'line 2: unusable password hash' "$log"
}

@test "--check-config names a {PLAIN} line and never prints the hash field (spec 1, 4, 9)" {
	add_user alice s3cret
	printf 'bob:{PLAIN}TopSecretValue\n' >>"$PASSWD"
	chat_raw --passwd-file="$PASSWD" --check-config </dev/null
	[ "$status" -eq 2 ]
	grep -q 'line 2' "$log"
	! grep -q TopSecretValue "$out" "$log" || false
}

@test "{MD5-CRYPT} and {SHA256-CRYPT} prefixes are stripped, case-insensitively (spec 4)" {
	user_line alice "{MD5-CRYPT}$(printf s3cret | openssl passwd -1 -salt salt -stdin)"
	user_line bob "{sha256-crypt}$(hash5 hunter2)"
	try alice s3cret
	[ "$status" -eq 0 ]
	line_is 3 "$OK0"
	try bob hunter2
	[ "$status" -eq 0 ]
	line_is 3 "$OK0"
}

@test "a passwd line over 8 KiB is skipped and logged; the next line works (spec 4)" {
	{ printf 'bob:%s:::' "$(hash6 pw)"; head -c 9000 /dev/zero | tr '\0' x
	  printf ':/tmp::\n'; } >"$PASSWD"
	add_user alice s3cret
	try bob pw
	[ "$status" -eq 0 ]
	line_is 3 "$FAIL"
	grep -q 'line 1: line too long' "$log"
	try alice s3cret
	[ "$status" -eq 0 ]
	line_is 3 "$OK0"
}

@test "a passwd file with CRLF line ends still verifies (spec 4)" {
	printf 'alice:%s\r\n' "$(hash6 s3cret)" >"$PASSWD"
	mkdir -p "$MAILROOT/alice"
	crlf 'USER alice' 'PASS s3cret' QUIT |
	    chat --maildir="$MAILROOT/%u/Maildir"
	[ "$status" -eq 0 ]
	line_is 3 "$OK0"
}

@test "uid 4294967295 is out of range: the line is malformed (spec 4)" {
	user_line alice "$(hash6 s3cret)" 4294967295 100
	try alice s3cret
	[ "$status" -eq 0 ]
	line_is 3 "$FAIL"
	grep -q 'uid is not a decimal number in range' "$log"
}

@test "a gid with a sign is malformed (spec 4)" {
	user_line alice "$(hash6 s3cret)" 100 +100
	try alice s3cret
	[ "$status" -eq 0 ]
	line_is 3 "$FAIL"
}

@test "a relative home makes the line malformed (spec 4)" {
	printf 'alice:%s::::relative/home::\n' "$(hash6 s3cret)" >"$PASSWD"
	try alice s3cret
	[ "$status" -eq 0 ]
	line_is 3 "$FAIL"
}

@test "a passwd file that is a symlink is not followed: a server fault, not a wrong password (spec 4, 9, O_NOFOLLOW)" {
	add_user alice s3cret
	mv "$PASSWD" "$T/real"
	ln -s "$T/real" "$PASSWD"
	try alice s3cret
	[ "$status" -eq 0 ]
	line_is 3 '-ERR [SYS/TEMP] Authentication is temporarily unavailable; try again later'
	grep -q "event=error .*cannot read the passwd file $PASSWD: Too many levels of symbolic links" "$log"
}

@test "uid 0 in the passwd file: refused as root (spec 4 privilege drop)" {
	[ "$(id -u)" -eq 0 ] || skip "needs root"
	add_user alice s3cret 0 0
	crlf 'USER alice' 'PASS s3cret' QUIT | chat
	[ "$status" -eq 1 ]
	expect_bytes "$GREET" "$PWREQ" "$PERM"
}

@test "uid without gid: refused as root (spec 4 privilege drop)" {
	[ "$(id -u)" -eq 0 ] || skip "needs root"
	add_user alice s3cret 65534 ''
	crlf 'USER alice' 'PASS s3cret' QUIT | chat
	[ "$status" -eq 1 ]
	expect_bytes "$GREET" "$PWREQ" "$PERM"
}

@test "the log never holds the password, right or wrong (spec 9)" {
	add_user alice Pw-Right-1234
	crlf 'USER alice' 'PASS Pw-Wrong-5678' 'USER alice' \
	    'PASS Pw-Right-1234' QUIT | chat
	[ "$status" -eq 0 ]
	line_is 5 "$OK0"
	! grep -a -e Pw-Wrong -e Pw-Right "$log" || false
	! grep -a 'saltsalt' "$log" || false
}

@test "log=stderr login event: event=login user=alice remote=local (spec 9)" {
	add_user alice s3cret
	try alice s3cret
	[ "$status" -eq 0 ]
	grep -q '^pop3-handler: event=login user=alice remote=local ' "$log"
}

@test "log=stderr failed login event names the user (spec 9)" {
	add_user alice s3cret
	try alice wrong
	[ "$status" -eq 0 ]
	grep -q '^pop3-handler: event=login-failed user=alice remote=local' "$log"
}

@test "control bytes of a hostile user name are escaped in the log (spec 9)" {
	add_user alice s3cret
	printf 'USER a\033[2Jb\r\nPASS x\r\nQUIT\r\n' | chat
	[ "$status" -eq 0 ]
	line_is 3 "$FAIL"
	grep -qF 'user=a\x1b[2Jb' "$log"
	! LC_ALL=C grep -q $'\033' "$log" || false
}
