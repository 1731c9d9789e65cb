#!/usr/bin/env bats
# spec 4.1 AUTH NTLM (MS-NLMP, MS-OXPOP3 framing), spec 4.2 ntlm=, and
# --hash-password --scheme=ntlm.  tests/helpers/ntlm-client.py is the
# scripted client: it checks the CHALLENGE and computes NTLMv2 itself.

load helpers/load
load helpers/proto
load helpers/mail

MALFORMED='-ERR Malformed authentication data'
UNSUPP='-ERR Unsupported authentication mechanism'
CANCEL='-ERR Authentication cancelled'
MECHS=--auth-mechanisms='plain ntlm'

# ntkey PW: the ntlm= item --hash-password --scheme=ntlm prints, hex only.
ntkey() {
	printf '%s\n' "$1" | timeout 20 "$HANDLER" --hash-password \
	    --scheme=ntlm | sed 's/^ntlm=//'
}

# ntlm_user NAME PW [EXTRA]: a passwd line with a $6$ hash and ntlm= for
# PW; home $MAILROOT/NAME with an empty Maildir.
ntlm_user() {
	mkdir -p "$MAILROOT/$1/Maildir/new" "$MAILROOT/$1/Maildir/cur" \
	    "$MAILROOT/$1/Maildir/tmp"
	printf '%s:%s::::%s::ntlm=%s%s\n' "$1" "$(hash6 "$2")" \
	    "$MAILROOT/$1" "$(ntkey "$2")" "${3:+ $3}" >>"$PASSWD"
}

# ntlm ARGS... [-- HANDLER-ARGS]: one exchange by the scripted client.
ntlm() {
	status=0
	HANDLER=$HANDLER PASSWD=$PASSWD out=$out log=$log timeout 60 \
	    python3 "$TOP/tests/helpers/ntlm-client.py" "$@" || status=$?
}

# type2 KEY: a field of the last CHALLENGE the client saw.
type2() {
	sed -n "s/^$1 //p" "$out.type2"
}

setup() {
	common_setup
	ntlm_user alice s3cret
	ALICE=$(ntkey s3cret)
}

@test "--hash-password --scheme=ntlm: the NT hash of MS-NLMP 4.2.4 (spec 4.1)" {
	printf 'Password\n' | "$HANDLER" --hash-password --scheme=ntlm \
	    >"$out" 2>"$log"
	expect_file <(printf 'ntlm=a4f49c406510bdcab6824ee7c30fd852\n')
}

@test "--hash-password --scheme=ntlm hashes UTF-16LE, surrogate pairs too (spec 4.1)" {
	local pw=$'h\xc3\xa9llo \xf0\x9f\x98\x80'
	printf '%s\n' "$pw" | "$HANDLER" --hash-password --scheme=ntlm >"$out"
	printf 'ntlm=%s\n' "$(printf '%s' "$pw" | iconv -f UTF-8 -t UTF-16LE |
	    openssl dgst -md4 -provider legacy -provider default |
	    sed 's/.*= //')" >"$T/want"
	expect_file "$T/want"
}

@test "--hash-password --scheme=ntlm refuses a password that is not UTF-8 (spec 4.1)" {
	printf 'a\xffb\n' | chat_raw --hash-password --scheme=ntlm
	[ "$status" -eq 2 ]
	[ ! -s "$out" ]
	grep -q 'not valid UTF-8' "$log"
}

@test "--hash-password --scheme=yescrypt is the default's \$y\$ (spec 4.1)" {
	printf 'pw\n' | "$HANDLER" --hash-password --scheme=yescrypt >"$out"
	grep -qE '^\$y\$[^:]+$' "$out"
}

@test "--hash-password --scheme=unknown: exit 2 and a message (spec 1, 4.1)" {
	printf 'pw\n' | chat_raw --hash-password --scheme=md5
	[ "$status" -eq 2 ]
	[ ! -s "$out" ]
	grep -q 'scheme=md5: unknown scheme' "$log"
}

