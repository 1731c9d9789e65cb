#!/usr/bin/env bats
# SCRAM-SHA-256, SCRAM-SHA-1 and -PLUS through GNU SASL (spec 4.1): real
# clients (mpop; build/scram-client for the channel binding no Debian
# POP3 client does), keys from gsasl, doveadm and --hash-password, the
# decoy exchange for names without keys, and USER/PASS against a
# {SCRAM-SHA-256} hash field.

load helpers/load
load helpers/tls

setup_file() {
	tls_setup_file
	if [ ! -x "$TOP/build/scram-client" ] ||
	    [ "$TOP/tests/helpers/scram-client.c" -nt "$TOP/build/scram-client" ]
	then
		make -s -C "$TOP" build/scram-client >&2
	fi
}

setup() {
	common_setup
	STATE=$T/state
	mkdir -p "$STATE"
	SC=$TOP/build/scram-client
	MSGFILE=$T/msg
	printf 'From: bob@example.org\nSubject: scram\n\nbody line\n.dot line\n' \
	    >"$MSGFILE"
	SIZE=$(to_crlf "$MSGFILE" | wc -c)
}

teardown() {
	tls_kill_all
	no_sanitizer_report
}

# scram_user NAME HASHFIELD [EXTRA]: a passwd line with this hash field
# (and extra fields); one message in the Maildir.
scram_user() {
	mkdir -p "$MAILROOT/$1/Maildir/new" "$MAILROOT/$1/Maildir/cur" \
	    "$MAILROOT/$1/Maildir/tmp"
	cp "$MSGFILE" "$MAILROOT/$1/Maildir/new/1700000001.M1P1.host"
	printf '%s:%s:::%s:::%s\n' "$1" "$2" "$MAILROOT/$1" "${3:-}" \
	    >>"$PASSWD"
}

# serve_scram ARGS...: the handler on a TCP port with the test's state
# and mail directories.
serve_scram() {
	serve --state-dir="$STATE" --maildir="$MAILROOT/%u/Maildir" "$@"
}

# mpop_fetch MECH USER PASSWORD: mpop fetches everything with auth MECH
# into $T/mp/; status in $mstatus.
mpop_fetch() {
	mkdir -p "$T/mp"
	cat >"$T/mda" <<-EOF
	#!/bin/sh
	cat >"$T/mp/\$(ls "$T/mp" | wc -l)"
	EOF
	chmod 755 "$T/mda"
	cat >"$T/mpoprc" <<-EOF
	account default
	host 127.0.0.1
	port $PORT
	user $2
	password $3
	auth $1
	tls off
	delivery mda $T/mda
	only_new off
	keep on
	uidls_file $T/mpop-uidls
	EOF
	chmod 600 "$T/mpoprc"
	mstatus=0
	HOME=$T timeout 60 mpop -C "$T/mpoprc" >"$T/mpop.out" 2>&1 ||
	    mstatus=$?
}

# sc ARGS...: build/scram-client against $PORT; the server's lines in
# $out, status in $cstatus.
sc() {
	cstatus=0
	timeout 30 "$SC" "$@" "$PORT" >"$out" 2>"$T/sc.err" || cstatus=$?
}

# server_first: the decoded SCRAM server-first message of $out (line 3).
server_first() {
	line 3 | sed 's/^+ //' | base64 -d
}

gsasl_key() {	# gsasl_key MECH PASSWORD [ITER]
	gsasl --mkpasswd --mechanism "$1" --password "$2" \
	    --iteration-count "${3:-4096}"
}

@test "mpop with auth scram-sha-256 and gsasl --mkpasswd keys fetches the message byte for byte (spec 4.1)" {
	command -v mpop >/dev/null || skip "mpop is not installed"
	scram_user alice "$(gsasl_key SCRAM-SHA-256 'pass word')"
	serve_scram
	mpop_fetch scram-sha-256 alice 'pass word'
	[ "$mstatus" -eq 0 ] || { cat "$T/mpop.out" >&2; false; }
	to_crlf "$MSGFILE" | tr -d '\r' >"$T/want"
	# mpop adds its Received: header (three lines) in front.
	sed 1,3d "$T/mp/0" >"$T/got"
	same_file "$T/want" "$T/got"
	head -1 "$T/mp/0" | grep -q '^Received: from 127.0.0.1'
	[ "$(sed -n 4p "$T/mp/0")" = 'From: bob@example.org' ]
	wait_exits 1
	grep -q 'event=login user=alice .*mech=scram-sha-256' "$log"
}

