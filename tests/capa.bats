#!/usr/bin/env bats
# bats file_tags=quick
# spec 3 CAPA (RFC 2449): the capability list in each state.

load helpers/load
load helpers/proto

CAPA_HEAD=('+OK Capability list follows' TOP UIDL RESP-CODES AUTH-RESP-CODE
    PIPELINING 'EXPIRE NEVER')
CAPA_TAIL=('IMPLEMENTATION pop3-handler' .)

# tls_files: a throwaway self-signed EC certificate in $T.
tls_files() {
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
	    -nodes -subj /CN=test.example -days 2 -keyout "$T/key.pem" \
	    -out "$T/cert.pem" 2>/dev/null
}

@test "CAPA before login on a pipe (loopback): exact list with USER and SASL PLAIN (spec 3, 4)" {
	add_user alice s3cret
	crlf CAPA QUIT | chat
	[ "$status" -eq 0 ]
	expect_bytes "$GREET" "${CAPA_HEAD[@]}" USER "$SASL_LINE" \
	    "${CAPA_TAIL[@]}" '+OK Bye'
}

@test "CAPA before login on a socketpair (local): USER and SASL PLAIN (spec 3, 9)" {
	add_user alice s3cret
	drive --sock 'CAPA\r\nQUIT\r\n'
	[ "$status" -eq 0 ]
	expect_bytes "$GREET" "${CAPA_HEAD[@]}" USER "$SASL_LINE" \
	    "${CAPA_TAIL[@]}" '+OK Bye'
}

@test "CAPA after login: the same list as before, USER and SASL included (spec 3, RFC 2449 section 5)" {
	add_user alice s3cret
	{ login alice s3cret; crlf CAPA QUIT; } | chat
	[ "$status" -eq 0 ]
	expect_bytes "$GREET" '+OK Password required' \
	    '+OK Logged in, 0 messages (0 octets)' \
	    "${CAPA_HEAD[@]}" USER "$SASL_LINE" "${CAPA_TAIL[@]}" '+OK Bye'
}

@test "CAPA without TLS configured has no STLS line (spec 3)" {
	add_user alice s3cret
	crlf CAPA QUIT | chat
	! grep -a -q $'^STLS\r$' "$out" || false
	line_is 2 '+OK Capability list follows'
}

@test "CAPA with --plaintext-auth=never on a pipe: no USER, no SASL PLAIN (spec 1, 3)" {
	add_user alice s3cret
	crlf CAPA QUIT | chat --plaintext-auth=never
	[ "$status" -eq 0 ]
	expect_bytes "$GREET" "${CAPA_HEAD[@]}" "${SASL_NOPLAIN[@]}" \
	    "${CAPA_TAIL[@]}" '+OK Bye'
}

@test "CAPA with --plaintext-auth=never --secured=yes: USER and SASL PLAIN (spec 1, 3)" {
	add_user alice s3cret
	crlf CAPA QUIT | chat --plaintext-auth=never --secured=yes
	[ "$status" -eq 0 ]
	expect_bytes "$GREET" "${CAPA_HEAD[@]}" USER "$SASL_LINE" \
	    "${CAPA_TAIL[@]}" '+OK Bye'
}

@test "CAPA with --plaintext-auth=always: USER and SASL PLAIN (spec 1, 3)" {
	add_user alice s3cret
	crlf CAPA QUIT | chat --plaintext-auth=always
	[ "$status" -eq 0 ]
	expect_bytes "$GREET" "${CAPA_HEAD[@]}" USER "$SASL_LINE" \
	    "${CAPA_TAIL[@]}" '+OK Bye'
}

@test "CAPA for a remote PROXY peer with plaintext-auth=tls: no USER, no SASL (spec 1, 3, 9)" {
	add_user alice s3cret
	{ printf 'PROXY TCP4 192.0.2.7 192.0.2.1 40000 110\r\n'; crlf CAPA QUIT; } |
	    chat --proxy-protocol=yes
	[ "$status" -eq 0 ]
	expect_bytes "$GREET" "${CAPA_HEAD[@]}" "${SASL_NOPLAIN[@]}" \
	    "${CAPA_TAIL[@]}" '+OK Bye'
}

@test "CAPA with TLS configured and not active lists STLS before IMPLEMENTATION (spec 3, 8)" {
	add_user alice s3cret
	tls_files
	crlf CAPA QUIT | chat --tls-cert="$T/cert.pem" --tls-key="$T/key.pem"
	[ "$status" -eq 0 ]
	expect_bytes "$GREET" "${CAPA_HEAD[@]}" USER "$SASL_LINE" STLS \
	    "${CAPA_TAIL[@]}" '+OK Bye'
}

@test "CAPA after login with TLS configured: STLS still announced, STLS itself refused (spec 3, 8)" {
	add_user alice s3cret
	tls_files
	{ login alice s3cret; crlf CAPA STLS QUIT; } |
	    chat --tls-cert="$T/cert.pem" --tls-key="$T/key.pem"
	[ "$status" -eq 0 ]
	expect_bytes "$GREET" '+OK Password required' \
	    '+OK Logged in, 0 messages (0 octets)' \
	    "${CAPA_HEAD[@]}" USER "$SASL_LINE" STLS "${CAPA_TAIL[@]}" \
	    '-ERR STLS is only valid before login' '+OK Bye'
}

@test "capa in lower case is answered (spec 2 case-insensitive keyword)" {
	add_user alice s3cret
	crlf capa QUIT | chat
	[ "$status" -eq 0 ]
	expect_bytes "$GREET" "${CAPA_HEAD[@]}" USER "$SASL_LINE" \
	    "${CAPA_TAIL[@]}" '+OK Bye'
}
