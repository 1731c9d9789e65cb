#!/usr/bin/env bats
# proxy-protocol = yes (spec 9): a PROXY v1 or v2 header comes first; its
# source is the peer for the log and the plaintext rule; LOCAL and
# UNKNOWN keep the real peer; a missing, partial, oversized or malformed
# header, or one that does not arrive within timeout-unauth, closes the
# connection without a single reply byte (exit 1).

load helpers/load

# v2sig: the 12-octet PROXY v2 signature.
v2sig() {
	printf '\r\n\r\n\0\r\nQUIT\n'
}

# pchat ARGS...: chat with proxy-protocol on.
pchat() {
	chat --proxy-protocol=yes "$@"
}

# logged_in_from ADDR HEADER-PRINTF...: with plaintext-auth = always a
# login through the header is logged with ADDR as the remote.
logged_in_from() {
	local addr=$1
	shift
	{ "$@"; crlf 'USER alice' 'PASS s3cret' QUIT; } |
	    pchat --plaintext-auth=always
	[ "$status" -eq 0 ]
	grep -q "event=login user=alice remote=$addr " "$log" || {
		cat "$log" >&2; return 1; }
}

# closed_silently: no reply byte, exit 1, the reason in the log.
closed_silently() {
	[ "$status" -eq 1 ]
	[ ! -s "$out" ]
	grep -q 'PROXY header' "$log"
}

@test "v1 TCP4: the announced source is logged and a remote one may not log in in plaintext (spec 9, 4)" {
	add_user alice s3cret
	{ printf 'PROXY TCP4 192.0.2.7 127.0.0.1 40000 110\r\n'
	  crlf 'USER alice' QUIT; } | pchat
	[ "$status" -eq 0 ]
	expect_bytes "$GREET" "$REFUSED" '+OK Bye'
	logged_in_from 192.0.2.7 printf 'PROXY TCP4 192.0.2.7 127.0.0.1 40000 110\r\n'
}

@test "v1 TCP4 from a loopback source: plaintext login allowed (spec 9, 4)" {
	add_user alice s3cret
	{ printf 'PROXY TCP4 127.0.0.9 127.0.0.1 40000 110\r\n'
	  crlf 'USER alice' 'PASS s3cret' QUIT; } | pchat
	[ "$status" -eq 0 ]
	expect_bytes "$GREET" '+OK Password required' \
	    '+OK Logged in, 0 messages (0 octets)' '+OK Bye'
	grep -q 'event=login user=alice remote=127.0.0.9' "$log"
}

@test "v1 TCP6: the announced IPv6 source is the peer (spec 9)" {
	add_user alice s3cret
	{ printf 'PROXY TCP6 2001:db8::7 ::1 40000 110\r\n'
	  crlf 'USER alice' QUIT; } | pchat
	[ "$status" -eq 0 ]
	expect_bytes "$GREET" "$REFUSED" '+OK Bye'
	logged_in_from 2001:db8::7 printf 'PROXY TCP6 2001:db8::7 ::1 40000 110\r\n'
	{ printf 'PROXY TCP6 ::1 ::1 40000 110\r\n'
	  crlf 'USER alice' QUIT; } | pchat
	expect_bytes "$GREET" '+OK Password required' '+OK Bye'
}

@test "v1 UNKNOWN keeps the real peer (spec 9)" {
	add_user alice s3cret
	{ printf 'PROXY UNKNOWN\r\n'; crlf 'USER alice' QUIT; } | pchat
	[ "$status" -eq 0 ]
	expect_bytes "$GREET" '+OK Password required' '+OK Bye'
	logged_in_from local printf 'PROXY UNKNOWN\r\n'
	{ printf 'PROXY UNKNOWN ffff:f::1 ffff:f::2 1 2\r\n'; crlf QUIT; } |
	    pchat
	expect_bytes "$GREET" '+OK Bye'
}

# v2_tcp4_remote: PROXY over TCP4 from 192.0.2.7:40000 to 127.0.0.1:110.
v2_tcp4_remote() {
	v2sig
	printf '\x21\x11\x00\x0c\xc0\x00\x02\x07\x7f\x00\x00\x01\x9c\x40\x00\x6e'
}