@test "mpop with auth scram-sha-1 (listed in auth-mechanisms) and SHA-1 keys (spec 4.1)" {
	command -v mpop >/dev/null || skip "mpop is not installed"
	scram_user alice "$(gsasl_key SCRAM-SHA-1 pw1)"
	serve_scram --auth-mechanisms='plain scram-sha-1'
	mpop_fetch scram-sha-1 alice pw1
	[ "$mstatus" -eq 0 ] || { cat "$T/mpop.out" >&2; false; }
	[ -s "$T/mp/0" ]
	wait_exits 1
	grep -q 'event=login user=alice .*mech=scram-sha-1' "$log"
}

@test "SCRAM-SHA-1 is not offered unless listed: AUTH SCRAM-SHA-1 is unsupported by default (spec 4.1)" {
	scram_user alice "$(gsasl_key SCRAM-SHA-1 pw1)"
	crlf CAPA 'AUTH SCRAM-SHA-1' QUIT | chat --state-dir="$STATE"
	grep -q $'^SASL PLAIN LOGIN SCRAM-SHA-256\r$' "$out"
	grep -q $'^-ERR Unsupported authentication mechanism\r$' "$out"
}

@test "doveadm pw -s SCRAM-SHA-256 keys work with mpop (spec 4.1, Dovecot interop)" {
	command -v mpop >/dev/null || skip "mpop is not installed"
	command -v doveadm >/dev/null || skip "doveadm is not installed"
	scram_user alice "$(doveadm pw -s SCRAM-SHA-256 -p dovepw)"
	serve_scram
	mpop_fetch scram-sha-256 alice dovepw
	[ "$mstatus" -eq 0 ] || { cat "$T/mpop.out" >&2; false; }
	[ -s "$T/mp/0" ]
}

@test "keys in the scram-sha-256= extra field next to a crypt hash: SCRAM and PASS both work (spec 4.2)" {
	local k crypt
	k=$(gsasl_key SCRAM-SHA-256 scrampw)
	crypt=$(printf 'cryptpw' | openssl passwd -6 -salt saltsalt -stdin)
	scram_user alice "$crypt" "scram-sha-256=${k#\{SCRAM-SHA-256\}}"
	serve_scram
	sc -u alice -p scrampw -q
	[ "$cstatus" -eq 0 ]
	line_is 5 "+OK Logged in, 1 messages ($SIZE octets)"
	talk "$PORT" 'USER alice\r\nPASS cryptpw\r\nQUIT\r\n'
	grep -q '^+OK Logged in' "$out"
}

@test "our --hash-password --scheme=scram-sha-256 output works with mpop, 10000 iterations by default (spec 4.1)" {
	command -v mpop >/dev/null || skip "mpop is not installed"
	local h
	h=$(printf 'hashed pw\n' | "$HANDLER" --hash-password --scheme=scram-sha-256)
	[[ $h == '{SCRAM-SHA-256}10000,'* ]]
	scram_user alice "$h"
	serve_scram
	mpop_fetch scram-sha-256 alice 'hashed pw'
	[ "$mstatus" -eq 0 ] || { cat "$T/mpop.out" >&2; false; }
}

@test "--hash-password --scheme=scram-sha-1 --iterations=4096 writes Dovecot's form and logs in (spec 4.1)" {
	local h
	h=$(printf 'pw\n' | "$HANDLER" --hash-password --scheme=scram-sha-1 \
	    --iterations=4096)
	[[ $h =~ ^\{SCRAM-SHA-1\}4096,[A-Za-z0-9+/]{22}==,[A-Za-z0-9+/]{27}=,[A-Za-z0-9+/]{27}=$ ]]
	scram_user alice "$h"
	serve_scram --auth-mechanisms=scram-sha-1
	sc -m SCRAM-SHA-1 -u alice -p pw -q
	[ "$cstatus" -eq 0 ]
}

@test "--hash-password refuses fewer than 4096 iterations (spec 4.1)" {
	run "$HANDLER" --hash-password --scheme=scram-sha-256 --iterations=4095 \
	    </dev/null
	[ "$status" -eq 2 ]
}

