#!/usr/bin/env bats
# spec 1 plaintext-auth (tls | never | always), spec 4 the refusal line,
# spec 9 the peer: a pipe or socketpair is local, TCP from 127.0.0.1 is
# loopback, a PROXY header (proxy-protocol=yes) names the real peer.
#
#   policy     peer                     before TLS   after STLS
#   tls        pipe, socketpair, 127/8  allowed      allowed
#   tls        192.0.2.1 (PROXY)        refused      allowed
#   never      pipe, 127.0.0.1          refused      allowed
#   never/tls  secured=yes              allowed      -
#   always     anywhere                 allowed      allowed

load helpers/load
load helpers/tls

setup_file() {
	tls_setup_file
}

PROXY_V1='PROXY TCP4 192.0.2.1 127.0.0.1 1234 110\r\n'
PROXY_V1_LO='PROXY TCP4 127.0.0.1 127.0.0.1 1234 110\r\n'

# The refusal probe: every way a password could travel, each refused
# with the same line whatever the name.
probe_refused() {
	local long
	long=$(printf 'x%.0s' $(seq 1 300))
	PROBE="CAPA\r\nUSER alice\r\nPASS pw\r\nUSER nosuch\r\nUSER a/b\r\nUSER $long\r\nAUTH PLAIN $(printf '\0alice\0pw' | base64 -w0)\r\nAUTH PLAIN\r\nQUIT\r\n"
	REPLIES=("${CAPA[@]}" "$REFUSED" "$REFUSED" "$REFUSED" "$REFUSED"
	    "$REFUSED" "$REFUSED" "$REFUSED" '+OK Bye')
}

# The allowed probe: CAPA, then a USER/PASS login.
probe_allowed() {
	PROBE='CAPA\r\nUSER alice\r\nPASS pw\r\nQUIT\r\n'
	REPLIES=("${CAPA[@]}" '+OK Password required'
	    '+OK Logged in, 0 messages (0 octets)' '+OK Bye')
}

# pipe_probe ARGS...: the probe on a pipe (chat).
pipe_probe() {
	printf '%b' "$PROBE" >"$T/in"
	chat "$@" <"$T/in"
}

# pair_probe ARGS...: the probe on a socketpair (like stunnel's exec mode).
pair_probe() {
	printf '%b' "$PROBE" >"$T/in"
	status=0
	timeout 20 python3 -c '
import socket, subprocess, sys
mine, theirs = socket.socketpair()
p = subprocess.Popen(sys.argv[3:], stdin=theirs, stdout=theirs,
    stderr=open(sys.argv[2], "wb"))
theirs.close()
mine.sendall(open(sys.argv[1], "rb").read())
got = b""
mine.settimeout(10)
while True:
    b = mine.recv(65536)
    if not b:
        break
    got += b
sys.stdout.buffer.write(got)
sys.exit(p.wait(10))
' "$T/in" "$log" "$HANDLER" --passwd-file="$PASSWD" --log=stderr \
	    --hostname=test.example --auth-fail-delay=0 "$@" >"$out" ||
	    status=$?
}

# ---- pipe and socketpair: local -------------------------------------

@test "default policy (tls) on a pipe: the peer is local, USER/PASS allowed (spec 1, 9)" {
	add_user alice pw
	capa_lines USER
	probe_allowed
	pipe_probe
	[ "$status" -eq 0 ]
	expect_bytes "$GREET" "${REPLIES[@]}"
}

@test "plaintext-auth=tls on a socketpair: local, allowed (spec 1, 9)" {
	add_user alice pw
	capa_lines USER
	probe_allowed
	pair_probe --plaintext-auth=tls
	[ "$status" -eq 0 ]
	expect_bytes "$GREET" "${REPLIES[@]}"
}

@test "plaintext-auth=tls: AUTH PLAIN on a pipe logs in (spec 1, 4)" {
	add_user alice pw
	printf 'AUTH PLAIN %s\r\nQUIT\r\n' \
	    "$(printf '\0alice\0pw' | base64 -w0)" | chat --plaintext-auth=tls
	[ "$status" -eq 0 ]
	expect_bytes "$GREET" '+OK Logged in, 0 messages (0 octets)' '+OK Bye'
}

