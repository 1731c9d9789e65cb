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
#   msg_crlf FILE      the message as a client holds it (LF -> CRLF)
#   py_unverified      python: an SSLContext that does not verify

shopt -s lastpipe

GREET='+OK test.example POP3 server ready'
BEGIN_TLS='+OK Begin TLS negotiation'
REFUSED='-ERR [AUTH] Plaintext authentication is disallowed on this connection; use STLS'
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
	python3 -c '
import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()'
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

# wait_port PORT: waits (at most 5 s) until a socket listens on
# 127.0.0.1:PORT (read from /proc/net/tcp: no connection, no iproute2).
wait_port() {
	local i hex
	hex=$(printf '0100007F:%04X' "$1")
	for i in $(seq 1 $((100 * SLOW))); do
		awk -v a="$hex" '$2 == a && $4 == "0A" { f = 1 } END { exit !f }' \
		    /proc/net/tcp && return 0
		sleep 0.05
	done
	echo "nothing listens on 127.0.0.1:$1 after 5 s" >&2
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

# The scripted TLS client of talk().
TLS_TALK='
import codecs, os, socket, ssl, sys, time
a = sys.argv[1:]
opts = {}
while a and a[0].startswith("--"):
    k, _, v = a.pop(0)[2:].partition("=")
    opts[k] = v
port = int(a.pop(0))
outp, tdir = os.environ["out"], os.environ["T"]
got = []
err = open(os.path.join(tdir, "client.err"), "w")
deadline = time.monotonic() + 20 * int(os.environ.get("SLOW", "1"))
def left():
    return max(deadline - time.monotonic(), 0.01)
def ctx():
    if "cafile" in opts:
        c = ssl.create_default_context(cafile=opts["cafile"])
    else:
        c = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        c.check_hostname = False
        c.verify_mode = ssl.CERT_NONE
    if "tls-max" in opts:
        c.minimum_version = ssl.TLSVersion.MINIMUM_SUPPORTED
        c.maximum_version = {"1.0": ssl.TLSVersion.TLSv1,
            "1.1": ssl.TLSVersion.TLSv1_1,
            "1.2": ssl.TLSVersion.TLSv1_2}[opts["tls-max"]]
        c.set_ciphers("DEFAULT@SECLEVEL=0")
    return c
s = socket.create_connection(("127.0.0.1", port), timeout=10)
def finish(rc):
    with open(outp, "wb") as f:
        f.write(b"".join(got))
    err.close()
    sys.exit(rc)
def readline():
    # byte by byte: nothing after the line is taken from the socket
    line = b""
    while not line.endswith(b"\n"):
        s.settimeout(left())
        b = s.recv(1)
        if not b:
            break
        line += b
    got.append(line)
    return line
hello_cache = []
def client_hello():
    if hello_cache:
        return hello_cache[0]
    inb, outb = ssl.MemoryBIO(), ssl.MemoryBIO()
    o = ctx().wrap_bio(inb, outb, server_hostname="localhost")
    try:
        o.do_handshake()
    except ssl.SSLWantReadError:
        pass
    hello_cache.append(outb.read())
    return hello_cache[0]
def handshake():
    global s
    try:
        s.settimeout(left())
        s = ctx().wrap_socket(s, server_hostname="localhost")
    except (ssl.SSLError, OSError) as e:
        err.write("handshake failed: %r\n" % (e,))
        finish(3)
    with open(os.path.join(tdir, "tlsinfo"), "w") as f:
        f.write("%s %s\n" % (s.version(), s.cipher()[0]))
try:
    for st in a:
        if st == "stls":
            s.sendall(b"STLS\r\n")
            while True:
                l = readline()
                if not l:
                    err.write("EOF before the STLS answer\n")
                    finish(5)
                if l.startswith(b"+OK Begin"):
                    break
                if l.startswith(b"-ERR"):
                    err.write("STLS refused\n")
                    break
            else:
                pass
            if l.startswith(b"+OK Begin"):
                handshake()
        elif st == "tls":
            handshake()
        elif st.startswith("hello:"):
            s.sendall(client_hello()[:int(st[6:])])
        elif st.startswith("hello-octet:"):
            i = int(st[12:]) - 1
            s.sendall(client_hello()[i:i + 1])
        elif st.startswith("quiet:"):
            # nothing may arrive for this long (plaintext side)
            s.settimeout(float(st[6:]))
            try:
                b = s.recv(65536, socket.MSG_PEEK)
            except socket.timeout:
                b = None
            if b is not None:
                err.write("unexpected bytes: %r\n" % (b[:200],))
                if b:
                    got.append(s.recv(65536))
                finish(7)
        elif st.startswith("=") and len(st) > 1:
            time.sleep(float(st[1:]))
        elif st.startswith("<") and st[1:].isdigit():
            for _ in range(int(st[1:])):
                if not readline():
                    break
        else:
            s.sendall(codecs.escape_decode(st.encode())[0])
    while True:
        s.settimeout(left())
        b = s.recv(65536)
        if not b:
            break
        got.append(b)
except socket.timeout:
    err.write("client timeout\n")
    finish(4)
except (ssl.SSLError, OSError) as e:
    err.write("client error: %r\n" % (e,))
    finish(6)
finish(0)
'

# talk [OPTS] PORT STEP...: see the header comment; status in $cstatus.
talk() {
	cstatus=0
	out=$out T=$T timeout 30 python3 -W ignore::DeprecationWarning -c "$TLS_TALK" "$@" || cstatus=$?
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
	local p
	for p in $TLS_PIDS $(cat "$T/handler-pids" 2>/dev/null); do
		kill "$p" 2>/dev/null || true
	done
	for p in $TLS_PIDS; do
		wait "$p" 2>/dev/null || true
	done
	TLS_PIDS=
}

teardown() {
	tls_kill_all
	local f
	for f in "$log" "$T"/*.log; do
		[ -f "$f" ] || continue
		if grep -qE 'ERROR: (Address|Leak)Sanitizer|runtime error:' \
		    "$f"; then
			echo "sanitizer report in $f" >&2
			return 1
		fi
	done
}
