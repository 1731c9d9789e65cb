#!/usr/bin/env bats
# spec 9: a session that ends before login leaves one
# event=aborted line, like Dovecot's "Aborted login": the peer, TLS or
# not, the authentication attempts and the user names tried (bounded,
# escaped), and why it ended.  A session that logs in leaves none.

load helpers/load
load helpers/proto
load helpers/tls

setup_file() {
	tls_setup_file
}

setup() {
	common_setup
	add_user alice pw
}

# aborted_is TEXT: the log has exactly one event=aborted line, and it is
# "pop3-handler: event=aborted TEXT".
aborted_is() {
	cat "$log" >&2
	[ "$(grep -c 'event=aborted' "$log")" -eq 1 ] || return 1
	grep -qxF "pop3-handler: event=aborted $1" "$log"
}

@test "QUIT before login: reason=quit, no attempts (spec 9)" {
	crlf QUIT | chat
	[ "$status" -eq 0 ]
	aborted_is 'remote=local aborted login: reason=quit attempts=0 tls=no'
}

@test "a login leaves no aborted line (spec 9)" {
	crlf 'USER alice' 'PASS pw' QUIT | chat
	[ "$status" -eq 0 ]
	! grep -q 'event=aborted' "$log"
	grep -q 'event=login ' "$log"
}

@test "disconnect after a wrong password: reason=disconnect, 1 attempt, the name tried (spec 9)" {
	crlf 'USER alice' 'PASS wrong' | chat
	[ "$status" -eq 1 ]
	aborted_is 'remote=local mech=user aborted login: reason=disconnect attempts=1 users=alice tls=no'
}

@test "idle before login: reason=timeout, no autologout line (spec 7, 9)" {
	drive --hold --limit=8 'USER alice\r\n' -- --timeout-unauth=1
	[ "$status" -eq 3 ]
	aborted_is 'remote=local aborted login: reason=timeout attempts=0 tls=no'
	! grep -q 'event=autologout' "$log"
}

@test "plaintext refused, then QUIT: reason=plaintext-refused (spec 9)" {
	crlf 'USER alice' 'PASS pw' QUIT | chat --plaintext-auth=never
	[ "$status" -eq 0 ]
	line_is 2 "$REFUSED"
	aborted_is 'remote=local aborted login: reason=plaintext-refused attempts=0 tls=no'
}

@test "AUTH PLAIN refused as plaintext, then disconnect: reason=plaintext-refused (spec 9)" {
	crlf "AUTH PLAIN $(b64 '\0alice\0pw')" | chat --plaintext-auth=never
	aborted_is 'remote=local aborted login: reason=plaintext-refused attempts=0 tls=no'
}

@test "three failures with three names: reason=too-many-failures, the names in order (spec 9)" {
	crlf 'USER alice' 'PASS x' 'USER bob' 'PASS x' \
	    "AUTH PLAIN $(b64 '\0carol\0x')" | chat
	[ "$status" -eq 1 ]
	aborted_is 'remote=local mech=plain aborted login: reason=too-many-failures attempts=3 users=alice,bob,carol tls=no'
}

@test "the same name twice is listed once (spec 9)" {
	crlf 'USER alice' 'PASS x' 'USER alice' 'PASS y' QUIT | chat
	aborted_is 'remote=local mech=user aborted login: reason=quit attempts=2 users=alice tls=no'
}

@test "twenty bad commands: reason=too-many-errors (spec 2, 9)" {
	local i
	for i in $(seq 1 20); do crlf BOGUS; done | chat
	[ "$status" -eq 1 ]
	aborted_is 'remote=local aborted login: reason=too-many-errors attempts=0 tls=no'
}

@test "AUTH PLAIN with a different authzid: the aborted line names the authcid, not the authzid (spec 4, 9)" {
	crlf "AUTH PLAIN $(b64 'bob\0alice\0s3cret')" QUIT | chat
	line 2 | grep -q '^-ERR \[AUTH\] '
	aborted_is 'remote=local mech=plain aborted login: reason=quit attempts=1 users=alice tls=no'
}

@test "names tried are escaped: no space, comma, '=' or control byte reaches the line (spec 9)" {
	crlf "AUTH PLAIN $(b64 '\0a b,c=d\\e\001\0x')" QUIT | chat
	aborted_is 'remote=local mech=plain aborted login: reason=quit attempts=1 users=a\x20b\x2cc\x3dd\x5ce\x01 tls=no'
}

@test "names tried are bounded: long names are cut, the list ends with ',...' (spec 9)" {
	local i long
	long=$(printf 'u%.0s' $(seq 1 200))
	for i in $(seq 1 8); do
		crlf "USER $i$long" 'PASS x'
	done | chat --max-auth-failures=8
	[ "$status" -eq 1 ]
	cat "$log" >&2
	local l
	l=$(grep 'event=aborted' "$log")
	[[ $l == *'reason=too-many-failures attempts=8 users=1uuu'*'...,2uuu'*',... tls=no' ]]
	[ "${#l}" -lt 400 ]
}

@test "implicit TLS handshake fails: reason=tls-handshake-failed (spec 8, 9)" {
	printf 'USER alice\r\n' | chat --implicit-tls --tls-cert="$CERT" \
	    --tls-key="$KEY" --timeout-unauth=5
	[ "$status" -eq 1 ]
	aborted_is 'remote=local aborted login: reason=tls-handshake-failed attempts=0 tls=no'
}

@test "STLS handshake fails: reason=tls-handshake-failed (spec 8, 9)" {
	serve --tls-cert="$CERT" --tls-key="$KEY"
	talk "$PORT" '<1' 'STLS\r\n' '<1' 'garbage that is no ClientHello\r\n'
	wait_exits 1
	aborted_is 'remote=127.0.0.1 aborted login: reason=tls-handshake-failed attempts=0 tls=no'
}

@test "after STLS: the line carries tls=, not tls=no (spec 9)" {
	serve --tls-cert="$CERT" --tls-key="$KEY"
	talk "$PORT" '<1' stls 'USER bob\r\nPASS x\r\nQUIT\r\n'
	wait_exits 1
	cat "$log" >&2
	grep 'event=aborted' "$log" | grep -qE '^pop3-handler: event=aborted remote=127\.0\.0\.1 tls=TLSv1\.[23][^ ]* mech=user aborted login: reason=quit attempts=1 users=bob$'
}

@test "secured = yes: the line says tls=secured (spec 9)" {
	crlf QUIT | chat --secured=yes
	aborted_is 'remote=local aborted login: reason=quit attempts=0 tls=secured'
}

@test "a TLS client on the plaintext port: reason=tls-on-plaintext-port (spec 9)" {
	serve --timeout-unauth=2
	talk "$PORT" '<1' hello:60
	wait_exits 1
	aborted_is 'remote=127.0.0.1 aborted login: reason=tls-on-plaintext-port attempts=0 tls=no'
}

@test "a SCRAM exchange cancelled after its first message lists the name it gave (spec 4.1, 9)" {
	mkdir -m 700 "$T/state"
	crlf 'AUTH SCRAM-SHA-256' "$(printf 'n,,n=ghost,r=fixednonce' | base64 -w0)" \
	    '*' QUIT | chat --state-dir="$T/state"
	[ "$status" -eq 0 ]
	aborted_is 'remote=local mech=scram-sha-256 aborted login: reason=quit attempts=1 users=ghost tls=no'
}