@test "--scheme without --hash-password: exit 2 (spec 1)" {
	chat_raw --passwd-file="$PASSWD" --scheme=ntlm </dev/null
	[ "$status" -eq 2 ]
	grep -q 'scheme.* for --hash-password only' "$log"
}

# curl's NEGOTIATE (7.88): OEM, REQUEST_TARGET, NTLM, ALWAYS_SIGN, ESS.
NEG=TlRMTVNTUAABAAAABoIIAAAAAAAAAAAAAAAAAAAAAAA=

# expect_masked LINE...: like expect_bytes, with a CHALLENGE line
# ("+ " and base64) of $out shown as "+ CHALLENGE".
expect_masked() {
	sed -E 's|^\+ [A-Za-z0-9+/]{40,}={0,2}\r$|+ CHALLENGE\r|' "$out" \
	    >"$T/masked"
	crlf "$@" >"$T/exp"
	cmp -s "$T/exp" "$T/masked" || {
		diff <(od -An -c "$T/exp") <(od -An -c "$T/masked") >&2
		return 1
	}
}

# A failed exchange, byte for byte: what every refusal must look like.
FAILED=("$GREET" '+ ' '+ CHALLENGE' "$FAIL" '+OK Bye')

@test "NTLM is off by default: AUTH NTLM unsupported, not in CAPA or AUTH (spec 4.1)" {
	crlf 'AUTH NTLM' "AUTH NTLM $NEG" CAPA AUTH QUIT | chat
	[ "$status" -eq 0 ]
	expect_bytes "$GREET" "$UNSUPP" "$UNSUPP" '+OK Capability list follows' \
	    TOP UIDL RESP-CODES AUTH-RESP-CODE PIPELINING 'EXPIRE NEVER' USER \
	    "$SASL_LINE" 'IMPLEMENTATION pop3-handler' . \
	    '+OK Supported mechanisms follow' "${AUTH_LIST[@]}" . '+OK Bye'
	! grep -q NTLM "$out"
}

@test "auth-mechanisms with ntlm: NTLM in CAPA's SASL line and AUTH's list (spec 3, 4.1)" {
	crlf CAPA AUTH QUIT | chat "$MECHS"
	[ "$status" -eq 0 ]
	expect_bytes "$GREET" '+OK Capability list follows' \
	    TOP UIDL RESP-CODES AUTH-RESP-CODE PIPELINING 'EXPIRE NEVER' USER \
	    'SASL PLAIN NTLM' 'IMPLEMENTATION pop3-handler' . \
	    '+OK Supported mechanisms follow' PLAIN NTLM . '+OK Bye'
}

@test "NTLM sends no password: offered where plaintext is not (spec 4.1)" {
	crlf CAPA QUIT | chat "$MECHS" --plaintext-auth=never
	grep -qx $'SASL NTLM\r' "$out"
	ntlm --key "$ALICE" --then QUIT -- "$MECHS" --plaintext-auth=never
	[ "$status" -eq 0 ]
	expect_masked "$GREET" '+ ' '+ CHALLENGE' "$OK0" '+OK Bye'
}

@test "AUTH NTLM, NEGOTIATE, CHALLENGE, NTLMv2 AUTHENTICATE logs in (spec 4.1, MS-OXPOP3)" {
	ntlm --key "$ALICE" --then QUIT -- "$MECHS"
	[ "$status" -eq 0 ]
	expect_masked "$GREET" '+ ' '+ CHALLENGE' "$OK0" '+OK Bye'
	grep -q 'event=login user=alice .*mech=ntlm' "$log"
}

@test "AUTH NTLM with the NEGOTIATE as initial response (spec 4.1, RFC 5034)" {
	ntlm --ir --key "$ALICE" --then QUIT -- "$MECHS"
	[ "$status" -eq 0 ]
	expect_masked "$GREET" '+ CHALLENGE' "$OK0" '+OK Bye'
}

