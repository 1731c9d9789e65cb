#!/usr/bin/env bats
# spec 7 timeouts (V0002, V0003): idle limits, reset on every line,
# autologout without UPDATE, bounded writes.

load helpers/load
load helpers/proto

IDLE='-ERR Autologout; idle for too long'

setup() {
	common_setup
	add_user alice s3cret
}

@test "timeout-unauth=1, nothing sent: greeting, autologout line, exit 3 (spec 7)" {
	drive --hold --limit=8 -- --timeout-unauth=1
	[ "$status" -eq 3 ]
	expect_bytes "$GREET" "$IDLE"
	echo "elapsed $elapsed_ms ms" >&2
	[ "$elapsed_ms" -ge 900 ]
	[ "$elapsed_ms" -le $((1000 + 2500 * SLOW)) ]
}

@test "timeout-unauth=1 on a socket: autologout line, exit 3 (spec 7)" {
	drive --sock --hold --limit=8 -- --timeout-unauth=1
	[ "$status" -eq 3 ]
	expect_bytes "$GREET" "$IDLE"
	[ "$elapsed_ms" -le $((1000 + 2500 * SLOW)) ]
}

@test "USER does not end the unauth timer (spec 7)" {
	drive --hold --limit=8 'USER alice\r\n' -- --timeout-unauth=1 \
	    --timeout-auth=30
	[ "$status" -eq 3 ]
	expect_bytes "$GREET" "$PWREQ" "$IDLE"
	[ "$elapsed_ms" -le $((1000 + 2500 * SLOW)) ]
}

@test "idle at the AUTH PLAIN continuation: autologout, exit 3 (spec 7)" {
	drive --hold --limit=8 'AUTH PLAIN\r\n' -- --timeout-unauth=1
	[ "$status" -eq 3 ]
	expect_bytes "$GREET" '+ ' "$IDLE"
	[ "$elapsed_ms" -le $((1000 + 2500 * SLOW)) ]
}

@test "timeout-auth=1 after a login: autologout, exit 3 (spec 7)" {
	drive --hold --limit=8 'USER alice\r\nPASS s3cret\r\n' -- \
	    --timeout-auth=1 --timeout-unauth=30
	[ "$status" -eq 3 ]
	expect_bytes "$GREET" "$PWREQ" "$OK0" "$IDLE"
	echo "elapsed $elapsed_ms ms" >&2
	[ "$elapsed_ms" -ge 900 ]
	[ "$elapsed_ms" -le $((1000 + 2500 * SLOW)) ]
}

@test "after login timeout-auth applies, not timeout-unauth (spec 7)" {
	drive --hold --limit=8 'USER alice\r\nPASS s3cret\r\n' '=2' 'QUIT\r\n' \
	    -- --timeout-unauth=1 --timeout-auth=30
	[ "$status" -eq 0 ]
	expect_bytes "$GREET" "$PWREQ" "$OK0" '+OK Bye'
}

@test "every received line resets the idle timer (spec 7)" {
	drive --hold --limit=10 'USER alice\r\nPASS s3cret\r\n' \
	    '=0.6' 'NOOP\r\n' '=0.6' 'NOOP\r\n' '=0.6' 'NOOP\r\n' \
	    '=0.6' 'NOOP\r\n' '=0.6' 'NOOP\r\n' '=0.6' 'QUIT\r\n' \
	    -- --timeout-auth=1 --timeout-unauth=30
	[ "$status" -eq 0 ]
	expect_bytes "$GREET" "$PWREQ" "$OK0" '+OK' '+OK' '+OK' '+OK' '+OK' \
	    '+OK Bye'
	[ "$elapsed_ms" -ge 3000 ]
}

@test "lines before login reset the unauth timer too (spec 7)" {
	drive --hold --limit=10 \
	    '=0.6' 'CAPA\r\n' '=0.6' 'USER x\r\n' '=0.6' 'USER y\r\n' \
	    '=0.6' 'QUIT\r\n' -- --timeout-unauth=1
	[ "$status" -eq 0 ]
	line_is 1 "$GREET"
	tail -3 "$out" >"$T/tail"
	crlf "$PWREQ" "$PWREQ" '+OK Bye' | cmp - "$T/tail"
}

@test "autologout with a DELE mark removes nothing (spec 7, no UPDATE)" {
	mkmsg alice cur 1700000000.1.host:2,S 'Subject: a' '' 'hi'
	mkmsg alice cur 1700000001.2.host:2,S 'Subject: bb' '' 'hello' 'x'
	drive --hold --limit=8 \
	    'USER alice\r\nPASS s3cret\r\nDELE 1\r\nDELE 2\r\n' -- \
	    --timeout-auth=1
	[ "$status" -eq 3 ]
	expect_bytes "$GREET" "$PWREQ" '+OK Logged in, 2 messages (43 octets)' \
	    '+OK Message 1 deleted' '+OK Message 2 deleted' "$IDLE"
	[ -f "$(maildir alice)/cur/1700000000.1.host:2,S" ]
	[ -f "$(maildir alice)/cur/1700000001.2.host:2,S" ]
}

@test "a client that stops reading: the write wait is bounded, exit 3 (spec 7)" {
	local md
	md=$(maildir alice)
	mkdir -p "$md/new" "$md/cur" "$md/tmp"
	{ printf 'Subject: big\n\n'
	  yes 'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx' |
	      head -c 20000000; } >"$md/cur/1700000000.1.host:2,S"
	drive --sock --noread --hold --limit=20 \
	    'USER alice\r\nPASS s3cret\r\nRETR 1\r\n' -- --timeout-auth=2
	echo "status $status elapsed $elapsed_ms ms" >&2
	[ "$status" -eq 3 ]
	[ "$elapsed_ms" -ge 1500 ]
	[ "$elapsed_ms" -le $((2000 + 10000 * SLOW)) ]
	[ -f "$md/cur/1700000000.1.host:2,S" ]
}
