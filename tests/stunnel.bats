#!/usr/bin/env bats
# spec 1 secured, spec 8, spec 10 units/stunnel-pop3s.conf: the handler
# behind stunnel4 (Debian), (a) exec mode: stunnel starts the handler per
# connection, (b) connect mode: stunnel forwards to a handler listener,
# (c) stunnel as a STARTTLS client (protocol = pop3) in front of STLS.
# Fetches with curl and poplib, compared byte-exact with the Maildir.

load helpers/load
load helpers/tls

setup_file() {
	tls_setup_file
}

setup() {
	common_setup
	command -v stunnel4 >/dev/null || skip "stunnel4 is not installed"
}

# stunnel_start SERVICE-LINES...: stunnel4 in the foreground on a free
# 127.0.0.1 port ($SPORT) with the given service lines; its log and
# (exec mode) the handler's stderr go to $T/stunnel.log.
stunnel_start() {
	local tries
	for tries in 1 2 3; do
		SPORT=$(tls_port)
		{
			printf 'foreground = yes\npid =\ndebug = 5\n'
			printf '[pop3s]\naccept = 127.0.0.1:%s\n' "$SPORT"
			printf '%s\n' "$@"
		} >"$T/stunnel.conf"
		timeout 120 stunnel4 "$T/stunnel.conf" 2>>"$T/stunnel.log" &
		TLS_PIDS="$TLS_PIDS $!"
		if wait_port "$SPORT"; then
			return 0
		fi
	done
	cat "$T/stunnel.log" >&2
	return 1
}

# exec_lines HANDLER-ARGS...: service lines for exec mode, the handler
# under timeout.
exec_lines() {
	EXEC=("cert = $CERT" "key = $KEY" 'exec = /usr/bin/timeout'
	    "execArgs = timeout 30 $HANDLER --passwd-file=$PASSWD --log=stderr --hostname=test.example --auth-fail-delay=0 $*")
}

# ---- (a) exec mode -----------------------------------------------------

@test "stunnel exec mode, secured=yes: curl -k pop3s:// fetches both messages byte-exact (spec 1, 8, 10)" {
	alice_with_mail
	exec_lines --secured=yes --plaintext-auth=never
	stunnel_start "${EXEC[@]}"
	fetch "$T/got1" -k "pop3s://127.0.0.1:$SPORT/1" -u alice:pw
	fetch "$T/got2" -k "pop3s://127.0.0.1:$SPORT/2" -u alice:pw
	same_file "$T/msg1.crlf" "$T/got1"
	same_file "$T/msg2.crlf" "$T/got2"
	[ "$(grep -c 'event=login ' "$T/stunnel.log")" -eq 2 ]
}

@test "stunnel exec mode, secured=yes, plaintext-auth=never: CAPA has USER and SASL PLAIN, no STLS; login works (spec 1, 3)" {
	add_user alice pw
	exec_lines --secured=yes --plaintext-auth=never
	stunnel_start "${EXEC[@]}"
	pop3ssl "$SPORT" alice pw
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = "$GREET" ]
	[ "${lines[1]}" = 'AUTH-RESP-CODE EXPIRE IMPLEMENTATION PIPELINING RESP-CODES SASL TOP UIDL USER' ]
	[ "${lines[2]}" = '(0, 0)' ]
	[ "${lines[3]}" = '+OK Bye' ]
}

@test "stunnel exec mode without secured=yes, plaintext-auth=never: the handler cannot see stunnel's TLS, refuses (spec 1)" {
	add_user alice pw
	exec_lines --plaintext-auth=never
	stunnel_start "${EXEC[@]}"
	pop3ssl "$SPORT" alice pw
	[ "$status" -eq 0 ]
	[ "${lines[1]}" = 'AUTH-RESP-CODE EXPIRE IMPLEMENTATION PIPELINING RESP-CODES SASL TOP UIDL' ]
	[ "${lines[2]}" = "$REFUSED" ]
	! grep -q 'event=login ' "$T/stunnel.log"
}

# ---- (b) connect mode ----------------------------------------------------

@test "stunnel connect mode to a socket-activated handler, secured=yes: curl -k pop3s:// byte-exact (spec 1, 8, 10)" {
	alice_with_mail
	serve --secured=yes --plaintext-auth=never
	stunnel_start "cert = $CERT" "key = $KEY" "connect = 127.0.0.1:$PORT"
	fetch "$T/got1" -k "pop3s://127.0.0.1:$SPORT/1" -u alice:pw
	fetch "$T/got2" -k "pop3s://127.0.0.1:$SPORT/2" -u alice:pw
	same_file "$T/msg1.crlf" "$T/got1"
	same_file "$T/msg2.crlf" "$T/got2"
	wait_exits 2
	[ "$(exit_status 1)" -eq 0 ]
	[ "$(exit_status 2)" -eq 0 ]
	[ "$(grep -c 'event=login ' "$log")" -eq 2 ]
}

