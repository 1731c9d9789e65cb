#!/usr/bin/env bats
# spec 9: TLS ended by HAProxy in front of the handler.  With
# proxy-protocol = yes, a PROXY v2 header whose PP2_TYPE_SSL TLV has the
# PP2_CLIENT_SSL flag (HAProxy's send-proxy-v2-ssl) makes the transport a
# protected one, as "secured": plaintext authentication as under TLS, no
# STLS inside it; the version and cipher sub-TLVs go into the log's tls=
# field.  First hand-made headers on a pipe, then the real haproxy.

load helpers/load
load helpers/tls

setup_file() {
	tls_setup_file
}

NOSTLS='-ERR TLS is not configured'

v2sig() {
	printf '\r\n\r\n\0\r\nQUIT\n'
}

# v2_ssl FLAGS: PROXY over TCP4 from 192.0.2.7:40000 to 127.0.0.1:110,
# then PP2_TYPE_SSL (client FLAGS, verify 0) with the version "TLSv1.3"
# and the cipher "TLS_AES_128_GCM_SHA256": 12 + 3 + 5 + 10 + 25 = 0x37.
v2_ssl() {
	v2sig
	printf '\x21\x11\x00\x37'
	printf '\xc0\x00\x02\x07\x7f\x00\x00\x01\x9c\x40\x00\x6e'
	printf '\x20\x00\x28'"$1"'\x00\x00\x00\x00'
	printf '\x21\x00\x07TLSv1.3'
	printf '\x23\x00\x16TLS_AES_128_GCM_SHA256'
}

# v2_ssl_bad: as v2_ssl '\x01', but the cipher sub-TLV claims one octet
# more than the SSL TLV holds.
v2_ssl_bad() {
	v2sig
	printf '\x21\x11\x00\x37'
	printf '\xc0\x00\x02\x07\x7f\x00\x00\x01\x9c\x40\x00\x6e'
	printf '\x20\x00\x28\x01\x00\x00\x00\x00'
	printf '\x21\x00\x07TLSv1.3'
	printf '\x23\x00\x17TLS_AES_128_GCM_SHA256'
}

@test "PROXY v2 with the SSL TLV (client over TLS): plaintext auth allowed, no STLS, version and cipher logged (spec 9)" {
	add_user alice s3cret
	{ v2_ssl '\x01'; crlf CAPA STLS 'USER alice' 'PASS s3cret' QUIT; } |
	    chat --proxy-protocol=yes --plaintext-auth=never \
	    --tls-cert="$CERT" --tls-key="$KEY"
	[ "$status" -eq 0 ]
	capa_lines USER
	expect_bytes "$GREET" "${CAPA[@]}" "$NOSTLS" '+OK Password required' \
	    '+OK Logged in, 0 messages (0 octets)' '+OK Bye'
	grep -q 'event=login user=alice remote=192.0.2.7 tls=proxy:TLSv1.3/TLS_AES_128_GCM_SHA256 ' "$log"
}

@test "PROXY v2 with an SSL TLV whose client flag is clear: a remote peer stays refused (spec 9)" {
	add_user alice s3cret
	{ v2_ssl '\x00'; crlf CAPA 'USER alice' QUIT; } |
	    chat --proxy-protocol=yes --tls-cert="$CERT" --tls-key="$KEY"
	[ "$status" -eq 0 ]
	capa_lines STLS
	expect_bytes "$GREET" "${CAPA[@]}" "$REFUSED" '+OK Bye'
	! grep -q 'tls=proxy' "$log" || false
}

@test "PROXY v2 with a malformed SSL TLV: ignored as a whole, the peer stays refused (spec 9)" {
	add_user alice s3cret
	{ v2_ssl_bad; crlf 'USER alice' QUIT; } | chat --proxy-protocol=yes
	[ "$status" -eq 0 ]
	expect_bytes "$GREET" "$REFUSED" '+OK Bye'
}

# ---- the real haproxy ---------------------------------------------------

HAPROXY_PID=

teardown() {
	# shellcheck disable=SC2086
	end_pids ${HAPROXY_PID:-}
	tls_kill_all
	no_sanitizer_report "$log"
}

# haproxy_tls OPTIONS: haproxy ends TLS on $PORT_FE and passes each
# connection to the handler at $PORT with "send-proxy-v2 OPTIONS".
haproxy_tls() {
	command -v haproxy >/dev/null || skip "haproxy not installed"
	PORT_FE=$(tls_port)
	cat "$CERT" "$KEY" >"$T/haproxy.pem"
	cat >"$T/haproxy.cfg" <<-EOF
	global
	    maxconn 100
	defaults
	    mode tcp
	    timeout connect 5s
	    timeout client 30s
	    timeout server 30s
	frontend pop3s
	    bind 127.0.0.1:$PORT_FE ssl crt $T/haproxy.pem
	    default_backend handler
	backend handler
	    server h 127.0.0.1:$PORT send-proxy-v2 $1
	EOF
	haproxy -c -f "$T/haproxy.cfg" >"$T/haproxy.check" 2>&1 || {
		cat "$T/haproxy.check" >&2; return 1; }
	timeout 120 haproxy -f "$T/haproxy.cfg" -db >"$T/haproxy.out" 2>&1 &
	HAPROXY_PID=$!
	wait_port "$PORT_FE"
}

@test "haproxy send-proxy-v2-ssl: TLS at haproxy counts as protected, login with plaintext-auth=never (spec 9)" {
	add_user alice s3cret
	serve --proxy-protocol=yes --plaintext-auth=never
	haproxy_tls 'proxy-v2-options ssl,ssl-cipher'
	talk "$PORT_FE" tls 'CAPA\r\nSTLS\r\nUSER alice\r\nPASS s3cret\r\nQUIT\r\n'
	talk_ok
	capa_lines USER
	expect_bytes "$GREET" "${CAPA[@]}" "$NOSTLS" '+OK Password required' \
	    '+OK Logged in, 0 messages (0 octets)' '+OK Bye'
	wait_exits 1
	grep -qE 'event=login user=alice remote=127\.0\.0\.1 tls=proxy:TLSv1\.[23]/[A-Z0-9_-]+ ' "$log"
}

@test "haproxy with plain send-proxy-v2 over TLS: no SSL TLV, so not protected (spec 9)" {
	add_user alice s3cret
	serve --proxy-protocol=yes --plaintext-auth=never
	haproxy_tls ''
	talk "$PORT_FE" tls 'USER alice\r\nQUIT\r\n'
	talk_ok
	expect_bytes "$GREET" "$REFUSED" '+OK Bye'
}
