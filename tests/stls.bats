#!/usr/bin/env bats
# spec 8 STLS (RFC 2595), spec 1 tls-cert/tls-key, spec 9 logging of TLS:
# the handler behind systemd-socket-activate on 127.0.0.1, driven by a
# python ssl client, openssl s_client, poplib and curl.

load helpers/load
load helpers/tls

setup_file() {
	tls_setup_file
	tls_make_chain
}

# ---- CAPA and refusals on a pipe -------------------------------------

@test "CAPA offers STLS when tls-cert and tls-key are set and TLS is not active (spec 8, 3)" {
	add_user alice pw
	crlf CAPA QUIT | chat --tls-cert="$CERT" --tls-key="$KEY"
	[ "$status" -eq 0 ]
	capa_lines USER STLS
	expect_bytes "$GREET" "${CAPA[@]}" '+OK Bye'
}

@test "STLS without TLS configured: -ERR TLS is not configured, the session goes on (spec 8)" {
	add_user alice pw
	crlf STLS CAPA QUIT | chat
	[ "$status" -eq 0 ]
	capa_lines USER
	expect_bytes "$GREET" '-ERR TLS is not configured' "${CAPA[@]}" \
	    '+OK Bye'
}

@test "STLS in TRANSACTION: -ERR STLS is only valid before login (spec 8, 3)" {
	add_user alice pw
	{ login alice pw; crlf STLS QUIT; } |
	    chat --tls-cert="$CERT" --tls-key="$KEY"
	[ "$status" -eq 0 ]
	expect_bytes "$GREET" '+OK Password required' \
	    '+OK Logged in, 0 messages (0 octets)' \
	    '-ERR STLS is only valid before login' '+OK Bye'
}

# ---- STLS over TCP ---------------------------------------------------

@test "STLS: +OK Begin TLS negotiation, TLS 1.2+, then AUTHORIZATION again with CAPA without STLS (spec 8)" {
	add_user alice pw
	serve --tls-cert="$CERT" --tls-key="$KEY"
	talk "$PORT" stls 'CAPA\r\nQUIT\r\n'
	talk_ok
	capa_lines USER TLS
	expect_bytes "$GREET" "$BEGIN_TLS" "${CAPA[@]}" '+OK Bye'
	grep -qE '^TLSv1\.[23] ' "$T/tlsinfo"
	exited_ok 1
}

@test "STLS with plaintext-auth=never: USER and SASL PLAIN appear only after the handshake (spec 8, 1)" {
	add_user alice pw
	serve --tls-cert="$CERT" --tls-key="$KEY" --plaintext-auth=never
	talk "$PORT" 'CAPA\r\n' stls 'CAPA\r\nQUIT\r\n'
	talk_ok
	capa_lines STLS
	local before=("${CAPA[@]}")
	capa_lines USER TLS
	expect_bytes "$GREET" "${before[@]}" "$BEGIN_TLS" "${CAPA[@]}" \
	    '+OK Bye'
}

@test "STLS then USER/PASS and RETR inside TLS: exact transcript (spec 8, 3)" {
	alice_with_mail
	serve --tls-cert="$CERT" --tls-key="$KEY" --plaintext-auth=never
	talk "$PORT" stls 'USER alice\r\nPASS pw\r\nRETR 1\r\nQUIT\r\n'
	talk_ok
	{
		crlf "$GREET" "$BEGIN_TLS" '+OK Password required' \
		    "$(logged_in)"
		retr_reply "$T/msg1.crlf"
		crlf '+OK Bye'
	} >"$T/want"
	expect_file "$T/want"
	exited_ok 1
}

@test "STLS then AUTH PLAIN inside TLS logs in under plaintext-auth=never (spec 8, 4)" {
	add_user alice pw
	serve --tls-cert="$CERT" --tls-key="$KEY" --plaintext-auth=never
	talk "$PORT" stls "AUTH PLAIN $(printf '\0alice\0pw' | base64 -w0)\r\nQUIT\r\n"
	talk_ok
	expect_bytes "$GREET" "$BEGIN_TLS" \
	    '+OK Logged in, 0 messages (0 octets)' '+OK Bye'
}