@test "a wrong SCRAM password fails at the proof with the exact failure reply (spec 4, 4.1)" {
	scram_user alice "$(gsasl_key SCRAM-SHA-256 right)"
	serve_scram
	sc -u alice -p wrong
	[ "$cstatus" -eq 1 ]
	[ "$(wc -l <"$out")" -eq 4 ]
	line_is 1 "$GREET"
	line_is 2 '+ '
	server_first | grep -Eq '^r=[^,]+,s=[A-Za-z0-9+/=]+,i=4096$'
	line_is 4 '-ERR [AUTH] Authentication failed'
	wait_exits 1
	grep -q 'event=login-failed user=alice .*mech=scram-sha-256 authentication failed: bad proof' "$log"
}

@test "the failure delay and limit apply to SCRAM: three failures close the session (spec 4)" {
	scram_user alice "$(gsasl_key SCRAM-SHA-256 right)"
	# Fixed client-first messages with the wrong nonce fail at once.
	local cf
	cf=$(printf 'n,,n=alice,r=abcdefgh' | base64 -w0)
	{
		for i in 1 2 3; do crlf 'AUTH SCRAM-SHA-256' "$cf" \
		    "$(printf 'c=biws,r=xx,p=AAAA' | base64 -w0)"; done
		crlf QUIT
	} | chat --state-dir="$STATE"
	[ "$status" -eq 1 ]
	[ "$(grep -c '^-ERR \[AUTH\] Authentication failed' "$out")" -eq 3 ]
	! grep -q '^+OK Bye' "$out"
}

@test "an unknown user gets a decoy server-first of the same form and fails at the proof (spec 4.1)" {
	scram_user alice "$(printf 'pw\n' | "$HANDLER" --hash-password --scheme=scram-sha-256)"
	serve_scram
	sc -u alice -p wrong
	[ "$cstatus" -eq 1 ]
	cp "$out" "$T/real"
	server_first >"$T/real.sf"
	sc -u nosuchuser -p wrong
	[ "$cstatus" -eq 1 ]
	server_first >"$T/decoy.sf"
	# Same shape: nonce, a 16-octet salt, the same iteration count.
	sed -E 's/^r=[^,]+,s=[A-Za-z0-9+/]{22}==,i=10000$/SHAPE/' "$T/real.sf" >"$T/a"
	sed -E 's/^r=[^,]+,s=[A-Za-z0-9+/]{22}==,i=10000$/SHAPE/' "$T/decoy.sf" >"$T/b"
	[ "$(cat "$T/a")" = SHAPE ] && [ "$(cat "$T/b")" = SHAPE ]
	# Same replies around it, byte for byte.
	[ "$(sed -n '1,2p;4p' "$out")" = "$(sed -n '1,2p;4p' "$T/real")" ]
	wait_exits 2
	grep -q 'user=nosuchuser .*authentication failed: unknown user' "$log"
	[ "$(stat -c %a "$STATE/scram-decoy-secret")" = 600 ]
	[ "$(stat -c %s "$STATE/scram-decoy-secret")" = 32 ]
}

# decoy_salt NAME: the salt of NAME's server-first in a fresh session.
decoy_salt() {
	crlf 'AUTH SCRAM-SHA-256' "$(printf 'n,,n=%s,r=fixednonce' "$1" | base64 -w0)" \
	    '*' QUIT | chat --state-dir="$STATE"
	server_first | sed -E 's/^r=fixednonce[^,]*,s=([^,]*),i=.*$/\1/'
}

@test "the decoy salt is the same for one name across sessions and differs between names (spec 4.1)" {
	local a1 a2 b
	a1=$(decoy_salt ghost)
	a2=$(decoy_salt ghost)
	b=$(decoy_salt phantom)
	[ -n "$a1" ] && [ "$a1" = "$a2" ]
	[ "$a1" != "$b" ]
	[ "$(printf '%s' "$a1" | base64 -d | wc -c)" -eq 16 ]
	# A user without SCRAM keys gets a decoy too: stable, fails.
	add_user ghost2 pw
	[ "$(decoy_salt ghost2)" = "$(decoy_salt ghost2)" ]
}