@test "stunnel connect mode, secured=yes: poplib sees USER, SASL PLAIN, no STLS (spec 1, 3)" {
	add_user alice pw
	serve --secured=yes --plaintext-auth=never
	stunnel_start "cert = $CERT" "key = $KEY" "connect = 127.0.0.1:$PORT"
	pop3ssl "$SPORT" alice pw
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = "$GREET" ]
	[ "${lines[1]}" = 'AUTH-RESP-CODE EXPIRE IMPLEMENTATION PIPELINING RESP-CODES SASL TOP UIDL USER' ]
	[ "${lines[2]}" = '(0, 0)' ]
}

@test "stunnel connect mode with PROXY v1 (protocol = proxy): the real client is logged, secured allows login (spec 1, 9)" {
	add_user alice pw
	serve --secured=yes --plaintext-auth=never --proxy-protocol=yes
	stunnel_start "cert = $CERT" "key = $KEY" "connect = 127.0.0.1:$PORT" \
	    'protocol = proxy'
	pop3ssl "$SPORT" alice pw
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = "$GREET" ]
	[ "${lines[2]}" = '(0, 0)' ]
	exited_ok 1
	grep 'event=login ' "$log" | grep -q 'remote=127.0.0.1'
}

# ---- (c) stunnel as the STARTTLS client -----------------------------------

@test "stunnel client (protocol = pop3) does STLS to the handler: plaintext curl through it, byte-exact, tls= logged (spec 8)" {
	alice_with_mail
	serve --tls-cert="$CERT" --tls-key="$KEY" --plaintext-auth=never
	stunnel_start 'client = yes' "connect = 127.0.0.1:$PORT" \
	    'protocol = pop3' 'verifyChain = no'
	fetch "$T/got1" "pop3://127.0.0.1:$SPORT/1" -u alice:pw
	same_file "$T/msg1.crlf" "$T/got1"
	exited_ok 1
	grep 'event=login ' "$log" | grep -q 'tls=TLSv1'
}

# ---- (d) the shipped example: the real client address arrives -------------

POP3SSL_FROM='
import poplib, socket, ssl, sys
port, src, user, pw = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
c = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
c.check_hostname = False
c.verify_mode = ssl.CERT_NONE
s = socket.create_connection(("127.0.0.1", port), timeout=10,
    source_address=(src, 0))
p = poplib.POP3_SSL.__new__(poplib.POP3_SSL)
p.host, p.port, p._tls_established = "127.0.0.1", port, False
p.encoding = "UTF-8"
p.sock = c.wrap_socket(s)
p.file = p.sock.makefile("rb")
p._debugging = 0
p.welcome = p._getresp()
p.user(user)
p.pass_(pw)
print(p.stat())
print(p.quit().decode())
'

@test "units/stunnel-pop3s.conf (connect, protocol = proxy): a client from 127.0.0.2 is logged as remote=127.0.0.2 (spec 9, 10)" {
	add_user alice pw
	# the handler as pop3-proxy@.service runs it
	serve --plaintext-auth=never --proxy-protocol=yes --secured=yes
	local lines
	mapfile -t lines < <(sed -e '/^;/d' -e '/^$/d' \
	    -e '/^setuid/d' -e '/^setgid/d' -e '/^foreground/d' -e '/^pid/d' \
	    -e '/^\[pop3s\]/d' -e '/^accept/d' \
	    -e "s|^cert = .*|cert = $CERT|" -e "s|^key = .*|key = $KEY|" \
	    -e "s|^connect = .*|connect = 127.0.0.1:$PORT|" \
	    "$TOP/units/stunnel-pop3s.conf")
	printf '%s\n' "${lines[@]}" >&2
	[[ " ${lines[*]} " == *' protocol = proxy '* ]]
	stunnel_start "${lines[@]}"
	run timeout 20 python3 -c "$POP3SSL_FROM" "$SPORT" 127.0.0.2 alice pw
	echo "$output" >&2
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = '(0, 0)' ]
	[ "${lines[1]}" = '+OK Bye' ]
	wait_exits 1
	cat "$log" >&2
	grep -q 'event=login user=alice remote=127.0.0.2 ' "$log"
	grep -q 'event=logout user=alice remote=127.0.0.2 ' "$log"
}

@test "stunnel connect mode without the PROXY header: the same client is only 127.0.0.1 (why the example sends it) (spec 9)" {
	add_user alice pw
	serve --plaintext-auth=never --secured=yes
	stunnel_start "cert = $CERT" "key = $KEY" "connect = 127.0.0.1:$PORT"
	run timeout 20 python3 -c "$POP3SSL_FROM" "$SPORT" 127.0.0.2 alice pw
	[ "$status" -eq 0 ]
	wait_exits 1
	grep -q 'event=login user=alice remote=127.0.0.1 ' "$log"
}