@test "the CHALLENGE: flags, TargetName and the AV pairs from hostname (MS-NLMP 2.2.1.2)" {
	ntlm --key "$ALICE" --then QUIT -- "$MECHS"
	[ "$status" -eq 0 ]
	# UNICODE REQUEST_TARGET NTLM ALWAYS_SIGN TARGET_TYPE_SERVER ESS
	# TARGET_INFO: what curl asked for, in Unicode, with target info.
	[ "$(type2 flags)" = 008a8205 ]
	[ "$(type2 target)" = TEST ]
	[ "$(type2 av2)" = TEST ]
	[ "$(type2 av1)" = TEST ]
	[ "$(type2 av3)" = test.example ]
	# MsvAvTimestamp is now (FILETIME), within a minute.
	[ "$(type2 av7)" -ge -60 ] && [ "$(type2 av7)" -le 60 ]
}

@test "a 250-octet hostname: the CHALLENGE still fits 512 octets, DNS name left out (C0001)" {
	local h
	h=$(printf 'h%.0s' $(seq 1 240)).example
	ntlm --key "$ALICE" --then QUIT -- "$MECHS" --hostname="$h"
	[ "$status" -eq 0 ]
	[ "$(type2 length)" -le 512 ]
	[ -z "$(type2 av3)" ]
	[ "$(type2 av1)" = HHHHHHHHHHHHHHH ]
	line_is 4 "$OK0"
}

@test "a MIC over the three messages is checked: right logs in, wrong fails (MS-NLMP 3.2.5.1.2)" {
	ntlm --mic --key "$ALICE" --then QUIT -- "$MECHS"
	[ "$status" -eq 0 ]
	expect_masked "$GREET" '+ ' '+ CHALLENGE' "$OK0" '+OK Bye'
	ntlm --bad-mic --key "$ALICE" --then QUIT -- "$MECHS"
	[ "$status" -eq 0 ]
	expect_masked "${FAILED[@]}"
}

@test "NTLM with a wrong password: -ERR [AUTH] Authentication failed (spec 4, 4.1)" {
	ntlm --key "$(ntkey wrong)" --then QUIT -- "$MECHS"
	[ "$status" -eq 0 ]
	expect_masked "${FAILED[@]}"
	grep -q 'authentication failed: bad password' "$log"
}

@test "a user without ntlm= fails exactly like a wrong password (spec 4.1, 4.2)" {
	add_user bob s3cret
	ntlm --user bob --key "$ALICE" --then QUIT -- "$MECHS"
	[ "$status" -eq 0 ]
	expect_masked "${FAILED[@]}"
	grep -q 'authentication failed: no ntlm= key' "$log"
}

@test "an unknown user fails exactly like a wrong password (spec 4)" {
	ntlm --user nobody --key "$ALICE" --then QUIT -- "$MECHS"
	[ "$status" -eq 0 ]
	expect_masked "${FAILED[@]}"
	grep -q 'authentication failed: unknown user' "$log"
}

@test "an NTLMv1 response (24 octets) fails exactly like a wrong password (spec 4.1)" {
	ntlm --mode v1 --key "$ALICE" --then QUIT -- "$MECHS"
	[ "$status" -eq 0 ]
	expect_masked "${FAILED[@]}"
	grep -q 'authentication failed: not an NTLMv2 response' "$log"
}

@test "an LM response alone fails exactly like a wrong password (spec 4.1)" {
	ntlm --mode lm --key "$ALICE" --then QUIT -- "$MECHS"
	[ "$status" -eq 0 ]
	expect_masked "${FAILED[@]}"
}

@test "a locked account with ntlm= fails (spec 4)" {
	printf 'carol:!%s::::%s::ntlm=%s\n' "$(hash6 s3cret)" "$MAILROOT" \
	    "$ALICE" >>"$PASSWD"
	ntlm --user carol --key "$ALICE" --then QUIT -- "$MECHS"
	[ "$status" -eq 0 ]
	expect_masked "${FAILED[@]}"
	grep -q 'authentication failed: account locked' "$log"
}