@test "the decoy takes the shape of the passwd file's first keys: gsasl's 4096 iterations and 12-octet salt (spec 4.1)" {
	local name sf
	add_user bob pw		# no SCRAM keys, and before the first keys
	scram_user alice "$(gsasl_key SCRAM-SHA-256 pw 4096)"
	scram_user carol "$(printf 'pw\n' | "$HANDLER" --hash-password --scheme=scram-sha-256)"
	for name in alice nosuchuser bob; do
		crlf 'AUTH SCRAM-SHA-256' \
		    "$(printf 'n,,n=%s,r=fixednonce' "$name" | base64 -w0)" \
		    '*' QUIT | chat --state-dir="$STATE"
		sf=$(server_first)
		[[ "$sf" =~ ^r=fixednonce[A-Za-z0-9+/]+,s=[A-Za-z0-9+/]{16},i=4096$ ]]
	done
	# carol's own keys keep their own shape.
	crlf 'AUTH SCRAM-SHA-256' "$(printf 'n,,n=carol,r=fixednonce' | base64 -w0)" \
	    '*' QUIT | chat --state-dir="$STATE"
	[[ "$(server_first)" =~ ,s=[A-Za-z0-9+/]{22}==,i=10000$ ]]
}

@test "a decoy for a file with 40-octet salts has a 40-octet salt, stable per name (spec 4.1)" {
	local key a1 a2 b
	key=$(python3 -c '
import base64, hashlib, hmac
salt = bytes(range(40)); it = 4096
sp = hashlib.pbkdf2_hmac("sha256", b"pw", salt, it)
ck = hmac.new(sp, b"Client Key", "sha256").digest()
sk = hmac.new(sp, b"Server Key", "sha256").digest()
b = lambda x: base64.b64encode(x).decode()
print("{SCRAM-SHA-256}%d,%s,%s,%s" % (it, b(salt), b(hashlib.sha256(ck).digest()), b(sk)))')
	scram_user dave "$key"
	a1=$(decoy_salt ghost)
	a2=$(decoy_salt ghost)
	b=$(decoy_salt phantom)
	[ "$(printf '%s' "$a1" | base64 -d | wc -c)" -eq 40 ]
	[ "$a1" = "$a2" ] && [ "$a1" != "$b" ]
	[ "$(decoy_salt dave)" = "$(printf '%s' "$key" | cut -d, -f2)" ]
}

@test "a new decoy secret gives new salts: the salt comes from the installation's secret (spec 4.1)" {
	local a b
	a=$(decoy_salt ghost)
	rm "$STATE/scram-decoy-secret"
	b=$(decoy_salt ghost)
	[ -n "$a" ] && [ -n "$b" ] && [ "$a" != "$b" ]
}

@test "no usable state-dir: every SCRAM exchange fails [SYS/TEMP], known users too, no random salt (spec 4.1)" {
	scram_user alice "$(gsasl_key SCRAM-SHA-256 pw)"
	crlf 'AUTH SCRAM-SHA-256' "$(printf 'n,,n=alice,r=nonce' | base64 -w0)" \
	    'AUTH SCRAM-SHA-256' "$(printf 'n,,n=ghost,r=nonce' | base64 -w0)" \
	    QUIT | chat --state-dir="$T/missing"
	[ "$status" -eq 0 ]
	expect_bytes "$GREET" '+ ' \
	    '-ERR [SYS/TEMP] Authentication is unavailable' '+ ' \
	    '-ERR [SYS/TEMP] Authentication is unavailable' '+OK Bye'
	[ "$(grep -c 'event=error .*decoy secret' "$log")" -eq 2 ]
}

@test "a decoy secret readable by others is refused (spec 4.1)" {
	head -c 32 /dev/urandom >"$STATE/scram-decoy-secret"
	chmod 644 "$STATE/scram-decoy-secret"
	crlf 'AUTH SCRAM-SHA-256' "$(printf 'n,,n=ghost,r=nonce' | base64 -w0)" \
	    QUIT | chat --state-dir="$STATE"
	expect_bytes "$GREET" '+ ' \
	    '-ERR [SYS/TEMP] Authentication is unavailable' '+OK Bye'
}

@test "an authorisation identity other than the user fails like a wrong password (spec 4.1)" {
	scram_user alice "$(gsasl_key SCRAM-SHA-256 pw)"
	scram_user bob "$(gsasl_key SCRAM-SHA-256 pw)"
	serve_scram
	sc -u alice -p pw -z bob
	[ "$cstatus" -eq 1 ]
	line_is 4 '-ERR [AUTH] Authentication failed'
	sc -u alice -p pw -z alice -q
	[ "$cstatus" -eq 0 ]
	wait_exits 2
	grep -q 'authentication failed: authorization identity differs' "$log"
}

@test "a locked account with SCRAM keys never logs in, even with the right password (spec 4)" {
	local k
	k=$(gsasl_key SCRAM-SHA-256 pw)
	scram_user alice '!locked' "scram-sha-256=${k#\{SCRAM-SHA-256\}}"
	serve_scram
	sc -u alice -p pw
	[ "$cstatus" -eq 1 ]
	line_is 4 '-ERR [AUTH] Authentication failed'
}

@test "malformed SCRAM data: -ERR Malformed authentication data, not an authentication failure (spec 4.1)" {
	crlf 'AUTH SCRAM-SHA-256' "$(printf 'garbage' | base64 -w0)" \
	    'AUTH SCRAM-SHA-256' '!!!' QUIT | chat --state-dir="$STATE"
	[ "$status" -eq 0 ]
	expect_bytes "$GREET" '+ ' '-ERR Malformed authentication data' \
	    '+ ' '-ERR Malformed authentication data' '+OK Bye'
}

@test "SCRAM with an initial response, and * cancels (RFC 5034)" {
	crlf "AUTH SCRAM-SHA-256 $(printf 'n,,n=ghost,r=nonce' | base64 -w0)" \
	    '*' QUIT | chat --state-dir="$STATE"
	[ "$status" -eq 0 ]
	line 2 | grep -q '^+ cj1ub25jZ'
	line_is 3 '-ERR Authentication cancelled'
	line_is 4 '+OK Bye'
}

@test "-PLUS is not in CAPA or AUTH without the handler's own TLS, and AUTH refuses it (spec 4.1)" {
	crlf CAPA AUTH 'AUTH SCRAM-SHA-256-PLUS' QUIT |
	    chat --state-dir="$STATE" --secured=yes
	! grep -q 'PLUS' <(grep -v '^-ERR' "$out")
	grep -q $'^-ERR Unsupported authentication mechanism\r$' "$out"
}

@test "SCRAM-SHA-256-PLUS over implicit TLS 1.3 with tls-exporter logs in (spec 4.1, RFC 9266)" {
	scram_user alice "$(gsasl_key SCRAM-SHA-256 pw)"
	serve_scram --tls-cert="$CERT" --tls-key="$KEY" --implicit-tls=yes
	sc -m SCRAM-SHA-256-PLUS -t implicit -V 1.3 -u alice -p pw -q
	[ "$cstatus" -eq 0 ] || { cat "$T/sc.err" >&2; false; }
	server_first | grep -q '^r='
	line 2 | grep -q '^+ '
	# The client-first claimed tls-exporter: gs2 header p=tls-exporter.
	wait_exits 1
	grep -q 'event=login user=alice .*mech=scram-sha-256-plus' "$log"
}

@test "SCRAM-SHA-256-PLUS after STLS on TLS 1.2 with tls-unique logs in (spec 4.1, RFC 5929)" {
	scram_user alice "$(gsasl_key SCRAM-SHA-256 pw)"
	serve_scram --tls-cert="$CERT" --tls-key="$KEY"
	sc -m SCRAM-SHA-256-PLUS -t stls -V 1.2 -u alice -p pw -q
	[ "$cstatus" -eq 0 ] || { cat "$T/sc.err" >&2; false; }
}

@test "SCRAM-SHA-1-PLUS over TLS 1.3 when listed (spec 4.1)" {
	scram_user alice "$(gsasl_key SCRAM-SHA-1 pw)"
	serve_scram --tls-cert="$CERT" --tls-key="$KEY" \
	    --auth-mechanisms='scram-sha-1 scram-sha-1-plus'
	sc -m SCRAM-SHA-1-PLUS -t stls -V 1.3 -u alice -p pw -q
	[ "$cstatus" -eq 0 ] || { cat "$T/sc.err" >&2; false; }
}

@test "a mismatched channel binding fails like a wrong password, on TLS 1.3 and 1.2 (spec 4.1)" {
	scram_user alice "$(gsasl_key SCRAM-SHA-256 pw)"
	serve_scram --tls-cert="$CERT" --tls-key="$KEY"
	sc -m SCRAM-SHA-256-PLUS -t stls -V 1.3 -b -u alice -p pw
	[ "$cstatus" -eq 1 ]
	line_is 5 '-ERR [AUTH] Authentication failed'
	sc -m SCRAM-SHA-256-PLUS -t stls -V 1.2 -b -u alice -p pw
	[ "$cstatus" -eq 1 ]
	line_is 5 '-ERR [AUTH] Authentication failed'
	# The binding type of the other TLS version is refused too.
	sc -m SCRAM-SHA-256-PLUS -t stls -V 1.3 -c tls-unique -u alice -p pw
	[ "$cstatus" -ne 0 ]
	! grep -q '^+OK Logged in' "$out"
}

@test "plain SCRAM under TLS with the y flag is refused while -PLUS is offered, accepted when it is not (RFC 5802 downgrade)" {
	local y
	scram_user alice "$(gsasl_key SCRAM-SHA-256 pw)"
	y=$(printf 'y,,n=alice,r=nonce' | base64 -w0)
	serve_scram --tls-cert="$CERT" --tls-key="$KEY" --implicit-tls=yes
	talk "$PORT" tls "AUTH SCRAM-SHA-256 $y\r\nQUIT\r\n"
	expect_bytes "$GREET" '-ERR [AUTH] Authentication failed' '+OK Bye'
	tls_kill_all
	serve_scram --tls-cert="$CERT" --tls-key="$KEY" --implicit-tls=yes \
	    --auth-mechanisms='plain scram-sha-256'
	talk "$PORT" tls "AUTH SCRAM-SHA-256 $y\r\n*\r\nQUIT\r\n"
	line 2 | grep -q '^+ cj1ub25jZ'
	line_is 3 '-ERR Authentication cancelled'
}

@test "CAPA under the handler's own TLS lists SCRAM-SHA-256-PLUS (spec 3, 4.1)" {
	serve_scram --tls-cert="$CERT" --tls-key="$KEY"
	talk "$PORT" stls 'CAPA\r\nAUTH\r\nQUIT\r\n'
	grep -q $'^SASL PLAIN LOGIN SCRAM-SHA-256 SCRAM-SHA-256-PLUS\r$' "$out"
	grep -q $'^SCRAM-SHA-256-PLUS\r$' "$out"
}

@test "USER/PASS against a {SCRAM-SHA-256} hash field: the right password logs in, a wrong one fails (spec 4.1)" {
	scram_user alice "$(doveadm pw -s SCRAM-SHA-256 -p 'p w' 2>/dev/null ||
	    gsasl_key SCRAM-SHA-256 'p w')"
	crlf 'USER alice' 'PASS wrong' 'USER alice' 'PASS p w' QUIT |
	    chat --maildir="$MAILROOT/%u/Maildir"
	[ "$status" -eq 0 ]
	expect_bytes "$GREET" '+OK Password required' \
	    '-ERR [AUTH] Authentication failed' '+OK Password required' \
	    "+OK Logged in, 1 messages ($SIZE octets)" "+OK Bye"
}