# v2_tcp6_tlv: PROXY over TCP6 from [2001:db8::7]:40000 to [::1]:110,
# then an ALPN TLV (type 1) and a NOOP TLV (type 4): 36 + 7 + 5 = 0x30.
v2_tcp6_tlv() {
	v2sig
	printf '\x21\x21\x00\x30'
	printf '\x20\x01\x0d\xb8\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x07'
	printf '\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x01'
	printf '\x9c\x40\x00\x6e'
	printf '\x01\x00\x04pop3\x04\x00\x02\x00\x00'
}

# v2_local: a LOCAL header (what HAProxy sends for its health checks).
v2_local() {
	v2sig
	printf '\x20\x00\x00\x00'
}

@test "v2 PROXY TCP4: the announced source is the peer (spec 9)" {
	add_user alice s3cret
	{ v2_tcp4_remote; crlf 'USER alice' QUIT; } | pchat
	[ "$status" -eq 0 ]
	expect_bytes "$GREET" "$REFUSED" '+OK Bye'
	logged_in_from 192.0.2.7 v2_tcp4_remote
}

@test "v2 PROXY TCP6 with TLVs after the addresses (spec 9)" {
	add_user alice s3cret
	{ v2_tcp6_tlv; crlf 'USER alice' QUIT; } | pchat
	[ "$status" -eq 0 ]
	expect_bytes "$GREET" "$REFUSED" '+OK Bye'
	logged_in_from 2001:db8::7 v2_tcp6_tlv
}

@test "v2 LOCAL (health checks) keeps the real peer (spec 9)" {
	add_user alice s3cret
	{ v2_local; crlf 'USER alice' QUIT; } | pchat
	[ "$status" -eq 0 ]
	expect_bytes "$GREET" '+OK Password required' '+OK Bye'
	logged_in_from local v2_local
}

@test "commands pipelined right after the header are not lost (spec 9, 2)" {
	add_user alice s3cret
	printf 'PROXY TCP4 127.0.0.2 127.0.0.1 1 110\r\nUSER alice\r\nPASS s3cret\r\nSTAT\r\nQUIT\r\n' |
	    pchat
	[ "$status" -eq 0 ]
	expect_bytes "$GREET" '+OK Password required' \
	    '+OK Logged in, 0 messages (0 octets)' '+OK 0 0' '+OK Bye'
	{ v2sig
	  printf '\x21\x11\x00\x0c\x7f\x00\x00\x02\x7f\x00\x00\x01\x00\x01\x00\x6eCAPA\r\nQUIT\r\n'
	} | pchat
	[ "$status" -eq 0 ]
	line_is 1 "$GREET"
	line_is 2 '+OK Capability list follows'
}

@test "a missing header closes without a reply (spec 9)" {
	add_user alice s3cret
	crlf 'USER alice' 'PASS s3cret' QUIT | pchat
	closed_silently
}

@test "a partial header then EOF closes without a reply (spec 9)" {
	printf 'PROXY TCP4 192.0.2.7 ' | pchat
	closed_silently
	printf 'PRO' | pchat
	closed_silently
	v2sig | head -c 9 | pchat
	closed_silently
	{ v2sig; printf '\x21\x11\x00\x0c\xc0\x00\x02'; } | pchat
	closed_silently
}

@test "an oversized header closes without a reply (spec 9)" {
	{ printf 'PROXY TCP4 192.0.2.7 127.0.0.1 40000 110'
	  printf ' %.0s' $(seq 1 80); printf '\r\n'; } | pchat
	closed_silently
	{ printf 'PROXY '; head -c 5000 /dev/zero | tr '\0' 'x'; } | pchat
	closed_silently
	# v2 announcing 65535 octets: refused on the length alone.
	{ v2sig; printf '\x21\x11\xff\xff'; head -c 100 /dev/zero; } | pchat
	closed_silently
}