@test "a second STLS inside TLS: -ERR TLS is already active, the session goes on (spec 8)" {
	add_user alice pw
	serve --tls-cert="$CERT" --tls-key="$KEY"
	talk "$PORT" stls 'STLS\r\nCAPA\r\nQUIT\r\n'
	talk_ok
	capa_lines USER TLS
	expect_bytes "$GREET" "$BEGIN_TLS" '-ERR TLS is already active' \
	    "${CAPA[@]}" '+OK Bye'
}

@test "STLS after login inside the same TCP session: -ERR STLS is only valid before login (spec 8)" {
	add_user alice pw
	serve --tls-cert="$CERT" --tls-key="$KEY"
	talk "$PORT" stls 'USER alice\r\nPASS pw\r\nSTLS\r\nQUIT\r\n'
	talk_ok
	expect_bytes "$GREET" "$BEGIN_TLS" '+OK Password required' \
	    '+OK Logged in, 0 messages (0 octets)' \
	    '-ERR STLS is only valid before login' '+OK Bye'
}

# ---- plaintext injection (CVE-2011-0411 class) ------------------------

# inject PORT PLAINTEXT TLS-COMMANDS: sends "STLS\r\n" + PLAINTEXT in one
# write, reads the plaintext answers up to "+OK Begin TLS negotiation",
# checks that nothing else comes in plaintext, handshakes, sends
# TLS-COMMANDS inside TLS and reads to EOF.  Plaintext replies in
# $T/plain, TLS replies in $T/intls; "handshake-failed" in $T/hs when the
# injected octets broke the handshake (also a safe outcome).
INJECT='
import codecs, socket, ssl, sys, time
port, plain, intls, tdir = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
dec = lambda x: codecs.escape_decode(x.encode())[0]
s = socket.create_connection(("127.0.0.1", port), timeout=10)
s.sendall(b"STLS\r\n" + dec(plain))
got = b""
while b"+OK Begin TLS negotiation\r\n" not in got:
    b = s.recv(1)
    if not b:
        break
    got += b
time.sleep(0.4)
s.setblocking(False)
try:
    extra = s.recv(65536, socket.MSG_PEEK)
except BlockingIOError:
    extra = b""
s.setblocking(True)
s.settimeout(10)
open(tdir + "/plain", "wb").write(got + extra)
hs = "ok"
data = b""
if extra:
    hs = "plaintext-answer"
else:
    c = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    c.check_hostname = False
    c.verify_mode = ssl.CERT_NONE
    try:
        t = c.wrap_socket(s)
        t.sendall(dec(intls))
        while True:
            b = t.recv(65536)
            if not b:
                break
            data += b
    except (ssl.SSLError, OSError) as e:
        hs = "handshake-failed " + repr(e)
open(tdir + "/intls", "wb").write(data)
open(tdir + "/hs", "w").write(hs + "\n")
'

# injected LINE...: after $INJECT, the plaintext side got the greeting
# and the STLS answer only; inside TLS the handler sent exactly LINE...
# (or nothing, when the handshake after the injected octets failed).
injected() {
	cat "$T/hs" >&2
	crlf "$GREET" "$BEGIN_TLS" >"$T/want-plain"
	same_file "$T/want-plain" "$T/plain"
	if [ "$(cut -d' ' -f1 "$T/hs")" = ok ]; then
		crlf "$@" >"$T/want-tls"
		same_file "$T/want-tls" "$T/intls"
	else
		grep -q '^handshake-failed' "$T/hs"
		[ ! -s "$T/intls" ]
	fi
}

@test "plaintext CAPA pipelined after STLS in the same packet is never answered (spec 8, RFC 2595)" {
	add_user alice pw
	serve --tls-cert="$CERT" --tls-key="$KEY"
	timeout 30 python3 -c "$INJECT" "$PORT" 'CAPA\r\n' 'QUIT\r\n' "$T"
	injected '+OK Bye'
}

@test "plaintext USER pipelined after STLS is discarded: PASS inside TLS has no USER (spec 8, RFC 2595)" {
	add_user alice pw
	serve --tls-cert="$CERT" --tls-key="$KEY"
	timeout 30 python3 -c "$INJECT" "$PORT" 'USER alice\r\n' \
	    'PASS pw\r\nQUIT\r\n' "$T"
	injected '-ERR PASS must follow USER' '+OK Bye'
}

