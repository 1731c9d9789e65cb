#!/usr/bin/env bats
# bats file_tags=quick
# spec 4: USER/PASS, the passwd file, locked accounts, name checks.

load helpers/load
load helpers/proto

# try NAME PASS: USER/PASS/QUIT; the PASS reply is line 3.
try() {
	crlf "USER $1" "PASS $2" QUIT | chat
	[ "$status" -eq 0 ]
	line_is 2 "$PWREQ"
}

@test "USER with an unknown name: +OK Password required (spec 4, V0008)" {
	add_user alice s3cret
	crlf 'USER nobody' QUIT | chat
	[ "$status" -eq 0 ]
	expect_bytes "$GREET" "$PWREQ" '+OK Bye'
}

@test "USER with an invalid name a/b: +OK Password required (spec 4, V0009)" {
	add_user alice s3cret
	crlf 'USER a/b' QUIT | chat
	[ "$status" -eq 0 ]
	expect_bytes "$GREET" "$PWREQ" '+OK Bye'
}

@test "USER with a 300-octet name: +OK Password required (spec 4, V0009)" {
	add_user alice s3cret
	crlf "USER $(printf 'x%.0s' {1..300})" QUIT | chat
	[ "$status" -eq 0 ]
	expect_bytes "$GREET" "$PWREQ" '+OK Bye'
}

@test "USER without a name: -ERR Missing user name (spec 4)" {
	add_user alice s3cret
	crlf 'USER' QUIT | chat
	expect_bytes "$GREET" '-ERR Missing user name' '+OK Bye'
}

@test "USER with two arguments: -ERR Too many arguments (spec 4)" {
	add_user alice s3cret
	crlf 'USER alice bob' QUIT | chat
	expect_bytes "$GREET" '-ERR Too many arguments' '+OK Bye'
}

@test "USER/PASS with the right password logs in to an empty Maildir (spec 4)" {
	add_user alice s3cret
	try alice s3cret
	expect_bytes "$GREET" "$PWREQ" "$OK0" '+OK Bye'
}

@test "login reply counts messages and exact octets (spec 4)" {
	add_user alice s3cret
	mkmsg alice new 1700000000.1.host 'Subject: a' '' 'hi'
	mkmsg alice cur 1700000001.2.host:2,S 'Subject: bb' '' 'hello' 'x'
	try alice s3cret
	# CRLF sizes: 12+2+4 = 18 and 13+2+7+3 = 25
	line_is 3 '+OK Logged in, 2 messages (43 octets)'
}

@test "login creates a missing Maildir with new, cur, tmp mode 0700 (spec 4)" {
	add_user alice s3cret
	local md
	md=$(maildir alice)
	[ ! -e "$md" ]
	try alice s3cret
	line_is 3 "$OK0"
	for d in "$md" "$md/new" "$md/cur" "$md/tmp"; do
		[ -d "$d" ] || { echo "missing $d" >&2; return 1; }
	done
	for d in "$md/new" "$md/cur" "$md/tmp"; do
		[ "$(stat -c %a "$d")" = 700 ] ||
		    { echo "$d mode $(stat -c %a "$d")" >&2; return 1; }
	done
}

@test "PASS with a wrong password: -ERR [AUTH] Authentication failed (spec 4)" {
	add_user alice s3cret
	try alice wrong
	expect_bytes "$GREET" "$PWREQ" "$FAIL" '+OK Bye'
}

@test "PASS for an unknown user: the same failure line (spec 4, V0008)" {
	add_user alice s3cret
	try nobody s3cret
	expect_bytes "$GREET" "$PWREQ" "$FAIL" '+OK Bye'
}

@test "PASS without USER: -ERR PASS must follow USER (spec 4)" {
	add_user alice s3cret
	crlf 'PASS s3cret' QUIT | chat
	expect_bytes "$GREET" '-ERR PASS must follow USER' '+OK Bye'
}

@test "PASS with only blanks: -ERR Missing password (spec 4)" {
	add_user alice s3cret
	crlf 'USER alice' 'PASS   ' QUIT | chat
	expect_bytes "$GREET" "$PWREQ" '-ERR Missing password' '+OK Bye'
}

@test "PASS without an argument: -ERR Missing password (spec 4)" {
	add_user alice s3cret
	crlf 'USER alice' 'PASS' QUIT | chat
	expect_bytes "$GREET" "$PWREQ" '-ERR Missing password' '+OK Bye'
}

@test "PASS keeps inner and trailing spaces: 'my pass ' logs in (spec 4, V0011)" {
	user_line alice "$(hash6 'my pass ')"
	try alice 'my pass '
	line_is 3 "$OK0"
}

@test "PASS 'my pass' without the trailing space fails for 'my pass ' (spec 4, V0011)" {
	user_line alice "$(hash6 'my pass ')"
	try alice 'my pass'
	line_is 3 "$FAIL"
}