@test "AUTH PLAIN and a {SCRAM-SHA-1} hash field (spec 4.1)" {
	scram_user alice "$(gsasl_key SCRAM-SHA-1 secret)"
	crlf "AUTH PLAIN $(printf '\0alice\0secret' | base64 -w0)" QUIT |
	    chat --maildir="$MAILROOT/%u/Maildir"
	[ "$status" -eq 0 ]
	line_is 2 "+OK Logged in, 1 messages ($SIZE octets)"
}

@test "pop3-handler does not link libgsasl: the first SCRAM exchange loads it (spec 4.1, S1 cost)" {
	! ldd "$HANDLER" | grep -q gsasl
	crlf "AUTH SCRAM-SHA-256 $(printf 'n,,n=ghost,r=nonce' | base64 -w0)" \
	    '*' QUIT | chat --state-dir="$STATE"
	line 2 | grep -q '^+ cj1ub25jZ'
}

@test "--check-user names the mechanisms the user's credentials allow (spec 1, 4.1)" {
	local k crypt
	k=$(gsasl_key SCRAM-SHA-1 pw)
	crypt=$(printf 'pw' | openssl passwd -6 -salt saltsalt -stdin)
	scram_user alice "$(gsasl_key SCRAM-SHA-256 pw)"
	scram_user bob "$crypt" "scram-sha-1=${k#\{SCRAM-SHA-1\}}"
	scram_user carol "!$crypt" "scram-sha-1=${k#\{SCRAM-SHA-1\}}"
	run "$HANDLER" --passwd-file="$PASSWD" --check-user=alice \
	    --maildir="$MAILROOT/%u/Maildir"
	[ "$status" -eq 0 ]
	grep -qx 'account: enabled ({SCRAM-SHA-256} hash field)' <<<"$output"
	grep -qx 'mechanisms: USER PLAIN LOGIN SCRAM-SHA-256 SCRAM-SHA-256-PLUS' \
	    <<<"$output"
	run "$HANDLER" --passwd-file="$PASSWD" --check-user=bob \
	    --maildir="$MAILROOT/%u/Maildir" \
	    --auth-mechanisms='plain scram-sha-1 scram-sha-256'
	grep -qx 'mechanisms: USER PLAIN SCRAM-SHA-1' <<<"$output"
	run "$HANDLER" --passwd-file="$PASSWD" --check-user=carol \
	    --maildir="$MAILROOT/%u/Maildir"
	grep -qx 'mechanisms: none (locked account)' <<<"$output"
}

