#!/usr/bin/env bats
# bats file_tags=quick
# spec 4 AUTH PLAIN (RFC 5034, RFC 4616).

load helpers/load
load helpers/proto

MALFORMED='-ERR Malformed authentication data'

setup() {
	common_setup
	add_user alice s3cret
	add_user bob hunter2
}

@test "AUTH alone lists the mechanisms: PLAIN (spec 4, RFC 5034)" {
	crlf AUTH QUIT | chat
	[ "$status" -eq 0 ]
	expect_bytes "$GREET" '+OK Supported mechanisms follow' "${AUTH_LIST[@]}" . \
	    '+OK Bye'
}

@test "AUTH PLAIN with an initial response logs in (spec 4)" {
	crlf "AUTH PLAIN $(b64 '\0alice\0s3cret')" QUIT | chat
	[ "$status" -eq 0 ]
	expect_bytes "$GREET" "$OK0" '+OK Bye'
}

@test "AUTH PLAIN after the '+ ' continuation logs in (spec 4)" {
	crlf 'AUTH PLAIN' "$(b64 '\0alice\0s3cret')" QUIT | chat
	[ "$status" -eq 0 ]
	expect_bytes "$GREET" '+ ' "$OK0" '+OK Bye'
}

@test "AUTH PLAIN continuation is sent before the response arrives (spec 4)" {
	drive --hold --limit=5 'AUTH PLAIN\r\n' '=0.5' \
	    "$(b64 '\0alice\0s3cret')\\r\\nQUIT\\r\\n"
	[ "$status" -eq 0 ]
	expect_bytes "$GREET" '+ ' "$OK0" '+OK Bye'
}

@test "AUTH PLAIN with a wrong password: auth failed (spec 4)" {
	crlf "AUTH PLAIN $(b64 '\0alice\0wrong')" QUIT | chat
	[ "$status" -eq 0 ]
	expect_bytes "$GREET" "$FAIL" '+OK Bye'
}

@test "AUTH PLAIN for an unknown user: auth failed (spec 4)" {
	crlf "AUTH PLAIN $(b64 '\0nobody\0s3cret')" QUIT | chat
	[ "$status" -eq 0 ]
	expect_bytes "$GREET" "$FAIL" '+OK Bye'
}

@test "AUTH PLAIN = (empty initial response) is malformed (spec 4, RFC 5034)" {
	crlf 'AUTH PLAIN =' QUIT | chat
	[ "$status" -eq 0 ]
	expect_bytes "$GREET" "$MALFORMED" '+OK Bye'
}

@test "AUTH PLAIN * at the continuation cancels (spec 4)" {
	crlf 'AUTH PLAIN' '*' QUIT | chat
	[ "$status" -eq 0 ]
	expect_bytes "$GREET" '+ ' '-ERR Authentication cancelled' '+OK Bye'
}

@test "AUTH PLAIN cancel leaves AUTHORIZATION usable (spec 4)" {
	crlf 'AUTH PLAIN' '*' 'USER alice' 'PASS s3cret' QUIT | chat
	[ "$status" -eq 0 ]
	expect_bytes "$GREET" '+ ' '-ERR Authentication cancelled' \
	    '+OK Password required' "$OK0" '+OK Bye'
}

@test "AUTH PLAIN with bad base64: malformed (spec 4)" {
	crlf 'AUTH PLAIN !!!not*base64!!!' QUIT | chat
	[ "$status" -eq 0 ]
	expect_bytes "$GREET" "$MALFORMED" '+OK Bye'
}

@test "AUTH PLAIN with bad base64 at the continuation: malformed (spec 4)" {
	crlf 'AUTH PLAIN' 'a$b%' QUIT | chat
	[ "$status" -eq 0 ]
	expect_bytes "$GREET" '+ ' "$MALFORMED" '+OK Bye'
}

@test "AUTH PLAIN message without NUL separators: malformed (spec 4, RFC 4616)" {
	crlf "AUTH PLAIN $(b64 'alice')" QUIT | chat
	[ "$status" -eq 0 ]
	expect_bytes "$GREET" "$MALFORMED" '+OK Bye'
}

@test "AUTH PLAIN with one NUL only: malformed (spec 4, RFC 4616)" {
	crlf "AUTH PLAIN $(b64 '\0alice')" QUIT | chat
	[ "$status" -eq 0 ]
	expect_bytes "$GREET" "$MALFORMED" '+OK Bye'
}