@test "a USER given in plaintext before STLS is forgotten after the handshake (spec 8)" {
	add_user alice pw
	serve --tls-cert="$CERT" --tls-key="$KEY"
	talk "$PORT" 'USER alice\r\n' stls 'PASS pw\r\nQUIT\r\n'
	talk_ok
	expect_bytes "$GREET" '+OK Password required' "$BEGIN_TLS" \
	    '-ERR PASS must follow USER' '+OK Bye'
}

# ---- real clients -----------------------------------------------------

@test "openssl s_client -starttls pop3: login and RETR, message byte-exact (spec 8)" {
	alice_with_mail
	serve --tls-cert="$CERT" --tls-key="$KEY" --plaintext-auth=never
	{
		sleep 1
		printf 'USER alice\r\nPASS pw\r\nRETR 1\r\nQUIT\r\n'
		sleep 3
	} | timeout 15 openssl s_client -starttls pop3 \
	    -connect "127.0.0.1:$PORT" -quiet >"$out" 2>"$T/s_client.err" ||
	    true
	{
		crlf '+OK Password required' "$(logged_in)"
		retr_reply "$T/msg1.crlf"
		crlf '+OK Bye'
	} >"$T/want"
	expect_file "$T/want"
	exited_ok 1
}

# POPLIB: python poplib with STLS; prints CAPA keys, writes RETR lines
# (poplib strips CRLF and un-stuffs) joined with CRLF to argv[4].
POPLIB='
import poplib, ssl, sys
port, user, pw, dst = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
c = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
c.check_hostname = False
c.verify_mode = ssl.CERT_NONE
p = poplib.POP3("127.0.0.1", port, timeout=10)
before = sorted(p.capa())
p.stls(context=c)
after = sorted(p.capa())
print("before", " ".join(before))
print("after", " ".join(after))
print("tls", p.sock.version())
p.user(user)
p.pass_(pw)
resp, lines, octets = p.retr(1)
open(dst, "wb").write(b"".join(l + b"\r\n" for l in lines))
print("octets", octets)
print(p.quit().decode())
'

@test "python poplib stls(): CAPA loses STLS and gains USER, login, RETR byte-exact (spec 8)" {
	alice_with_mail
	serve --tls-cert="$CERT" --tls-key="$KEY" --plaintext-auth=never
	run timeout 20 python3 -c "$POPLIB" "$PORT" alice pw "$T/got"
	echo "$output" >&2
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = 'before AUTH-RESP-CODE EXPIRE IMPLEMENTATION PIPELINING RESP-CODES SASL STLS TOP UIDL' ]
	[ "${lines[1]}" = 'after AUTH-RESP-CODE EXPIRE IMPLEMENTATION PIPELINING RESP-CODES SASL TOP UIDL USER' ]
	[[ "${lines[2]}" =~ ^tls\ TLSv1\.[23]$ ]]
	same_file "$T/msg1.crlf" "$T/got"
	[ "${lines[4]}" = '+OK Bye' ]
}

@test "curl --ssl-reqd pop3:// fetches both messages byte-exact over STLS (spec 8)" {
	alice_with_mail
	serve --tls-cert="$CERT" --tls-key="$KEY" --plaintext-auth=never
	fetch "$T/got1" --ssl-reqd -k "pop3://127.0.0.1:$PORT/1" -u alice:pw
	fetch "$T/got2" --ssl-reqd -k "pop3://127.0.0.1:$PORT/2" -u alice:pw
	same_file "$T/msg1.crlf" "$T/got1"
	same_file "$T/msg2.crlf" "$T/got2"
	wait_exits 2
	[ "$(exit_status 1)" -eq 0 ]
	[ "$(exit_status 2)" -eq 0 ]
}

# ---- certificates -----------------------------------------------------

@test "a chain file works: the client verifies leaf and intermediate against the root (spec 1, 8)" {
	add_user alice pw
	serve --tls-cert="$CHAIN" --tls-key="$LEAFKEY"
	talk --cafile="$ROOT" "$PORT" stls 'QUIT\r\n'
	talk_ok
	expect_bytes "$GREET" "$BEGIN_TLS" '+OK Bye'
	timeout 10 openssl s_client -starttls pop3 \
	    -connect "127.0.0.1:$PORT" -CAfile "$ROOT" -verify_return_error \
	    -showcerts >"$T/s_client.out" 2>&1 </dev/null || true
	grep -q 'Verify return code: 0 (ok)' "$T/s_client.out"
	grep -q 'CN = test-intermediate' "$T/s_client.out"
}