@test "PASS 'mypass' fails for a hash of 'my pass ' (spec 4, V0011)" {
	user_line alice "$(hash6 'my pass ')"
	try alice 'mypass'
	line_is 3 "$FAIL"
}

@test "PASS password with a tab inside is kept whole (spec 4, V0011)" {
	user_line alice "$(hash6 $'a\tb')"
	try alice $'a\tb'
	line_is 3 "$OK0"
}

@test "a TAB separates keyword and argument (spec 2, 2.1.1)" {
	add_user alice s3cret
	crlf $'USER\talice' $'PASS\ts3cret' QUIT | chat
	[ "$status" -eq 0 ]
	expect_bytes "$GREET" "$PWREQ" "$OK0" '+OK Bye'
}

@test "a run of blanks separates keyword and argument (spec 2, 2.1.1)" {
	add_user alice s3cret
	crlf $'USER  \t alice' $'PASS \t  s3cret' QUIT | chat
	[ "$status" -eq 0 ]
	expect_bytes "$GREET" "$PWREQ" "$OK0" '+OK Bye'
}

@test "leading and trailing blanks around USER are ignored (spec 2)" {
	add_user alice s3cret
	crlf $' \tUSER alice \t ' 'PASS s3cret' QUIT | chat
	[ "$status" -eq 0 ]
	expect_bytes "$GREET" "$PWREQ" "$OK0" '+OK Bye'
}

@test "keywords are case-insensitive: user / UsEr / pass (spec 2)" {
	add_user alice s3cret
	crlf 'user nobody' 'UsEr alice' 'pAsS s3cret' 'quit' | chat
	[ "$status" -eq 0 ]
	expect_bytes "$GREET" "$PWREQ" "$PWREQ" "$OK0" '+OK Bye'
}

@test "a name with '/' never logs in, even if the file has it (spec 4)" {
	user_line 'a/b' "$(hash6 s3cret)"
	try 'a/b' s3cret
	line_is 3 "$FAIL"
}

@test "a name with a leading '.' never logs in, even if the file has it (spec 4)" {
	user_line '.alice' "$(hash6 s3cret)"
	try '.alice' s3cret
	line_is 3 "$FAIL"
}

@test "a name of '..' never logs in (spec 4)" {
	user_line '..' "$(hash6 s3cret)"
	try '..' s3cret
	line_is 3 "$FAIL"
}

@test "a name of 256 octets never logs in, even if the file has it (spec 4)" {
	local n
	n=$(printf 'a%.0s' {1..256})
	user_line "$n" "$(hash6 s3cret)"
	try "$n" s3cret
	line_is 3 "$FAIL"
}

@test "a name of exactly 255 octets does log in (spec 4 boundary)" {
	local n
	n=$(printf 'a%.0s' {1..255})
	user_line "$n" "$(hash6 s3cret)"
	try "$n" s3cret
	line_is 3 "$OK0"
}

@test "a name with a control character (0x01) never logs in (spec 4)" {
	user_line $'al\x01ice' "$(hash6 s3cret)"
	try $'al\x01ice' s3cret
	line_is 3 "$FAIL"
}

@test "a name with DEL (0x7f) never logs in (spec 4)" {
	user_line $'al\x7fice' "$(hash6 s3cret)"
	try $'al\x7fice' s3cret
	line_is 3 "$FAIL"
}

@test "a name with ESC (0x1b) never logs in (spec 4)" {
	user_line $'al\x1bice' "$(hash6 s3cret)"
	try $'al\x1bice' s3cret
	line_is 3 "$FAIL"
}

@test "locked account: '!' before a valid hash never logs in (spec 4)" {
	user_line alice "!$(hash6 s3cret)"
	try alice s3cret
	line_is 3 "$FAIL"
}

@test "locked account: '*' before a valid hash never logs in (spec 4)" {
	user_line alice "*$(hash6 s3cret)"
	try alice s3cret
	line_is 3 "$FAIL"
}

@test "locked account: a lone '*' hash never logs in (spec 4)" {
	user_line alice '*'
	try alice '*'
	line_is 3 "$FAIL"
}

@test "locked account: an empty hash never logs in with a password (spec 4)" {
	user_line alice ''
	try alice x
	line_is 3 "$FAIL"
}

@test "locked account: an empty hash never logs in with an empty AUTH PLAIN password (spec 4)" {
	user_line alice ''
	crlf "AUTH PLAIN $(b64 '\0alice\0')" QUIT | chat
	[ "$status" -eq 0 ]
	! grep -aq '^+OK Logged in' "$out" || false
	[ "$(line 2)" = "$FAIL" ] ||
	    [ "$(line 2)" = '-ERR Malformed authentication data' ]
}