@test "AUTH PLAIN password is not cut short at a NUL (spec 4)" {
	crlf "AUTH PLAIN $(b64 '\0alice\0s3cret\0junk')" QUIT | chat
	[ "$status" -eq 0 ]
	! grep -aq '^+OK Logged in' "$out" || false
	line 2 | grep -q '^-ERR '
}

@test "AUTH PLAIN with authzid equal to authcid logs in (spec 4)" {
	crlf "AUTH PLAIN $(b64 'alice\0alice\0s3cret')" QUIT | chat
	[ "$status" -eq 0 ]
	expect_bytes "$GREET" "$OK0" '+OK Bye'
}

@test "AUTH PLAIN with a different authzid: auth failed (spec 4)" {
	crlf "AUTH PLAIN $(b64 'bob\0alice\0s3cret')" QUIT | chat
	[ "$status" -eq 0 ]
	expect_bytes "$GREET" "$FAIL" '+OK Bye'
}

@test "AUTH PLAIN different authzid counts as an auth failure (spec 4, C0005)" {
	crlf "AUTH PLAIN $(b64 'bob\0alice\0s3cret')" QUIT |
	    chat --max-auth-failures=1
	[ "$status" -eq 1 ]
	expect_bytes "$GREET" "$FAIL"
}

@test "AUTH FOO: -ERR Unsupported authentication mechanism (spec 4)" {
	crlf 'AUTH FOO' QUIT | chat
	[ "$status" -eq 0 ]
	expect_bytes "$GREET" '-ERR Unsupported authentication mechanism' \
	    '+OK Bye'
}

@test "AUTH CRAM-MD5 with a response: unsupported (spec 4)" {
	crlf 'AUTH CRAM-MD5 Zm9v' QUIT | chat
	[ "$status" -eq 0 ]
	expect_bytes "$GREET" '-ERR Unsupported authentication mechanism' \
	    '+OK Bye'
}

@test "lower-case 'auth plain' works (spec 2, 4)" {
	crlf "auth plain $(b64 '\0alice\0s3cret')" QUIT | chat
	[ "$status" -eq 0 ]
	expect_bytes "$GREET" "$OK0" '+OK Bye'
}

@test "a TAB between AUTH, the mechanism and the response works (2.1.1)" {
	crlf $'AUTH\tPLAIN\t'"$(b64 '\0alice\0s3cret')" QUIT | chat
	[ "$status" -eq 0 ]
	expect_bytes "$GREET" "$OK0" '+OK Bye'
}

@test "AUTH PLAIN with a name containing '/' fails (spec 4)" {
	user_line 'a/b' "$(hash6 s3cret)"
	crlf "AUTH PLAIN $(b64 '\0a/b\0s3cret')" QUIT | chat
	[ "$status" -eq 0 ]
	expect_bytes "$GREET" "$FAIL" '+OK Bye'
}

@test "AUTH PLAIN refused with plaintext-auth=never on a pipe (spec 4, V0010)" {
	crlf "AUTH PLAIN $(b64 '\0alice\0s3cret')" QUIT |
	    chat --plaintext-auth=never
	[ "$status" -eq 0 ]
	expect_bytes "$GREET" "$REFUSED" '+OK Bye'
}

@test "malformed AUTH data is a bad command, not an auth failure (spec 4)" {
	crlf 'AUTH PLAIN !!' 'AUTH PLAIN !!' 'AUTH PLAIN !!' \
	    "AUTH PLAIN $(b64 '\0alice\0s3cret')" QUIT |
	    chat --max-auth-failures=1
	[ "$status" -eq 0 ]
	expect_bytes "$GREET" "$MALFORMED" "$MALFORMED" "$MALFORMED" \
	    "$OK0" '+OK Bye'
}

@test "AUTH after login: -ERR AUTH is only valid before login (spec 3)" {
	crlf "AUTH PLAIN $(b64 '\0alice\0s3cret')" \
	    "AUTH PLAIN $(b64 '\0bob\0hunter2')" QUIT | chat
	[ "$status" -eq 0 ]
	expect_bytes "$GREET" "$OK0" '-ERR AUTH is only valid before login' \
	    '+OK Bye'
}