@test "plaintext-auth=never on a pipe: a local peer is not exempt; exact refusal for USER, PASS, AUTH PLAIN, any name (spec 1, 4)" {
	add_user alice pw
	capa_lines
	probe_refused
	pipe_probe --plaintext-auth=never
	[ "$status" -eq 0 ]
	expect_bytes "$GREET" "${REPLIES[@]}"
	! grep -q 'event=login ' "$log"
}

@test "plaintext-auth=never on a socketpair: refused (spec 1)" {
	add_user alice pw
	capa_lines
	probe_refused
	pair_probe --plaintext-auth=never
	[ "$status" -eq 0 ]
	expect_bytes "$GREET" "${REPLIES[@]}"
}

@test "plaintext-auth=never with secured=yes on a pipe: allowed, no STLS offered (spec 1)" {
	add_user alice pw
	capa_lines USER
	probe_allowed
	pipe_probe --plaintext-auth=never --secured=yes
	[ "$status" -eq 0 ]
	expect_bytes "$GREET" "${REPLIES[@]}"
}

@test "plaintext-auth=always on a pipe: allowed (spec 1)" {
	add_user alice pw
	capa_lines USER
	probe_allowed
	pipe_probe --plaintext-auth=always
	[ "$status" -eq 0 ]
	expect_bytes "$GREET" "${REPLIES[@]}"
}

@test "plaintext-auth from --config; the command line wins (spec 1)" {
	add_user alice pw
	printf 'plaintext-auth = never\n' >"$T/conf"
	capa_lines
	probe_refused
	pipe_probe --config="$T/conf"
	[ "$status" -eq 0 ]
	expect_bytes "$GREET" "${REPLIES[@]}"
	capa_lines USER
	probe_allowed
	pipe_probe --config="$T/conf" --plaintext-auth=always
	[ "$status" -eq 0 ]
	expect_bytes "$GREET" "${REPLIES[@]}"
}

# ---- TCP from 127.0.0.1: loopback ------------------------------------

@test "plaintext-auth=tls over TCP from 127.0.0.1: loopback, allowed, STLS offered too (spec 1, 9)" {
	add_user alice pw
	serve --tls-cert="$CERT" --tls-key="$KEY" --plaintext-auth=tls
	capa_lines USER STLS
	probe_allowed
	talk "$PORT" "$PROBE"
	expect_bytes "$GREET" "${REPLIES[@]}"
	grep 'event=login ' "$log" | grep -q 'remote=127.0.0.1'
}

@test "plaintext-auth=never over TCP from 127.0.0.1: refused before STLS (spec 1)" {
	add_user alice pw
	serve --tls-cert="$CERT" --tls-key="$KEY" --plaintext-auth=never
	capa_lines STLS
	probe_refused
	talk "$PORT" "$PROBE"
	expect_bytes "$GREET" "${REPLIES[@]}"
}

@test "plaintext-auth=never over TCP from 127.0.0.1: allowed after STLS (spec 1, 8)" {
	add_user alice pw
	serve --tls-cert="$CERT" --tls-key="$KEY" --plaintext-auth=never
	capa_lines USER TLS
	probe_allowed
	talk "$PORT" stls "$PROBE"
	talk_ok
	expect_bytes "$GREET" "$BEGIN_TLS" "${REPLIES[@]}"
}

@test "plaintext-auth=always over TCP from 127.0.0.1 without TLS configured: allowed (spec 1)" {
	add_user alice pw
	serve --plaintext-auth=always
	capa_lines USER
	probe_allowed
	talk "$PORT" "$PROBE"
	expect_bytes "$GREET" "${REPLIES[@]}"
}

# ---- a non-loopback peer through PROXY v1/v2 -------------------------

@test "plaintext-auth=tls, PROXY peer 192.0.2.1: refused before TLS (spec 1, 9)" {
	add_user alice pw
	serve --tls-cert="$CERT" --tls-key="$KEY" --proxy-protocol=yes
	capa_lines STLS
	probe_refused
	talk "$PORT" "$PROXY_V1" "$PROBE"
	expect_bytes "$GREET" "${REPLIES[@]}"
	exited_ok 1
}

