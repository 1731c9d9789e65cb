#!/usr/bin/env bats
# spec 4 failures: auth-fail-delay, max-auth-failures (C0005).

load helpers/load
load helpers/proto

setup() {
	common_setup
	add_user alice s3cret
}

@test "3rd auth failure (default max): reply, then close, exit 1 (spec 4, C0005)" {
	crlf 'USER alice' 'PASS a' 'USER alice' 'PASS b' 'USER alice' 'PASS c' \
	    'USER alice' 'PASS s3cret' QUIT | chat
	[ "$status" -eq 1 ]
	expect_bytes "$GREET" "$PWREQ" "$FAIL" "$PWREQ" "$FAIL" "$PWREQ" "$FAIL"
}

@test "2 auth failures leave the session open: login still works (spec 4)" {
	crlf 'USER alice' 'PASS a' 'USER alice' 'PASS b' \
	    'USER alice' 'PASS s3cret' QUIT | chat
	[ "$status" -eq 0 ]
	expect_bytes "$GREET" "$PWREQ" "$FAIL" "$PWREQ" "$FAIL" \
	    "$PWREQ" "$OK0" '+OK Bye'
}

@test "unknown-user failures count the same (spec 4, C0005)" {
	crlf 'USER x' 'PASS a' 'USER y' 'PASS b' 'USER z' 'PASS c' QUIT | chat
	[ "$status" -eq 1 ]
	expect_bytes "$GREET" "$PWREQ" "$FAIL" "$PWREQ" "$FAIL" "$PWREQ" "$FAIL"
}

@test "--max-auth-failures=1: first failure closes, exit 1 (spec 1, 4)" {
	crlf 'USER alice' 'PASS a' 'USER alice' 'PASS s3cret' QUIT |
	    chat --max-auth-failures=1
	[ "$status" -eq 1 ]
	expect_bytes "$GREET" "$PWREQ" "$FAIL"
}

@test "--max-auth-failures=5: the 5th failure closes (spec 1, 4)" {
	# a failed PASS may or may not need a new USER: send USER each time
	crlf 'USER alice' 'PASS 1' 'USER alice' 'PASS 2' 'USER alice' 'PASS 3' \
	    'USER alice' 'PASS 4' 'USER alice' 'PASS 5' 'USER alice' \
	    'PASS s3cret' QUIT | chat --max-auth-failures=5
	[ "$status" -eq 1 ]
	expect_bytes "$GREET" "$PWREQ" "$FAIL" "$PWREQ" "$FAIL" "$PWREQ" \
	    "$FAIL" "$PWREQ" "$FAIL" "$PWREQ" "$FAIL"
}

@test "USER/PASS and AUTH PLAIN failures add up (spec 4, C0005)" {
	crlf 'USER alice' 'PASS a' "AUTH PLAIN $(b64 '\0alice\0b')" \
	    'USER alice' 'PASS c' 'USER alice' 'PASS s3cret' QUIT | chat
	[ "$status" -eq 1 ]
	expect_bytes "$GREET" "$PWREQ" "$FAIL" "$FAIL" "$PWREQ" "$FAIL"
}

# delay_is_1s NAME: USER NAME with a wrong password, under
# --auth-fail-delay=1, is answered as a failure after at least 1 s.
delay_is_1s() {
	local t0 t1
	t0=$(now_ms)
	crlf "USER $1" 'PASS wrong' QUIT | chat --auth-fail-delay=1
	t1=$(now_ms)
	[ "$status" -eq 0 ]
	expect_bytes "$GREET" "$PWREQ" "$FAIL" '+OK Bye'
	echo "took $((t1 - t0)) ms" >&2
	[ $((t1 - t0)) -ge 1000 ]
	[ $((t1 - t0)) -lt $((1000 + 7000 * SLOW)) ]
}

@test "--auth-fail-delay=1: a failure takes at least 1 s (spec 4)" {
	delay_is_1s alice
}

@test "--auth-fail-delay=1: an unknown user also takes at least 1 s (spec 4)" {
	delay_is_1s nobody
}

@test "--auth-fail-delay=1: an invalid name (a/b) also takes at least 1 s (spec 4)" {
	delay_is_1s a/b
}

@test "--auth-fail-delay=1: an AUTH PLAIN failure takes at least 1 s (spec 4)" {
	local t0 t1
	t0=$(now_ms)
	crlf "AUTH PLAIN $(b64 '\0alice\0wrong')" QUIT |
	    chat --auth-fail-delay=1
	t1=$(now_ms)
	[ "$status" -eq 0 ]
	expect_bytes "$GREET" "$FAIL" '+OK Bye'
	[ $((t1 - t0)) -ge 1000 ]
	[ $((t1 - t0)) -lt $((1000 + 7000 * SLOW)) ]
}

@test "--auth-fail-delay=1: the failure reply itself comes after the delay (spec 4)" {
	drive --hold --limit=8 'USER alice\r\nPASS wrong\r\n' '=0.5' \
	    'QUIT\r\n' -- --auth-fail-delay=1
	[ "$status" -eq 0 ]
	expect_bytes "$GREET" "$PWREQ" "$FAIL" '+OK Bye'
	[ "$elapsed_ms" -ge 1000 ]
}

@test "auth-fail-delay default is 2 s (spec 1)" {
	local t0 t1
	t0=$(now_ms)
	crlf 'USER alice' 'PASS wrong' QUIT |
	    chat_raw --passwd-file="$PASSWD" --hostname=test.example
	t1=$(now_ms)
	[ "$status" -eq 0 ]
	line_is 3 "$FAIL"
	echo "took $((t1 - t0)) ms" >&2
	[ $((t1 - t0)) -ge 2000 ]
	[ $((t1 - t0)) -lt $((2000 + 7000 * SLOW)) ]
}

@test "a successful login is not delayed by auth-fail-delay (spec 4)" {
	local t0 t1
	t0=$(now_ms)
	# The delay and the bound both stretch by SLOW: a busy machine
	# makes the login slower, never the delay shorter.
	crlf 'USER alice' 'PASS s3cret' QUIT |
	    chat --auth-fail-delay=$((3 * SLOW))
	t1=$(now_ms)
	[ "$status" -eq 0 ]
	line_is 3 "$OK0"
	echo "took $((t1 - t0)) ms" >&2
	[ $((t1 - t0)) -lt $((2500 * SLOW)) ]
}

@test "the last failure is delayed too before the close (spec 4, C0005)" {
	local t0 t1
	t0=$(now_ms)
	crlf 'USER alice' 'PASS wrong' QUIT |
	    chat --auth-fail-delay=1 --max-auth-failures=1
	t1=$(now_ms)
	[ "$status" -eq 1 ]
	expect_bytes "$GREET" "$PWREQ" "$FAIL"
	[ $((t1 - t0)) -ge 1000 ]
}
