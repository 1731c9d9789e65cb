# TLS helpers for stls.bats, implicit-tls.bats, tls-policy.bats and
# stunnel.bats (spec 8, 9).  Load after helpers/load:
#
#	load helpers/load
#	load helpers/tls
#
#   tls_setup_file     (from setup_file) a throwaway self-signed EC P-256
#                      certificate for CN=localhost in $BATS_FILE_TMPDIR:
#                      $CERT $KEY; also $OTHERKEY (a key of no certificate)
#   tls_make_chain     root -> intermediate -> leaf under $BATS_FILE_TMPDIR:
#                      $ROOT (trust anchor), $CHAIN (leaf + intermediate),
#                      $LEAFKEY
#   serve ARGS...      the handler behind systemd-socket-activate --accept --inetd on
#                      a free 127.0.0.1 port ($PORT); each connection runs
#                      the handler under timeout through a wrapper that
#                      records "status milliseconds" in $T/exits; the
#                      handler's stderr goes to $log.  Defaults added:
#                      --passwd-file --log=stderr --hostname=test.example
#                      --auth-fail-delay=0 (ARGS come later and win)
#   wait_exits N       waits (at most 15 s) for N handler exits
#   exit_status K      status of the K-th handler exit; exit_ms K its time
#   talk [OPTS] PORT STEP...
#                      scripted client on 127.0.0.1:PORT (python ssl);
#                      every byte the handler sent, before and after TLS,
#                      lands in $out; client errors in $T/client.err;
#                      negotiated "version cipher" in $T/tlsinfo.
#                      Steps: "stls" sends STLS, reads lines up to the
#                      "+OK Begin TLS negotiation" line and does the
#                      handshake; "tls" does the handshake now (implicit
#                      TLS); "=0.3" sleeps; "<N" reads N lines; anything
#                      else is sent after Python escapes (\r \n \x00);
#                      "hello:N" sends the first N octets of a real
#                      ClientHello, "hello-octet:I" its I-th octet
#                      (1-based, one ClientHello per run); "quiet:S" fails (status 7) if any
#                      octet arrives within S seconds.
#                      At the end: read to EOF (at most 10 s).
#                      Exit status: 0, 3 when a handshake failed, 4 on a
#                      client timeout.  Options: --tls-max=1.1 caps the
#                      client's version; --cafile=F verifies against F
#                      (host name localhost)
#   talk_ok            the last talk ended with status 0; else its
#                      client errors go to stderr and it fails
#   exited_ok K        waits for K handler exits; the K-th exited 0
#   exit_between K STATUS MIN MAX
#                      the K-th handler exit had STATUS after MIN..MAX-1 ms
#   login_event_tls    one event=login line for alice, with the client's
#                      TLS protocol and cipher; left in $T/ev
#   handshake_refused  the first handler exited 1 within 5 s, and logged
#                      event=error about the handshake
#   pop3ssl PORT USER PASS [DST]
#                      poplib over implicit TLS (tests/helpers/pop3ssl.py)
#                      under bats' run: $status, $lines
#   msg_crlf FILE      the message as a client holds it (LF -> CRLF)
#   py_unverified      python: an SSLContext that does not verify

shopt -s lastpipe

BEGIN_TLS='+OK Begin TLS negotiation'
CAPA_HEAD=('+OK Capability list follows' TOP UIDL RESP-CODES AUTH-RESP-CODE
    PIPELINING 'EXPIRE NEVER')
CAPA_TAIL=('IMPLEMENTATION pop3-handler' .)

tls_setup_file() {
	local d=$BATS_FILE_TMPDIR
	CERT=$d/cert.pem
	KEY=$d/key.pem
	OTHERKEY=$d/other-key.pem
	export CERT KEY OTHERKEY
	if [ ! -s "$CERT" ]; then
		openssl req -x509 -newkey ec \
		    -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
		    -subj /CN=localhost -addext subjectAltName=DNS:localhost \
		    -keyout "$KEY" -out "$CERT" 2>/dev/null
		openssl genpkey -algorithm EC \
		    -pkeyopt ec_paramgen_curve:prime256v1 \
		    -out "$OTHERKEY" 2>/dev/null
	fi
	[ -s "$CERT" ] && [ -s "$KEY" ] && [ -s "$OTHERKEY" ]
}