@test "plaintext-auth=tls (default), PROXY peer 192.0.2.1: allowed after STLS (spec 1, 8, 9)" {
	add_user alice pw
	serve --tls-cert="$CERT" --tls-key="$KEY" --proxy-protocol=yes
	capa_lines USER TLS
	probe_allowed
	talk "$PORT" "$PROXY_V1" stls "$PROBE"
	talk_ok
	expect_bytes "$GREET" "$BEGIN_TLS" "${REPLIES[@]}"
	wait_exits 1
	grep 'event=login ' "$log" | grep -q 'remote=192.0.2.1'
}

@test "plaintext-auth=tls, PROXY peer 192.0.2.1 without TLS configured: refused, no STLS line (spec 1, 9)" {
	add_user alice pw
	serve --proxy-protocol=yes
	capa_lines
	probe_refused
	talk "$PORT" "$PROXY_V1" "$PROBE"
	expect_bytes "$GREET" "${REPLIES[@]}"
}

@test "plaintext-auth=tls, PROXY peer 127.0.0.1: loopback, allowed (spec 1, 9)" {
	add_user alice pw
	serve --tls-cert="$CERT" --tls-key="$KEY" --proxy-protocol=yes
	capa_lines USER STLS
	probe_allowed
	talk "$PORT" "$PROXY_V1_LO" "$PROBE"
	expect_bytes "$GREET" "${REPLIES[@]}"
}

@test "plaintext-auth=tls, PROXY v2 peer 192.0.2.1: refused (spec 1, 9)" {
	add_user alice pw
	serve --tls-cert="$CERT" --tls-key="$KEY" --proxy-protocol=yes
	# v2 signature, PROXY/STREAM, TCP4, 12 octets: 192.0.2.1 ->
	# 127.0.0.1, 1234 -> 110
	local v2='\r\n\r\n\x00\r\nQUIT\n\x21\x11\x00\x0c\xc0\x00\x02\x01\x7f\x00\x00\x01\x04\xd2\x00\x6e'
	capa_lines STLS
	probe_refused
	talk "$PORT" "$v2" "$PROBE"
	expect_bytes "$GREET" "${REPLIES[@]}"
}

@test "plaintext-auth=tls, PROXY peer 192.0.2.1, secured=yes: allowed, no STLS (spec 1)" {
	add_user alice pw
	serve --proxy-protocol=yes --secured=yes
	capa_lines USER
	probe_allowed
	talk "$PORT" "$PROXY_V1" "$PROBE"
	expect_bytes "$GREET" "${REPLIES[@]}"
}

@test "plaintext-auth=never, PROXY peer 192.0.2.1, secured=yes: allowed (spec 1)" {
	add_user alice pw
	serve --proxy-protocol=yes --secured=yes --plaintext-auth=never
	capa_lines USER
	probe_allowed
	talk "$PORT" "$PROXY_V1" "$PROBE"
	expect_bytes "$GREET" "${REPLIES[@]}"
}

@test "plaintext-auth=never, PROXY peer 192.0.2.1: allowed after STLS (spec 1, 8)" {
	add_user alice pw
	serve --tls-cert="$CERT" --tls-key="$KEY" --proxy-protocol=yes \
	    --plaintext-auth=never
	capa_lines USER TLS
	probe_allowed
	talk "$PORT" "$PROXY_V1" stls "$PROBE"
	talk_ok
	expect_bytes "$GREET" "$BEGIN_TLS" "${REPLIES[@]}"
}

@test "plaintext-auth=always, PROXY peer 192.0.2.1, no TLS: allowed, STLS still offered (spec 1)" {
	add_user alice pw
	serve --tls-cert="$CERT" --tls-key="$KEY" --proxy-protocol=yes \
	    --plaintext-auth=always
	capa_lines USER STLS
	probe_allowed
	talk "$PORT" "$PROXY_V1" "$PROBE"
	expect_bytes "$GREET" "${REPLIES[@]}"
}

@test "PROXY peer 192.0.2.1 with implicit-tls: allowed under TLS (spec 1, 8, 9)" {
	add_user alice pw
	serve --tls-cert="$CERT" --tls-key="$KEY" --proxy-protocol=yes \
	    --implicit-tls=yes --plaintext-auth=never
	capa_lines USER TLS
	probe_allowed
	talk "$PORT" "$PROXY_V1" tls "$PROBE"
	talk_ok
	expect_bytes "$GREET" "${REPLIES[@]}"
	wait_exits 1
	grep 'event=login ' "$log" | grep -q 'remote=192.0.2.1'
}