@test "malformed v1 headers close without a reply (spec 9)" {
	local h
	for h in 'PROXY TCP4 192.0.2.7 127.0.0.1 40000 110\n' \
	    'PROXY TCP4 192.0.2 127.0.0.1 40000 110\r\n' \
	    'PROXY TCP4 2001:db8::1 127.0.0.1 40000 110\r\n' \
	    'PROXY TCP6 192.0.2.7 ::1 40000 110\r\n' \
	    'PROXY TCP4 192.0.2.7 127.0.0.1 40000 65536\r\n' \
	    'PROXY TCP4 192.0.2.7 127.0.0.1 040000 110\r\n' \
	    'PROXY TCP4 192.0.2.7 127.0.0.1 40000\r\n' \
	    'PROXY TCP4 192.0.2.7 127.0.0.1 40000 110 7\r\n' \
	    'PROXY TCP4  192.0.2.7 127.0.0.1 40000 110\r\n' \
	    'PROXY UDP4 192.0.2.7 127.0.0.1 40000 110\r\n' \
	    'PROXY TCP4 192.0.2.7\t127.0.0.1 40000 110\r\n' \
	    'proxy TCP4 192.0.2.7 127.0.0.1 40000 110\r\n'; do
		{ printf "$h"; crlf QUIT; } | pchat
		closed_silently || { echo "accepted: $h" >&2; return 1; }
	done
}

@test "malformed v2 headers close without a reply (spec 9)" {
	local h
	# version 1 nibble; command 3; AF_UNIX; UDP over IPv4; TCP4 with
	# an address block too short; unknown family 0x41.
	for h in '\x11\x11\x00\x0c\xc0\x00\x02\x07\x7f\x00\x00\x01\x9c\x40\x00\x6e' \
	    '\x23\x11\x00\x0c\xc0\x00\x02\x07\x7f\x00\x00\x01\x9c\x40\x00\x6e' \
	    '\x21\x31\x00\x0c\xc0\x00\x02\x07\x7f\x00\x00\x01\x9c\x40\x00\x6e' \
	    '\x21\x12\x00\x0c\xc0\x00\x02\x07\x7f\x00\x00\x01\x9c\x40\x00\x6e' \
	    '\x21\x11\x00\x08\xc0\x00\x02\x07\x7f\x00\x00\x01' \
	    '\x21\x41\x00\x00'; do
		{ v2sig; printf "$h"; crlf QUIT; } | pchat
		closed_silently || { echo "accepted: $h" >&2; return 1; }
	done
	# A broken signature is no header at all.
	{ printf '\r\n\r\n\0\r\nQUIX\n\x21\x11\x00\x00'; crlf QUIT; } | pchat
	closed_silently
}

# slow_header DELAY TEXT: writes TEXT one octet every DELAY seconds to
# the handler (timeout-unauth 1) and records its status and run time.
slow_header() {
	local delay=$1 text=$2 t0 t1 i
	mkfifo "$T/in"
	( for ((i = 0; i < ${#text}; i++)); do
		printf '%s' "${text:i:1}"; sleep "$delay"
	  done; sleep 5 ) >"$T/in" &
	writer=$!
	t0=$(date +%s%N)
	status=0
	timeout 20 "$HANDLER" --passwd-file="$PASSWD" --log=stderr \
	    --hostname=test.example --proxy-protocol=yes --timeout-unauth=1 \
	    <"$T/in" >"$out" 2>"$log" || status=$?
	t1=$(date +%s%N)
	elapsed=$(( (t1 - t0) / 1000000 ))
	kill "$writer" 2>/dev/null || true
	wait "$writer" 2>/dev/null || true
}

@test "a header that does not arrive within timeout-unauth closes without a reply (spec 9, 7)" {
	slow_header 0 'PROXY TCP4'
	closed_silently
	grep -q 'no PROXY header in time' "$log"
	[ "$elapsed" -ge 900 ] && [ "$elapsed" -lt $((1000 + 3000 * SLOW)) ]
}

@test "the header deadline is total, not reset by each octet (spec 9, 7)" {
	# One octet every 0.3 s keeps the line busy but the header unfinished.
	slow_header 0.3 'PROXY TCP4 192.0.2.7 127.0.0.1 40000 110'
	closed_silently
	[ "$elapsed" -lt 4000 ]
}