# next_check_waits PENALTY-FILE: a cancelled SCRAM exchange from
# 192.0.2.7 (PROXY) waits 1 s before its check: the peer has a failure.
next_check_waits() {
	{
		printf 'PROXY TCP4 192.0.2.7 192.0.2.1 40000 110\r\n'
		crlf 'AUTH SCRAM-SHA-256' \
		    "$(printf 'n,,n=ghost,r=nonce' | base64 -w0)" '*' QUIT
	} | chat --state-dir="$STATE" --proxy-protocol=yes \
	    --penalty-file="$1" --debug --auth-fail-delay=1
	grep -qx 'pop3-handler: penalty: waiting 1 s before the check' "$log"
}

@test "a SCRAM failure counts in the penalty file: the peer's next check waits (spec 4, spec 4.1)" {
	local pen=$T/penalty
	{
		printf 'PROXY TCP4 192.0.2.7 192.0.2.1 40000 110\r\n'
		crlf 'AUTH SCRAM-SHA-256' \
		    "$(printf 'n,,n=ghost,r=nonce' | base64 -w0)" \
		    "$(printf 'c=biws,r=wrong,p=AAAA' | base64 -w0)" QUIT
	} | chat --state-dir="$STATE" --proxy-protocol=yes \
	    --penalty-file="$pen" --debug
	line_is 4 '-ERR [AUTH] Authentication failed'
	! grep -q 'penalty: waiting' "$log"
	next_check_waits "$pen"
}

