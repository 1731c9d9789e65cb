#!/usr/bin/env bats
# spec 8 implicit-tls (RFC 8314, port 995): the handshake comes before the
# greeting; it is bounded by timeout-unauth; TLS 1.0/1.1 are refused.

load helpers/load
load helpers/tls

setup_file() {
	tls_setup_file
}

serve_implicit() {
	serve --tls-cert="$CERT" --tls-key="$KEY" --implicit-tls=yes "$@"
}

@test "implicit-tls: nothing before the handshake, then the greeting inside TLS (spec 8)" {
	add_user alice pw
	serve_implicit
	talk "$PORT" quiet:0.5 tls 'QUIT\r\n'
	talk_ok
	expect_bytes "$GREET" '+OK Bye'
	grep -qE '^TLSv1\.[23] ' "$T/tlsinfo"
	exited_ok 1
}

@test "implicit-tls: CAPA has USER and SASL PLAIN and no STLS, even with plaintext-auth=never (spec 8, 3)" {
	add_user alice pw
	serve_implicit --plaintext-auth=never
	talk "$PORT" tls 'CAPA\r\nQUIT\r\n'
	talk_ok
	capa_lines USER TLS
	expect_bytes "$GREET" "${CAPA[@]}" '+OK Bye'
}

@test "implicit-tls: STLS is answered -ERR TLS is already active (spec 8)" {
	add_user alice pw
	serve_implicit
	talk "$PORT" tls 'STLS\r\nQUIT\r\n'
	talk_ok
	expect_bytes "$GREET" '-ERR TLS is already active' '+OK Bye'
}

@test "implicit-tls: USER/PASS and RETR, exact transcript (spec 8, 3)" {
	alice_with_mail
	serve_implicit --plaintext-auth=never
	talk "$PORT" tls 'USER alice\r\nPASS pw\r\nRETR 1\r\nRETR 2\r\nQUIT\r\n'
	talk_ok
	{
		crlf "$GREET" '+OK Password required' "$(logged_in)"
		retr_reply "$T/msg1.crlf"
		retr_reply "$T/msg2.crlf"
		crlf '+OK Bye'
	} >"$T/want"
	expect_file "$T/want"
}

@test "python poplib POP3_SSL: greeting, CAPA, login, RETR byte-exact (spec 8)" {
	alice_with_mail
	serve_implicit --plaintext-auth=never
	pop3ssl "$PORT" alice pw "$T/got"
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = "$GREET" ]
	[ "${lines[1]}" = 'AUTH-RESP-CODE EXPIRE IMPLEMENTATION PIPELINING RESP-CODES SASL TOP UIDL USER' ]
	[ "${lines[2]}" = '+OK Bye' ]
	same_file "$T/msg1.crlf" "$T/got"
}

@test "python poplib POP3_SSL fetches in order, with readahead under TLS, every message byte-exact (spec 8, 3)" {
	alice_with_mail
	md=$(maildir alice)
	# a third message of 600 kB (more than the 256 KiB read ahead) with
	# dot lines, and a fourth after it
	python3 -c '
import sys
l = [b"From: d@example.org", b"Subject: big", b""]
l += [(b"." if i % 7 == 0 else b"") + b"line %d " % i + b"x" * (i % 90)
      for i in range(12000)]
open(sys.argv[1], "wb").write(b"\n".join(l) + b"\n")
' "$md/new/1700000003.M3P3.host"
	mkmsg alice new 1700000004.M4P4.host 'Subject: four' '' 'fourth'
	serve_implicit --plaintext-auth=never
	run timeout 30 python3 - "$PORT" "$md" <<-'EOF'
	import os, poplib, ssl, sys
	port, md = int(sys.argv[1]), sys.argv[2]
	c = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
	c.check_hostname = False
	c.verify_mode = ssl.CERT_NONE
	p = poplib.POP3_SSL("127.0.0.1", port, context=c, timeout=10)
	p.user("alice")
	p.pass_("pw")
	names = sorted(os.listdir(md + "/cur"))
	for n, name in enumerate(names, 1):
	    resp, lines, octets = p.retr(n)
	    got = b"".join(l + b"\r\n" for l in lines)
	    want = open(md + "/cur/" + name, "rb").read().replace(b"\n", b"\r\n")
	    assert got == want, (n, len(got), len(want))
	    assert resp == b"+OK %d octets" % len(want), (n, resp)
	print(len(names), p.quit().decode())
	EOF
	echo "$output" >&2
	[ "$status" -eq 0 ]
	[ "$output" = '4 +OK Bye' ]
}

@test "curl -k pop3s:// fetches both messages byte-exact (spec 8)" {
	alice_with_mail
	serve_implicit --plaintext-auth=never
	fetch "$T/got1" -k "pop3s://127.0.0.1:$PORT/1" -u alice:pw
	fetch "$T/got2" -k "pop3s://127.0.0.1:$PORT/2" -u alice:pw
	same_file "$T/msg1.crlf" "$T/got1"
	same_file "$T/msg2.crlf" "$T/got2"
	wait_exits 2
	[ "$(exit_status 1)" -eq 0 ]
	[ "$(exit_status 2)" -eq 0 ]
}