tls_make_chain() {
	local d=$BATS_FILE_TMPDIR/chain ec=(-newkey ec
	    -pkeyopt ec_paramgen_curve:prime256v1 -nodes)
	ROOT=$d/root.pem
	CHAIN=$d/chain.pem
	LEAFKEY=$d/leaf-key.pem
	export ROOT CHAIN LEAFKEY
	[ ! -s "$CHAIN" ] || return 0
	mkdir -p "$d"
	printf 'basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n' \
	    >"$d/ca.ext"
	printf 'basicConstraints=CA:FALSE\nsubjectAltName=DNS:localhost\nextendedKeyUsage=serverAuth\n' \
	    >"$d/leaf.ext"
	openssl req -x509 "${ec[@]}" -days 2 -subj /CN=test-root \
	    -addext basicConstraints=critical,CA:TRUE \
	    -addext keyUsage=critical,keyCertSign,cRLSign \
	    -keyout "$d/root-key.pem" -out "$ROOT" 2>/dev/null
	openssl req -new "${ec[@]}" -subj /CN=test-intermediate \
	    -keyout "$d/int-key.pem" -out "$d/int.csr" 2>/dev/null
	openssl x509 -req -in "$d/int.csr" -CA "$ROOT" \
	    -CAkey "$d/root-key.pem" -CAcreateserial -days 2 \
	    -extfile "$d/ca.ext" -out "$d/int.pem" 2>/dev/null
	openssl req -new "${ec[@]}" -subj /CN=localhost \
	    -keyout "$LEAFKEY" -out "$d/leaf.csr" 2>/dev/null
	openssl x509 -req -in "$d/leaf.csr" -CA "$d/int.pem" \
	    -CAkey "$d/int-key.pem" -CAcreateserial -days 2 \
	    -extfile "$d/leaf.ext" -out "$d/leaf.pem" 2>/dev/null
	cat "$d/leaf.pem" "$d/int.pem" >"$CHAIN"
	[ -s "$CHAIN" ]
}

# tls_port: a TCP port on 127.0.0.1 that was free a moment ago.
tls_port() {
	free_port
}

# wait_listen FILE PORT: waits (at most 5 s) until FILE says the
# listener on PORT is up; no probe connection is made.
wait_listen() {
	local i
	for i in $(seq 1 $((100 * SLOW))); do
		grep -q "Listening on 127.0.0.1:$2" "$1" 2>/dev/null && return 0
		sleep 0.05
	done
	echo "no listener on 127.0.0.1:$2 after 5 s" >&2
	cat "$1" >&2
	return 1
}

TLS_PIDS=

# serve ARGS...: see the header comment.
serve() {
	local w tries
	: >>"$T/exits"
	: >>"$T/handler-pids"
	w=$T/wrap.sh
	# The wrapper: one handler under timeout, its status recorded; the
	# wrapper gives up its copy of the socket so that the handler's
	# close is the client's EOF.
	{
		printf '#!/bin/sh\n'
		printf 'export ASAN_OPTIONS=%q UBSAN_OPTIONS=%q\n' \
		    "$ASAN_OPTIONS" "$UBSAN_OPTIONS"
		printf 't0=$(date +%%s%%N)\n'
		printf 'exec 3<&0\n'
		printf 'timeout %d %q "$@" <&3 3<&- &\n' $((30 * SLOW)) "$HANDLER"
		printf 'c=$!\n'
		printf 'echo "$c" >>%q\n' "$T/handler-pids"
		printf 'exec 3<&- 0</dev/null 1>/dev/null\n'
		printf 'wait "$c"\nst=$?\n'
		printf 't1=$(date +%%s%%N)\n'
		printf 'echo "$st $(( (t1 - t0) / 1000000 ))" >>%q\n' \
		    "$T/exits"
		printf 'exit "$st"\n'
	} >"$w"
	chmod +x "$w"
	for tries in 1 2 3; do
		PORT=$(tls_port)
		timeout $((120 * SLOW)) systemd-socket-activate --accept --inetd \
		    -l "127.0.0.1:$PORT" "$w" --passwd-file="$PASSWD" \
		    --log=stderr --hostname=test.example --auth-fail-delay=0 \
		    "$@" 2>>"$log" &
		TLS_PIDS="$TLS_PIDS $!"
		if wait_listen "$log" "$PORT"; then
			return 0
		fi
	done
	return 1
}