@test "locked account: '!' alone never logs in with an empty AUTH PLAIN password (spec 4)" {
	user_line alice '!'
	crlf "AUTH PLAIN $(b64 '\0alice\0')" QUIT | chat
	[ "$status" -eq 0 ]
	! grep -aq '^+OK Logged in' "$out"
}

@test "{SHA512-CRYPT} prefix is stripped (spec 4)" {
	user_line alice "{SHA512-CRYPT}$(hash6 s3cret)"
	try alice s3cret
	line_is 3 "$OK0"
}

@test "{CRYPT} prefix is stripped (spec 4)" {
	user_line alice "{CRYPT}$(hash6 s3cret)"
	try alice s3cret
	line_is 3 "$OK0"
}

@test "{SHA512-CRYPT} hash with a wrong password fails (spec 4)" {
	user_line alice "{SHA512-CRYPT}$(hash6 s3cret)"
	try alice wrong
	line_is 3 "$FAIL"
}

@test "\$5\$ hash from openssl passwd -5 verifies (spec 4)" {
	user_line alice "$(hash5 s3cret)"
	try alice s3cret
	line_is 3 "$OK0"
}

@test "\$6\$ hash from openssl passwd -6 verifies (spec 4)" {
	user_line alice "$(hash6 s3cret)"
	try alice s3cret
	line_is 3 "$OK0"
}

@test "\$y\$ hash from --hash-password verifies (spec 1, 4)" {
	printf 's3cret\n' | chat_raw --hash-password
	[ "$status" -eq 0 ]
	user_line alice "$(head -1 "$out")"
	try alice s3cret
	line_is 3 "$OK0"
}

@test "malformed passwd lines before the good one are skipped (spec 4)" {
	printf 'no colons here\n' >"$PASSWD"
	printf 'bob:%s:12x:::/tmp::\n' "$(hash6 pw)" >>"$PASSWD"
	printf ':%s:::::/tmp::\n' "$(hash6 pw)" >>"$PASSWD"
	printf '# alice:comment\n' >>"$PASSWD"
	add_user alice s3cret
	try alice s3cret
	line_is 3 "$OK0"
}

@test "a line with a non-numeric uid is malformed, never logs in (spec 4)" {
	user_line alice "$(hash6 s3cret)" 12x 100
	try alice s3cret
	line_is 3 "$FAIL"
}

@test "first line for a name wins: its password logs in (spec 4)" {
	user_line alice "$(hash6 first)"
	user_line alice "$(hash6 second)"
	try alice first
	line_is 3 "$OK0"
}

@test "first line for a name wins: a later line's password fails (spec 4)" {
	user_line alice "$(hash6 first)"
	user_line alice "$(hash6 second)"
	try alice second
	line_is 3 "$FAIL"
}

@test "the passwd file is read fresh by each process (spec 4)" {
	add_user alice s3cret
	try alice s3cret
	line_is 3 "$OK0"
	: >"$PASSWD"
	add_user alice changed
	try alice s3cret
	line_is 3 "$FAIL"
}

@test "plaintext-auth=never on a pipe: USER of an existing name is refused (spec 4, V0010)" {
	add_user alice s3cret
	crlf 'USER alice' QUIT | chat --plaintext-auth=never
	[ "$status" -eq 0 ]
	expect_bytes "$GREET" "$REFUSED" '+OK Bye'
}

@test "plaintext-auth=never on a pipe: USER of an unknown name gets the same line (spec 4, V0010)" {
	add_user alice s3cret
	crlf 'USER nobody' QUIT | chat --plaintext-auth=never
	[ "$status" -eq 0 ]
	expect_bytes "$GREET" "$REFUSED" '+OK Bye'
}

@test "plaintext-auth=never on a pipe: PASS is refused too, no login (spec 4, V0010)" {
	add_user alice s3cret
	crlf 'USER alice' 'PASS s3cret' QUIT | chat --plaintext-auth=never
	[ "$status" -eq 0 ]
	expect_bytes "$GREET" "$REFUSED" "$REFUSED" '+OK Bye'
}

@test "plaintext-auth=tls on a remote PROXY peer: USER refused (spec 1, 4)" {
	add_user alice s3cret
	{ printf 'PROXY TCP4 192.0.2.7 192.0.2.1 40000 110\r\n'
	  crlf 'USER alice' QUIT; } | chat --proxy-protocol=yes
	[ "$status" -eq 0 ]
	expect_bytes "$GREET" "$REFUSED" '+OK Bye'
}

@test "APOP: -ERR APOP not supported (spec 3, V0012)" {
	add_user alice s3cret
	crlf 'APOP alice 0123456789abcdef0123456789abcdef' QUIT | chat
	[ "$status" -eq 0 ]
	expect_bytes "$GREET" '-ERR APOP not supported' '+OK Bye'
}