@test "implicit-tls: the login event records tls=<protocol> <cipher> (spec 9)" {
	add_user alice pw
	serve_implicit
	talk "$PORT" tls 'USER alice\r\nPASS pw\r\nQUIT\r\n'
	talk_ok
	login_event_tls
}

@test "implicit-tls: a client that connects and sends nothing is gone after timeout-unauth, exit 1, no octet sent (spec 8, 7)" {
	add_user alice pw
	serve_implicit --timeout-unauth=1
	talk "$PORT"
	talk_ok
	[ ! -s "$out" ]
	wait_exits 1
	[ "$(exit_status 1)" -eq 1 ]
	[ "$(exit_ms 1)" -ge 900 ]
	[ "$(exit_ms 1)" -lt $((1000 + 4000 * SLOW)) ]
	grep 'event=error' "$log" | grep -qi 'tls'
}

@test "implicit-tls: a client that stops mid-handshake is gone after timeout-unauth, exit 1 (spec 8, 7)" {
	add_user alice pw
	serve_implicit --timeout-unauth=1
	talk "$PORT" hello:40
	talk_ok
	! grep -a -q '+OK' "$out" || false
	wait_exits 1
	[ "$(exit_status 1)" -eq 1 ]
	[ "$(exit_ms 1)" -ge 900 ]
	[ "$(exit_ms 1)" -lt $((1000 + 4000 * SLOW)) ]
}

@test "implicit-tls: the timeout covers the whole handshake, not each read (a slow drip) (spec 8, 7)" {
	add_user alice pw
	serve_implicit --timeout-unauth=2
	# 40 octets of a ClientHello, one every 0.2 s: 8 s if each read
	# restarted the clock; the handler must give up after about 2 s.
	local steps=() i
	for i in $(seq 1 40); do
		steps+=("=0.2" "hello-octet:$i")
	done
	talk "$PORT" "${steps[@]}"
	exit_between 1 1 1900 5000
}

@test "implicit-tls: plaintext POP3 instead of a ClientHello: exit 1 at once, logged, no +OK (spec 8)" {
	add_user alice pw
	serve_implicit --timeout-unauth=10
	talk "$PORT" 'USER alice\r\nPASS pw\r\nQUIT\r\n'
	! grep -a -q '+OK' "$out" || false
	handshake_refused
}

@test "implicit-tls: openssl s_client -tls1_1 (SECLEVEL=0) is refused, exit 1 (spec 8)" {
	add_user alice pw
	serve_implicit
	status=0
	timeout 10 openssl s_client -connect "127.0.0.1:$PORT" -tls1_1 \
	    -cipher 'DEFAULT@SECLEVEL=0' </dev/null >"$T/s.out" 2>&1 ||
	    status=$?
	cat "$T/s.out" >&2
	if grep -qiE 'no protocols available|unsupported protocol' \
	    "$T/s.out" && ! grep -q 'Protocol version' "$T/s.out"; then
		skip "the local openssl cannot offer TLS 1.1"
	fi
	[ "$status" -ne 0 ]
	! grep -q "$GREET" "$T/s.out" || false
	grep -qiE 'alert protocol version|protocol version' "$T/s.out"
	wait_exits 1
	[ "$(exit_status 1)" -eq 1 ]
}

@test "implicit-tls: python clients capped at TLS 1.0 and 1.1 are refused; 1.2 works (spec 8)" {
	add_user alice pw
	serve_implicit
	talk --tls-max=1.0 "$PORT" tls 'QUIT\r\n'
	if grep -qiE 'NO_PROTOCOLS_AVAILABLE' "$T/client.err"; then
		skip "the local OpenSSL client cannot offer TLS 1.0"
	fi
	[ "$cstatus" -eq 3 ]
	[ ! -s "$out" ]
	talk --tls-max=1.1 "$PORT" tls 'QUIT\r\n'
	[ "$cstatus" -eq 3 ]
	[ ! -s "$out" ]
	talk --tls-max=1.2 "$PORT" tls 'QUIT\r\n'
	talk_ok
	grep -q '^TLSv1.2 ' "$T/tlsinfo"
	expect_bytes "$GREET" '+OK Bye'
	wait_exits 3
	[ "$(exit_status 1)" -eq 1 ]
	[ "$(exit_status 2)" -eq 1 ]
	[ "$(exit_status 3)" -eq 0 ]
}

@test "implicit-tls without tls-cert/tls-key: exit 2 with a message (spec 1, 8)" {
	add_user alice pw
	crlf QUIT | chat --implicit-tls=yes
	[ "$status" -eq 2 ]
	[ ! -s "$out" ]
	grep -q 'implicit-tls' "$log"
}

@test "implicit-tls over a pipe with a plaintext client: exit 1, nothing answered (spec 8)" {
	add_user alice pw
	crlf CAPA QUIT | chat --tls-cert="$CERT" --tls-key="$KEY" \
	    --implicit-tls=yes --timeout-unauth=5
	[ "$status" -eq 1 ]
	! grep -a -q '+OK' "$out"
}
