#!/usr/bin/env bats
# GSSAPI (RFC 4752, spec 4.1) against a real MIT KDC started for this
# file (tests/helpers/krb5.bash): tickets from kinit, the handler's
# service key from a keytab made by kadmin.local ktadd pop/localhost.
# Exact transcripts come from tests/helpers/gss-client.py (GNU SASL's
# client making the tokens); curl, mpop and fetchmail fetch over TCP.

load helpers/load
load helpers/mail
load helpers/krb5

setup_file() {
	krb5_start
}

teardown_file() {
	krb5_stop
}

setup() {
	common_setup
	STATE=$T/state
	mkdir -p "$STATE"
	setup_alice
	putf new 1700000001.M1P1.host \
	    'From: a@example.org\nSubject: one\n\nHello\n.dotline\nbye\n'
	GSS=(--state-dir="$STATE" --gssapi-keytab="$KRB5_KEYTAB")
	ticket alice
}

# ticket NAME: uses NAME's ticket cache ($KRB5_DIR/cc.NAME, "/" as "_"),
# made by kinit once per file.
ticket() {
	export KRB5CCNAME=FILE:$KRB5_DIR/cc.${1//\//_}
	[ -s "${KRB5CCNAME#FILE:}" ] || krb5_kinit "$1"
}

# gss ARGS...: tests/helpers/gss-client.py (its options, then -- and the
# handler's settings after the GSSAPI ones); $status, $out, $log.
gss() {
	local opts=()
	while [ $# -gt 0 ] && [ "$1" != -- ]; do
		opts+=("$1")
		shift
	done
	[ $# -eq 0 ] || shift
	status=0
	out=$out log=$log HANDLER=$HANDLER PASSWD=$PASSWD \
	    timeout 60 python3 "$TOP/tests/helpers/gss-client.py" \
	    "${opts[@]}" -- "${GSS[@]}" "$@" 2>"$T/client.err" || status=$?
}

# A base64 token line of the exchange: "+ " and at least one character.
token_line() {
	line "$1" | grep -Eq '^\+ [A-Za-z0-9+/]+=*$'
}

# The transcript of a GSSAPI exchange up to the server's last challenge:
# greeting, "+ ", the AP-REP and the security-layer offer (RFC 4752).
exchange_ok() {
	line_is 1 "+OK localhost POP3 server ready" &&
	    line_is 2 "+ " && token_line 3 && token_line 4
}

# gss_server ARGS...: the handler behind systemd-socket-activate on a
# free port of 127.0.0.1 (which passes only the variables named by -E).
gss_server() {
	start_server -E KRB5_CONFIG -E ASAN_OPTIONS -E UBSAN_OPTIONS \
	    --hostname=localhost "${GSS[@]}" "$@"
}

# handler_pid NAME: the pid of session NAME's handler process itself,
# below load.bash's timeout() subshell and timeout(1).
handler_pid() {
	local pidv="SESS_PID_$1" p i exe
	exe=$(readlink -f "$HANDLER")
	p=${!pidv}
	for i in 1 2 3 4; do
		if [ "$(readlink "/proc/$p/exe")" = "$exe" ]; then
			echo "$p"
			return 0
		fi
		p=$(pgrep -P "$p" | head -1)
		[ -n "$p" ] || break
	done
	echo "no handler process below ${!pidv}" >&2
	return 1
}

@test "CAPA and AUTH offer GSSAPI only with gssapi-keytab (spec 4.1)" {
	crlf CAPA "AUTH GSSAPI" QUIT | chat "--state-dir=$STATE"
	[ "$status" -eq 0 ]
	nogrep -a GSSAPI "$out"
	grep -q '^-ERR Unsupported authentication mechanism' "$out"
	crlf CAPA QUIT | chat "${GSS[@]}"
	grep -Eq '^SASL( [A-Z0-9-]+)* GSSAPI( [A-Z0-9-]+)*'$'\r''$' "$out"
	crlf CAPA QUIT | chat "${GSS[@]}" --auth-mechanisms=plain
	nogrep -a GSSAPI "$out"
}

@test "GSSAPI: alice@TEST.EXAMPLE logs in as alice; token lines over max-command-length (RFC 4752, RFC 5034)" {
	gss --then STAT --then QUIT
	[ "$status" -eq 0 ]
	exchange_ok
	# The ticket is longer than a command line may be (512 octets).
	[ "$(wc -c <"$T/client.err")" -eq 0 ] || cat "$T/client.err" >&2
	line_is 5 "+OK Logged in, 1 messages (59 octets)"
	line_is 6 "+OK 1 59"
	line_is 7 "+OK Bye"
	[ "$(wc -l <"$out")" -eq 7 ]
	grep -q 'GSSAPI principal alice@TEST.EXAMPLE' "$log"
	grep -q 'event=login user=alice .*mech=gssapi' "$log"
}

@test "GSSAPI: a 48,000-octet token (Windows' MaxTokenSize, a large PAC) reaches Kerberos whole (RFC 5034)" {
	crlf 'AUTH GSSAPI' "$(head -c 48000 /dev/urandom | base64 -w0)" QUIT |
	    chat "${GSS[@]}" --hostname=localhost
	line_is 2 "+ "
	line_is 3 "-ERR [AUTH] Authentication failed"
	line_is 4 "+OK Bye"
}

@test "GSSAPI: an authorisation identity equal to the user is accepted, another one fails (spec 4.1)" {
	gss --authzid=alice --then QUIT
	exchange_ok
	line_is 5 "+OK Logged in, 1 messages (59 octets)"
	gss --authzid=bob --then QUIT
	exchange_ok
	line_is 5 "-ERR [AUTH] Authentication failed"
	line_is 6 "+OK Bye"
	grep -q 'event=login-failed .*mech=gssapi authentication failed: authorization identity differs' "$log"
}

@test "GSSAPI: a principal without a passwd line fails like a wrong password (spec 4.1)" {
	ticket bob
	gss --then QUIT
	exchange_ok
	line_is 5 "-ERR [AUTH] Authentication failed"
	line_is 6 "+OK Bye"
	grep -q 'GSSAPI principal bob@TEST.EXAMPLE' "$log"
	grep -q 'authentication failed: unknown user' "$log"
}

@test "GSSAPI: a principal with an instance (alice/admin) never maps (spec 4.1)" {
	ticket alice/admin
	gss --then QUIT
	exchange_ok
	line_is 5 "-ERR [AUTH] Authentication failed"
	grep -q 'GSSAPI principal alice/admin@TEST.EXAMPLE' "$log"
	grep -q 'authentication failed: principal has more than one component' "$log"
}

@test "GSSAPI: a locked passwd line fails; a {SCRAM-SHA-256} hash field is not locked (spec 4.1)" {
	mkdir -p "$MAILROOT/carol/Maildir/new" "$MAILROOT/dave/Maildir/new"
	printf 'carol:!locked::::%s::\n' "$MAILROOT/carol" >>"$PASSWD"
	printf 'dave:%s::::%s::\n' \
	    "$(gsasl --mkpasswd --mechanism=SCRAM-SHA-256 --password=pw \
	    --iteration-count=4096)" "$MAILROOT/dave" >>"$PASSWD"
	ticket carol
	gss --then QUIT
	exchange_ok
	line_is 5 "-ERR [AUTH] Authentication failed"
	grep -q 'authentication failed: locked account' "$log"
	ticket dave
	gss --then QUIT
	exchange_ok
	line_is 5 "+OK Logged in, 0 messages (0 octets)"
}

@test "GSSAPI: gssapi-realms lists the realms; one not listed fails (spec 4.1)" {
	gss --then QUIT -- --gssapi-realms=OTHER.EXAMPLE
	exchange_ok
	line_is 5 "-ERR [AUTH] Authentication failed"
	grep -q 'authentication failed: realm not in gssapi-realms' "$log"
	gss --then QUIT -- "--gssapi-realms=OTHER.EXAMPLE TEST.EXAMPLE"
	exchange_ok
	line_is 5 "+OK Logged in, 1 messages (59 octets)"
}

@test "GSSAPI: failures count toward max-auth-failures (spec 4)" {
	gss --then QUIT -- --gssapi-realms=OTHER.EXAMPLE --max-auth-failures=1
	[ "$status" -eq 1 ]
	exchange_ok
	line_is 5 "-ERR [AUTH] Authentication failed"
	[ "$(wc -l <"$out")" -eq 5 ]
}

@test "GSSAPI: a replayed authenticator is refused; the replay cache is one file in gssapi-rcache-dir (spec 4.1)" {
	gss --record "$T/token" --then QUIT
	exchange_ok
	line_is 5 "+OK Logged in, 1 messages (59 octets)"
	[ -f "$STATE/rcache/krb5_$(id -u).rcache2" ]
	gss --replay "$T/token" --then QUIT
	line_is 2 "+ "
	line_is 3 "-ERR [AUTH] Authentication failed"
	line_is 4 "+OK Bye"
	grep -q 'authentication failed: Kerberos ticket refused' "$log"
	# Elsewhere with gssapi-rcache-dir; a fresh ticket still works.
	mkdir "$T/rc"
	gss --then QUIT -- --gssapi-rcache-dir="$T/rc"
	line_is 5 "+OK Logged in, 1 messages (59 octets)"
	[ "$(ls "$T/rc")" = "krb5_$(id -u).rcache2" ]
}

@test "GSSAPI: an unreadable keytab or rcache directory is a server fault, logged (spec 4.1)" {
	gss --then QUIT -- --gssapi-keytab="$T/missing.keytab"
	line_is 2 "+ "
	line_is 3 "-ERR [SYS/TEMP] Authentication is unavailable"
	grep -q 'event=error .*cannot open gssapi-keytab' "$log"
	gss --then QUIT -- --gssapi-rcache-dir="$T/no/such/dir"
	line_is 3 "-ERR [SYS/TEMP] Authentication is unavailable"
	grep -q 'cannot create the replay cache directory' "$log"
}

@test "as root: a GSSAPI login becomes the line's uid; the keytab and rcache stay root's (spec 4, 4.1)" {
	[ "$(id -u)" = 0 ] || skip "needs root"
	# bats' temporary directories are 0700: the mail where uid 4242
	# can reach it.
	PRIVROOT=$(mktemp -d /tmp/pop3-gss.XXXXXX)
	chmod 755 "$PRIVROOT"
	MAILROOT=$PRIVROOT
	: >"$PASSWD"
	setup_alice 4242 4242
	putf new 1700000001.M1P1.host \
	    'From: a@example.org\nSubject: one\n\nHello\n.dotline\nbye\n'
	chown -R 4242:4242 "$MAILROOT/alice"
	chmod -R go-rwx "$MAILROOT/alice"
	install -m 600 "$KRB5_KEYTAB" "$T/root.keytab"
	gss --then STAT --then QUIT -- --gssapi-keytab="$T/root.keytab"
	local st=$status owner
	owner=$(stat -c %u "$MD/pop3-handler-uidlist")
	rm -rf "$PRIVROOT"
	[ "$st" -eq 0 ]
	[ "$owner" = 4242 ]
	exchange_ok
	line_is 5 "+OK Logged in, 1 messages (59 octets)"
	line_is 6 "+OK 1 59"
	[ "$(stat -c %u "$STATE/rcache/krb5_0.rcache2")" = 0 ]
}

@test "Kerberos is mapped only once a GSSAPI exchange starts (spec 4.1)" {
	local pid
	sess_start s "${GSS[@]}" --hostname=localhost
	sess_send s "USER alice" "PASS pw"
	sess_wait s 3
	pid=$(handler_pid s)
	[ -n "$pid" ]
	nogrep -E 'libkrb5|libgssapi|libgsasl' "/proc/$pid/maps"
	sess_send s QUIT
	sess_end s
	[ "$status" -eq 0 ]
	# SCRAM loads GNU SASL, still not Kerberos.
	sess_start c "${GSS[@]}"
	sess_send c "AUTH SCRAM-SHA-256"
	sess_wait c 2
	sess_send c "$(printf 'n,,n=alice,r=abcdefghijklmnop' | base64 -w0)"
	sess_wait c 3
	pid=$(handler_pid c)
	grep -q libgsasl "/proc/$pid/maps"
	nogrep -E 'libkrb5|libgssapi_krb5' "/proc/$pid/maps"
	sess_send c '*' QUIT
	sess_end c
	# The control: a GSSAPI token, even a bad one, loads Kerberos.
	sess_start g "${GSS[@]}" --hostname=localhost
	sess_send g "AUTH GSSAPI"
	sess_wait g 2
	sess_send g "YIIBAA=="
	sess_wait g 3
	pid=$(handler_pid g)
	grep -q libkrb5 "/proc/$pid/maps"
	sess_send g QUIT
	sess_end g
}

@test "curl --login-options AUTH=GSSAPI retrieves a message byte for byte" {
	to_crlf "$MD/new/1700000001.M1P1.host" >"$T/want"
	gss_server
	timeout 30 curl -s --login-options AUTH=GSSAPI \
	    -u 'alice@TEST.EXAMPLE:' "pop3://localhost:$PORT/1" >"$T/curl.1"
	cmp "$T/want" "$T/curl.1"
	grep -q 'event=login user=alice .*mech=gssapi' "$T/server.log"
}

@test "curl without a ticket fails; nothing is retrieved" {
	gss_server
	export KRB5CCNAME=FILE:$T/no-ticket
	run timeout 30 curl -s --login-options AUTH=GSSAPI \
	    -u 'alice@TEST.EXAMPLE:' "pop3://localhost:$PORT/1"
	[ "$status" -ne 0 ]
	[ -z "$output" ]
	nogrep 'event=login ' "$T/server.log"
}

# mpop_gss ARGS...: one mpop run with auth gssapi on $PORT, messages to
# $T/mp/N through an MDA.
mpop_gss() {
	command -v mpop >/dev/null || skip "mpop is not installed"
	mpop --version | grep -q 'gssapi' ||
	    skip "mpop is built without GSSAPI"
	store_mda "$T/mda" "$T/mp"
	mpop_rc "$@" <<-EOF
	account default
	host localhost
	port $PORT
	user alice
	auth gssapi
	tls off
	delivery mda $T/mda
	only_new off
	uidls_file $T/mpop-uidls
	EOF
}

# The delivered file ends with the message in LF form (mpop and
# fetchmail put a Received: header in front).
delivered_intact() {
	python3 - "$1" "$MD/$2" <<-'EOF'
	import sys
	g = open(sys.argv[1], 'rb').read().replace(b'\r\n', b'\n')
	w = open(sys.argv[2], 'rb').read()
	assert g.endswith(w), (g[-200:], w)
	EOF
}

@test "mpop --auth=gssapi delivers the message intact" {
	gss_server
	mpop_gss --keep=on
	[ "$(ls "$T/mp" | wc -l)" -eq 1 ]
	delivered_intact "$T/mp/1" cur/1700000001.M1P1.host:2,
	grep -q 'event=login user=alice .*mech=gssapi' "$T/server.log"
}

@test "mpop --auth=gssapi without a ticket fails" {
	gss_server
	export KRB5CCNAME=FILE:$T/no-ticket
	run mpop_gss --keep=on
	[ "$status" -ne 0 ]
	[ ! -e "$T/mp/1" ]
	nogrep 'event=login ' "$T/server.log"
}

@test "fetchmail --auth gssapi delivers the message intact" {
	fetchmail_mda
	gss_server
	HOME=$T FETCHMAILHOME=$T/fmhome timeout 60 fetchmail --nosyslog \
	    -f /dev/null --idfile "$T/fmhome/ids" --protocol pop3 \
	    --service "$PORT" --auth gssapi --user alice --sslproto '' \
	    --mda "$T/mda" --keep --fetchall --norewrite localhost \
	    >"$T/fetchmail.out" 2>&1 || {
		cat "$T/fetchmail.out" >&2
		return 1
	}
	[ "$(ls "$T/fm" | wc -l)" -eq 1 ]
	delivered_intact "$T/fm/1" cur/1700000001.M1P1.host:2,
	grep -q 'event=login user=alice .*mech=gssapi' "$T/server.log"
}