@test "a missing tls-cert: exit 2, the message names the setting and the cause, nothing on a pipe (spec 1)" {
	add_user alice pw
	crlf QUIT | chat --tls-cert="$T/nonexistent.pem" --tls-key="$KEY"
	cat "$log" >&2
	[ "$status" -eq 2 ]
	[ ! -s "$out" ]
	grep -q 'tls-cert' "$log"
	grep -q 'No such file or directory' "$log"
}

@test "a tls-cert that is not PEM: exit 2 with a message (spec 1)" {
	add_user alice pw
	printf 'not a certificate\n' >"$T/bad.pem"
	crlf QUIT | chat --tls-cert="$T/bad.pem" --tls-key="$KEY"
	[ "$status" -eq 2 ]
	[ ! -s "$out" ]
	grep -q 'tls-cert' "$log"
}

@test "a missing tls-key: exit 2, the message names the setting and the cause (spec 1)" {
	add_user alice pw
	crlf QUIT | chat --tls-cert="$CERT" --tls-key="$T/nokey.pem"
	cat "$log" >&2
	[ "$status" -eq 2 ]
	[ ! -s "$out" ]
	grep -q 'tls-key' "$log"
	grep -q 'No such file or directory' "$log"
}

@test "a tls-key that does not match tls-cert: STLS answers, the handshake fails, the log says why, exit 1 (spec 1, 8)" {
	# spec 8: the PEM files are parsed at the first full handshake,
	# not before the greeting; --check-config (below) reports it early.
	add_user alice pw
	serve --tls-cert="$CERT" --tls-key="$OTHERKEY"
	talk "$PORT" stls 'QUIT\r\n'
	[ "$cstatus" -eq 3 ]
	expect_bytes "$GREET" "$BEGIN_TLS"
	wait_exits 1
	[ "$(exit_status 1)" -eq 1 ]
	grep -qiE 'event=error .*STLS: .*tls-key.*(mismatch|does not match)' "$log"
}

@test "an RSA tls-key with an EC tls-cert, implicit TLS: no octet, mismatch reported, exit 1 (spec 1, 8)" {
	add_user alice pw
	openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 \
	    -out "$T/rsa.pem" 2>/dev/null
	serve --tls-cert="$CERT" --tls-key="$T/rsa.pem" --implicit-tls=yes
	talk "$PORT" tls 'QUIT\r\n'
	[ "$cstatus" -eq 3 ]
	[ ! -s "$out" ]
	wait_exits 1
	[ "$(exit_status 1)" -eq 1 ]
	grep -qiE 'implicit TLS: .*tls-key.*(mismatch|does not match)' "$log"
}

@test "tls-cert without tls-key: exit 2 (spec 1)" {
	add_user alice pw
	crlf QUIT | chat --tls-cert="$CERT"
	[ "$status" -eq 2 ]
	[ ! -s "$out" ]
}

@test "--check-config reports a mismatched key and a missing cert (exit 2), accepts a good pair (spec 1)" {
	add_user alice pw
	check_config --tls-cert="$CERT" --tls-key="$OTHERKEY"
	[ "$status" -eq 2 ]
	grep -qiE 'tls-key.*(mismatch|does not match)' "$log"
	check_config --tls-cert="$T/none.pem" --tls-key="$KEY"
	[ "$status" -eq 2 ]
	grep -q 'tls-cert' "$log"
	check_config --tls-cert="$CHAIN" --tls-key="$LEAFKEY"
	[ "$status" -eq 0 ]
}

@test "--check-config gives OpenSSL's reason for a certificate whose PEM holds no certificate, though its error strings load only on failure (doc/design.md 7)" {
	add_user alice pw
	printf -- '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n' \
	    >"$T/garbled.pem"
	status=0
	timeout 10 "$HANDLER" --passwd-file="$PASSWD" --check-config \
	    --tls-cert="$T/garbled.pem" --tls-key="$KEY" >"$out" 2>"$log" ||
	    status=$?
	[ "$status" -eq 2 ]
	# A reason in words (OpenSSL 3.0: "wrong tag"), not a bare code.
	grep -qE "cannot load tls-cert $T/garbled.pem: [a-z][a-z ]+\$" "$log"
	! grep -q 'OpenSSL error' "$log"
}