@test "nologin and allow_nets apply to NTLM as to a password (spec 4.2)" {
	ntlm_user dave s3cret 'nologin reason=Mailbox_moved'
	ntlm_user erin s3cret 'allow_nets=192.0.2.0/24'
	ntlm --user dave --key "$ALICE" --then QUIT -- "$MECHS"
	[ "$status" -eq 0 ]
	expect_masked "$GREET" '+ ' '+ CHALLENGE' \
	    '-ERR [AUTH] Mailbox moved' '+OK Bye'
	ntlm --user erin --key "$ALICE" --then QUIT -- "$MECHS"
	[ "$status" -eq 0 ]
	expect_masked "${FAILED[@]}"
}

@test "a user name with an unpaired surrogate fails like a wrong password (spec 4)" {
	# "al" U+D800 "ce": not UTF-16, so never a name.
	ntlm --user-hex 61006c0000d863006500 --key "$ALICE" --then QUIT -- \
	    "$MECHS"
	[ "$status" -eq 0 ]
	expect_masked "${FAILED[@]}"
	grep -q 'user=(invalid) .*unknown user' "$log"
}

@test "a user name with '/' never reaches the lookup (spec 4)" {
	printf 'a/b:%s::::%s::ntlm=%s\n' "$(hash6 s3cret)" "$MAILROOT" \
	    "$ALICE" >>"$PASSWD"
	ntlm --user a/b --key "$ALICE" --then QUIT -- "$MECHS"
	[ "$status" -eq 0 ]
	expect_masked "${FAILED[@]}"
}

@test "the user name is UTF-16: a non-ASCII name logs in (spec 4.1)" {
	ntlm_user 'jürgen' s3cret
	ntlm --user 'jürgen' --key "$ALICE" --then QUIT -- "$MECHS"
	[ "$status" -eq 0 ]
	expect_masked "$GREET" '+ ' '+ CHALLENGE' "$OK0" '+OK Bye'
}

@test "NTLM failures count toward max-auth-failures (spec 4, C0005)" {
	ntlm --key "$(ntkey wrong)" --then QUIT -- "$MECHS" \
	    --max-auth-failures=1
	[ "$status" -eq 1 ]
	expect_masked "$GREET" '+ ' '+ CHALLENGE' "$FAIL"
}

@test "NTLM failures wait auth-fail-delay, with or without ntlm= (spec 4)" {
	local t0 t1
	add_user bob s3cret
	t0=$(now_ms)
	ntlm --user bob --key "$ALICE" --then QUIT -- "$MECHS" \
	    --auth-fail-delay=1
	t1=$(now_ms)
	expect_masked "${FAILED[@]}"
	[ $((t1 - t0)) -ge 1000 ]
	t0=$(now_ms)
	ntlm --key "$(ntkey wrong)" --then QUIT -- "$MECHS" --auth-fail-delay=1
	t1=$(now_ms)
	expect_masked "${FAILED[@]}"
	[ $((t1 - t0)) -ge 1000 ]
}

@test "AUTH NTLM then * cancels; USER/PASS still works (spec 4, RFC 5034)" {
	crlf 'AUTH NTLM' '*' 'USER alice' 'PASS s3cret' QUIT | chat "$MECHS"
	[ "$status" -eq 0 ]
	expect_bytes "$GREET" '+ ' "$CANCEL" '+OK Password required' "$OK0" \
	    '+OK Bye'
}

@test "* in answer to the CHALLENGE cancels (spec 4, RFC 5034)" {
	crlf 'AUTH NTLM' "$NEG" '*' QUIT | chat "$MECHS"
	[ "$status" -eq 0 ]
	expect_masked "$GREET" '+ ' '+ CHALLENGE' "$CANCEL" '+OK Bye'
}