@test "allow_nets refusing a right SCRAM proof counts in the penalty file as a failure (spec 4, 4.2)" {
	local pen=$T/penalty key
	key=$(printf 'pw\n' | "$HANDLER" --hash-password --scheme=scram-sha-256)
	scram_user alice "$key" 'allow_nets=198.51.100.0/24'
	serve_scram --proxy-protocol=yes --penalty-file="$pen"
	sc -x 'PROXY TCP4 192.0.2.7 192.0.2.1 40000 110' -u alice -p pw
	[ "$cstatus" -eq 1 ]
	grep -q '^-ERR \[AUTH\] Authentication failed' "$out"
	wait_exits 1
	next_check_waits "$pen"
}

# as_long N CHAR: N octets of CHAR.
as_long() {
	head -c "$1" /dev/zero | tr '\0' "$2"
}

@test "an AUTH continuation line of 40,000 octets reaches the mechanism: a big Kerberos ticket fits (RFC 5034)" {
	local first
	first=$(printf 'n,,n=%s,r=nonce' "$(as_long 30000 a)" | base64 -w0)
	[ "${#first}" -ge 40000 ]
	crlf 'AUTH SCRAM-SHA-256' "$first" '*' QUIT | chat --state-dir="$STATE"
	line_is 2 '+ '
	[[ "$(line 3)" == '+ '?* ]]	# a (decoy) server-first, not an -ERR
	line_is 4 '-ERR Authentication cancelled'
	line_is 5 '+OK Bye'
}

@test "an AUTH continuation line may be 65,536 octets with its CRLF, not one more (RFC 5034, spec 2)" {
	crlf 'AUTH SCRAM-SHA-256' "$(as_long 65534 A)" \
	    'AUTH SCRAM-SHA-256' "$(as_long 65535 A)" QUIT |
	    chat --state-dir="$STATE"
	line_is 3 '-ERR Malformed authentication data'
	line_is 5 '-ERR Command line too long'
	line_is 6 '+OK Bye'
}