# wait_exits N: waits (at most 15 s) until N handlers have exited.
wait_exits() {
	local i
	for i in $(seq 1 $((300 * SLOW))); do
		[ "$(wc -l <"$T/exits")" -lt "$1" ] || return 0
		sleep 0.05
	done
	echo "fewer than $1 handler exits after $((15 * SLOW)) s:" >&2
	cat "$T/exits" >&2
	return 1
}

exit_status() {
	sed -n "${1}p" "$T/exits" | cut -d' ' -f1
}

exit_ms() {
	sed -n "${1}p" "$T/exits" | cut -d' ' -f2
}

# talk [OPTS] PORT STEP...: see the header comment; status in $cstatus.
# The client is tests/helpers/tls-talk.py.
talk() {
	cstatus=0
	out=$out T=$T timeout 30 python3 -W ignore::DeprecationWarning \
	    "$TOP/tests/helpers/tls-talk.py" "$@" || cstatus=$?
}

# talk_ok: the last talk ended with status 0; else shows why and fails.
talk_ok() {
	[ "$cstatus" -eq 0 ] && return 0
	echo "talk: client status $cstatus" >&2
	cat "$T/client.err" >&2
	return 1
}

# exited_ok K: waits for K handler exits; the K-th exited with status 0.
exited_ok() {
	wait_exits "$1"
	[ "$(exit_status "$1")" -eq 0 ] && return 0
	echo "handler exit $1: status $(exit_status "$1"), want 0" >&2
	return 1
}

# exit_between K STATUS MIN MAX: waits for K handler exits; the K-th
# exited with STATUS, MIN to MAX-1 milliseconds after its start.
exit_between() {
	wait_exits "$1"
	[ "$(exit_status "$1")" -eq "$2" ]
	[ "$(exit_ms "$1")" -ge "$3" ]
	[ "$(exit_ms "$1")" -lt "$4" ]
}

# login_event_tls: the handler logged exactly one event=login line, for
# alice, with the protocol and cipher the client saw ($T/tlsinfo); the
# line is left in $T/ev.
login_event_tls() {
	local version cipher
	wait_exits 1
	read -r version cipher <"$T/tlsinfo"
	grep 'event=login ' "$log" >"$T/ev"
	cat "$T/ev" >&2
	[ "$(wc -l <"$T/ev")" -eq 1 ]
	grep -q "user=alice" "$T/ev"
	grep -q "tls=$version" "$T/ev"
	grep -q "$cipher" "$T/ev"
}

# handshake_refused: the first handler exited 1 within 5 s of its start
# and logged an event=error line about the handshake.
handshake_refused() {
	wait_exits 1
	[ "$(exit_status 1)" -eq 1 ]
	[ "$(exit_ms 1)" -lt 5000 ]
	grep 'event=error' "$log" | grep -qi 'handshake'
}

# pop3ssl PORT USER PASS [DST]: bats' run of tests/helpers/pop3ssl.py
# (poplib over implicit TLS: greeting, CAPA, login, RETR 1 into DST or
# STAT, QUIT) under timeout; its lines in $lines, also on stderr.
pop3ssl() {
	run timeout 20 python3 "$TOP/tests/helpers/pop3ssl.py" "$@"
	echo "$output" >&2
}