@test "AUTH NTLM with bad base64, = or a non-NTLM message: malformed (spec 4.1)" {
	crlf 'AUTH NTLM' 'a$b%' 'AUTH NTLM =' "AUTH NTLM $(b64 'hello')" \
	    "AUTH NTLM $(b64 'NTLMSSP\0\3\0\0\0')" QUIT | chat "$MECHS"
	[ "$status" -eq 0 ]
	expect_bytes "$GREET" '+ ' "$MALFORMED" "$MALFORMED" "$MALFORMED" \
	    "$MALFORMED" '+OK Bye'
}

@test "a malformed AUTHENTICATE is a bad command, not an auth failure (spec 4)" {
	# A field that points past the end of the message.
	crlf "AUTH NTLM $NEG" \
	    "$(b64 'NTLMSSP\0\3\0\0\0\30\0\30\0\377\377\0\0%052d\1\0\0\0' 0)" \
	    "AUTH NTLM $NEG" 'not base64!' 'USER alice' 'PASS s3cret' QUIT |
	    chat "$MECHS" --max-auth-failures=1
	[ "$status" -eq 0 ]
	expect_masked "$GREET" '+ CHALLENGE' "$MALFORMED" '+ CHALLENGE' \
	    "$MALFORMED" '+OK Password required' "$OK0" '+OK Bye'
}

stop_server() {
	# shellcheck disable=SC2086
	end_pids ${SERVER_PID:-}
}

teardown() {
	stop_server
	no_sanitizer_report "$log" "$T/server.log"
}

@test "curl --ntlm --login-options AUTH=NTLM retrieves a message byte for byte (spec 4.1)" {
	command -v curl >/dev/null || skip "curl is not installed"
	MD=$MAILROOT/alice/Maildir
	putf new 1700000001.M1P1.host \
	    'Subject: ntlm\n\nline\n.dot\n..two\nend'
	to_crlf "$MD/new/1700000001.M1P1.host" >"$T/want"
	start_server "$MECHS"
	timeout 20 curl -sS --ntlm --login-options AUTH=NTLM -u alice:s3cret \
	    "pop3://127.0.0.1:$PORT/1" -v -o "$T/got" 2>"$T/curl.log"
	cmp "$T/want" "$T/got"
	# NTLMv2: curl's AUTHENTICATE carries more than 24 NT octets.
	grep -q '^> AUTH NTLM' "$T/curl.log"
	grep -q 'event=login user=alice .*mech=ntlm' "$T/server.log"
}

@test "curl with a wrong password: login denied (spec 4.1)" {
	command -v curl >/dev/null || skip "curl is not installed"
	start_server "$MECHS"
	status=0
	timeout 20 curl -sS --ntlm --login-options AUTH=NTLM -u alice:wrong \
	    "pop3://127.0.0.1:$PORT/" -v -o "$T/got" 2>"$T/curl.log" ||
	    status=$?
	[ "$status" -eq 67 ]		# CURLE_LOGIN_DENIED
	grep -qxF "< $FAIL" <(tr -d '\r' <"$T/curl.log")
}

@test "mpop auth ntlm (GNU SASL: NTLMv1) is refused like a wrong password (spec 4.1)" {
	command -v mpop >/dev/null || skip "mpop is not installed"
	mpop --version | grep -qw ntlm || skip "mpop lacks NTLM"
	start_server "$MECHS"
	cat >"$T/mpoprc" <<-EOF
	account default
	host 127.0.0.1
	port $PORT
	user alice
	password s3cret
	auth ntlm
	tls off
	delivery mbox $T/mbox
	uidls_file $T/mpop-uidls
	EOF
	chmod 600 "$T/mpoprc"
	status=0
	HOME=$T timeout 60 mpop -C "$T/mpoprc" >"$T/mpop.out" 2>&1 ||
	    status=$?
	[ "$status" -ne 0 ]
	grep -q 'authentication failed (method NTLM)' "$T/mpop.out"
	grep -q 'authentication failed: not an NTLMv2 response' "$T/server.log"
}
