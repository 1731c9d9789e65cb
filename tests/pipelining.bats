#!/usr/bin/env bats
# bats file_tags=quick
# spec 2 PIPELINING (RFC 2449): commands sent in one write are all
# answered, in order, and the replies are coalesced.

load helpers/load
load helpers/proto

setup() {
	common_setup
	add_user alice s3cret
	mkmsg alice cur 1700000000.1.host:2,S 'Subject: a' '' 'hi'
	mkmsg alice cur 1700000001.2.host:2,S 'Subject: bb' '' 'hello' 'x'
	touch -d @1700000000 "$(maildir alice)/cur/1700000000.1.host:2,S"
	touch -d @1700000001 "$(maildir alice)/cur/1700000001.2.host:2,S"
}

# one_write LINE...: all lines, CRLF each, handed over in a single write.
one_write() {
	local s
	s=$(crlf "$@"; echo x)
	s=${s%x}
	printf '%s' "$s"
}

FULL_SCRIPT=(CAPA 'USER alice' 'PASS s3cret' STAT LIST 'LIST 2' 'RETR 1'
    'TOP 2 1' 'DELE 1' STAT RSET NOOP QUIT)
FULL_REPLY=("$GREET" '+OK Capability list follows' TOP UIDL RESP-CODES
    AUTH-RESP-CODE PIPELINING 'EXPIRE NEVER' USER "$SASL_LINE"
    'IMPLEMENTATION pop3-handler' .
    "$PWREQ" '+OK Logged in, 2 messages (43 octets)'
    '+OK 2 43'
    '+OK 2 messages (43 octets)' '1 18' '2 25' .
    '+OK 2 25'
    '+OK 18 octets' 'Subject: a' '' hi .
    '+OK Top of message follows' 'Subject: bb' '' hello .
    '+OK Message 1 deleted'
    '+OK 1 25'
    '+OK 2 messages (43 octets)'
    '+OK'
    '+OK Bye')

@test "a whole session in one write is answered in order, exactly (spec 2)" {
	one_write "${FULL_SCRIPT[@]}" | chat
	[ "$status" -eq 0 ]
	expect_bytes "${FULL_REPLY[@]}"
}

@test "a whole session in one write on a socket, exactly (spec 2)" {
	one_write "${FULL_SCRIPT[@]}" >"$T/in"
	drive --sock "@$T/in"
	[ "$status" -eq 0 ]
	expect_bytes "${FULL_REPLY[@]}"
}

@test "login + STAT + LIST + QUIT pipelined in one write (spec 2)" {
	one_write 'USER alice' 'PASS s3cret' STAT LIST QUIT | chat
	[ "$status" -eq 0 ]
	expect_bytes "$GREET" "$PWREQ" '+OK Logged in, 2 messages (43 octets)' \
	    '+OK 2 43' '+OK 2 messages (43 octets)' '1 18' '2 25' . '+OK Bye'
}

@test "pipelined QUIT in TRANSACTION removes the marked message (spec 2, 5)" {
	one_write 'USER alice' 'PASS s3cret' 'DELE 1' QUIT | chat
	[ "$status" -eq 0 ]
	expect_bytes "$GREET" "$PWREQ" '+OK Logged in, 2 messages (43 octets)' \
	    '+OK Message 1 deleted' '+OK Bye'
	[ ! -e "$(maildir alice)/cur/1700000000.1.host:2,S" ]
	[ -e "$(maildir alice)/cur/1700000001.2.host:2,S" ]
}

@test "AUTH PLAIN continuation and the commands after it in one write (spec 2, 4)" {
	one_write 'AUTH PLAIN' "$(b64 '\0alice\0s3cret')" STAT QUIT | chat
	[ "$status" -eq 0 ]
	expect_bytes "$GREET" '+ ' '+OK Logged in, 2 messages (43 octets)' \
	    '+OK 2 43' '+OK Bye'
}

@test "commands after a failed PASS in the same write are answered (spec 2, 4)" {
	one_write 'USER alice' 'PASS wrong' 'USER alice' 'PASS s3cret' STAT QUIT |
	    chat
	[ "$status" -eq 0 ]
	expect_bytes "$GREET" "$PWREQ" '-ERR [AUTH] Authentication failed' \
	    "$PWREQ" '+OK Logged in, 2 messages (43 octets)' '+OK 2 43' \
	    '+OK Bye'
}

@test "1000 pipelined NOOPs: 1000 +OK in order (spec 2)" {
	local i
	{ login alice s3cret; for i in $(seq 1 1000); do crlf NOOP; done
	  crlf STAT QUIT; } >"$T/in"
	chat <"$T/in"
	[ "$status" -eq 0 ]
	[ "$(wc -l <"$out")" -eq 1005 ]
	[ "$(grep -ac $'^+OK\r$' "$out")" -eq 1000 ]
	line_is 1004 '+OK 2 43'
	line_is 1005 '+OK Bye'
}

@test "pipelined commands across read boundaries keep their order (spec 2)" {
	local i
	{ login alice s3cret
	  for i in $(seq 1 300); do crlf "LIST $((i % 2 + 1))"; done
	  crlf QUIT; } >"$T/in"
	chat <"$T/in"
	[ "$status" -eq 0 ]
	{ crlf "$GREET" "$PWREQ" '+OK Logged in, 2 messages (43 octets)'
	  for i in $(seq 1 300); do
		if [ $((i % 2)) -eq 0 ]; then crlf '+OK 1 18'
		else crlf '+OK 2 25'; fi
	  done
	  crlf '+OK Bye'; } >"$T/exp2"
	expect_file "$T/exp2"
}

@test "10 pipelined NOOPs are answered with fewer than 10 writes (spec 2)" {
	command -v strace >/dev/null || skip "no strace"
	local n
	{ login alice s3cret; for i in $(seq 1 10); do crlf NOOP; done
	  crlf QUIT; } >"$T/in"
	status=0
	# LeakSanitizer cannot run under ptrace: leaks are checked elsewhere
	ASAN_OPTIONS="${ASAN_OPTIONS:-}:detect_leaks=0" \
	    timeout 20 strace -f -o "$T/strace" \
	    -e trace=write,writev,sendmsg,sendto,pwrite64,pwritev \
	    "$HANDLER" --passwd-file="$PASSWD" --log=stderr \
	    --hostname=test.example --auth-fail-delay=0 \
	    <"$T/in" >"$out" 2>"$log" || status=$?
	[ "$status" -eq 0 ]
	[ "$(grep -ac $'^+OK\r$' "$out")" -eq 10 ]
	n=$(grep -cE '^[0-9]+ +(write|writev|sendmsg|sendto|pwrite64|pwritev)\(1,' \
	    "$T/strace" || true)
	echo "writes to fd 1: $n" >&2
	[ "$n" -ge 1 ]
	[ "$n" -lt 10 ]
}