@test "a tls-key that is not PEM on a socket: the only octets sent are -ERR [SYS/PERM] Server misconfigured, exit 2 (spec 1)" {
	add_user alice pw
	printf 'not a key\n' >"$T/bad-key.pem"
	serve --tls-cert="$CERT" --tls-key="$T/bad-key.pem"
	talk "$PORT"
	expect_bytes '-ERR [SYS/PERM] Server misconfigured'
	wait_exits 1
	[ "$(exit_status 1)" -eq 2 ]
	grep -q 'tls-key.*no PEM data' "$log"
}

# ---- handshake failures ----------------------------------------------

@test "STLS then silence: the handshake is bounded by timeout-unauth, exit 1 (spec 8, 7)" {
	add_user alice pw
	serve --tls-cert="$CERT" --tls-key="$KEY" --timeout-unauth=1
	talk "$PORT" 'STLS\r\n' '<2'
	[ "$cstatus" -eq 0 ]
	expect_bytes "$GREET" "$BEGIN_TLS"
	exit_between 1 1 900 5000
	grep -q 'event=error' "$log"
}

@test "STLS then half a ClientHello: gone after timeout-unauth, exit 1 (spec 8, 7)" {
	add_user alice pw
	serve --tls-cert="$CERT" --tls-key="$KEY" --timeout-unauth=1
	talk "$PORT" 'STLS\r\n' '<2' 'hello:40'
	[ "$cstatus" -eq 0 ]
	expect_bytes "$GREET" "$BEGIN_TLS"
	exit_between 1 1 900 5000
}

@test "STLS then plaintext instead of a ClientHello: exit 1 at once, logged (spec 8)" {
	add_user alice pw
	serve --tls-cert="$CERT" --tls-key="$KEY" --timeout-unauth=10
	talk "$PORT" 'STLS\r\n' '<2' 'USER alice\r\nPASS pw\r\nCAPA\r\n'
	head -c "$(crlf "$GREET" "$BEGIN_TLS" | wc -c)" "$out" >"$T/head"
	crlf "$GREET" "$BEGIN_TLS" >"$T/want"
	same_file "$T/want" "$T/head"
	! grep -a -q '+OK Password' "$out" || false
	! grep -a -q 'Capability' "$out" || false
	handshake_refused
}

@test "STLS with a client limited to TLS 1.1 / 1.0: handshake refused, exit 1 (spec 8)" {
	add_user alice pw
	serve --tls-cert="$CERT" --tls-key="$KEY"
	talk --tls-max=1.1 "$PORT" stls 'QUIT\r\n'
	if grep -qiE 'NO_PROTOCOLS_AVAILABLE|no protocols available' \
	    "$T/client.err"; then
		skip "the local OpenSSL client cannot offer TLS 1.1"
	fi
	cat "$T/client.err" >&2
	[ "$cstatus" -eq 3 ]
	grep -qiE 'version' "$T/client.err"
	talk --tls-max=1.0 "$PORT" stls 'QUIT\r\n'
	[ "$cstatus" -eq 3 ]
	wait_exits 2
	[ "$(exit_status 1)" -eq 1 ]
	[ "$(exit_status 2)" -eq 1 ]
}

@test "STLS with a client limited to TLS 1.2: accepted (spec 8)" {
	add_user alice pw
	serve --tls-cert="$CERT" --tls-key="$KEY"
	talk --tls-max=1.2 "$PORT" stls 'QUIT\r\n'
	talk_ok
	grep -q '^TLSv1.2 ' "$T/tlsinfo"
	expect_bytes "$GREET" "$BEGIN_TLS" '+OK Bye'
}

# ---- logging ----------------------------------------------------------

@test "the login event records the TLS protocol and cipher after STLS (spec 9, 8)" {
	add_user alice pw
	serve --tls-cert="$CERT" --tls-key="$KEY"
	talk "$PORT" stls 'USER alice\r\nPASS pw\r\nQUIT\r\n'
	talk_ok
	login_event_tls
	grep -q "remote=127.0.0.1" "$T/ev"
}

@test "a plaintext login event has no tls= field (spec 9)" {
	add_user alice pw
	{ login alice pw; crlf QUIT; } |
	    chat --tls-cert="$CERT" --tls-key="$KEY"
	[ "$status" -eq 0 ]
	grep -q 'event=login ' "$log"
	! grep 'event=login ' "$log" | grep -q 'tls='
}