# msg_crlf FILE: the message as the client holds it after RETR.
msg_crlf() {
	to_crlf "$1"
}

# alice_with_mail: user alice (password pw) with two messages in new/;
# $MSG1 and $MSG2 are their files after login moves them to cur/ (use
# $MSG1_SRC / $MSG2_SRC, copies taken before the session).
alice_with_mail() {
	add_user alice pw
	mkmsg alice new 1700000001.M1P1.host 'From: bob@example.org' \
	    'Subject: one' '' 'first message' '.leading dot' 'last line'
	mkmsg alice new 1700000002.M2P2.host 'From: carol@example.org' \
	    'Subject: two' '' 'second message'
	MSG1_SRC=$T/msg1.src
	MSG2_SRC=$T/msg2.src
	cp "$(maildir alice)/new/1700000001.M1P1.host" "$MSG1_SRC"
	cp "$(maildir alice)/new/1700000002.M2P2.host" "$MSG2_SRC"
	msg_crlf "$MSG1_SRC" >"$T/msg1.crlf"
	msg_crlf "$MSG2_SRC" >"$T/msg2.crlf"
}

# stuffed FILE: a CRLF message dot-stuffed, as RETR sends it.
stuffed() {
	python3 -c '
import sys
d = open(sys.argv[1], "rb").read()
sys.stdout.buffer.write(b"\r\n".join(
    (b"." + l if l.startswith(b".") else l) for l in d.split(b"\r\n")))
' "$1"
}

# retr_reply FILE: the whole RETR answer for the CRLF message FILE.
retr_reply() {
	crlf "+OK $(wc -c <"$1") octets"
	stuffed "$1"
	crlf .
}

# logged_in: the login reply for alice_with_mail.
logged_in() {
	local a b
	a=$(wc -c <"$T/msg1.crlf")
	b=$(wc -c <"$T/msg2.crlf")
	printf '+OK Logged in, 2 messages (%s octets)' $((a + b))
}

# fetch OUT CURL-ARGS...: curl to OUT under timeout; on failure the end
# of its trace goes to stderr.
fetch() {
	local dst=$1 rc=0
	shift
	timeout 15 curl -sS --trace-ascii "$dst.trace" -o "$dst" "$@" || rc=$?
	if [ "$rc" -ne 0 ]; then
		echo "curl $* failed with status $rc" >&2
		tail -40 "$dst.trace" >&2
		return 1
	fi
}

# same_file A B: byte-exact, with a diff when not.
same_file() {
	if ! cmp -s "$1" "$2"; then
		diff <(od -An -c "$1") <(od -An -c "$2") | head -40 >&2
		return 1
	fi
}

# capa_lines [USER] [STLS] [TLS]: the exact CAPA list in AUTHORIZATION;
# TLS: under the handler's own TLS (-PLUS in the SASL line).
capa_lines() {
	local w sasl=("${SASL_NOPLAIN[@]}") user=() stls=()
	for w in "$@"; do
		case $w in
		USER) user=(USER) ;;
		STLS) stls=(STLS) ;;
		esac
	done
	if [ ${#user[@]} -gt 0 ]; then
		sasl=("$SASL_LINE")
		case " $* " in *" TLS "*) sasl=("$SASL_TLS_LINE") ;; esac
	fi
	CAPA=("${CAPA_HEAD[@]}" "${user[@]}" "${sasl[@]}" "${stls[@]}"
	    "${CAPA_TAIL[@]}")
}

# tls_kill_all: ends every process this test started (by PID).
tls_kill_all() {
	# shellcheck disable=SC2046
	end_pids $TLS_PIDS $(cat "$T/handler-pids" 2>/dev/null)
	TLS_PIDS=
}

teardown() {
	tls_kill_all
	no_sanitizer_report "$log" "$T"/*.log
}
