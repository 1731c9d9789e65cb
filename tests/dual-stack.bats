#!/usr/bin/env bats
# spec 9: an IPv4 client of a dual-stack IPv6 socket (systemd's
# ListenStream=110 is one) is logged, penalised and matched as a.b.c.d,
# never as ::ffff:a.b.c.d; the same for a PROXY header that carries a
# v4-mapped address.  The listener is an AF_INET6 socket bound to
# ::ffff:127.0.0.1 with IPV6_V6ONLY off, so only 127.0.0.1 reaches it.

load helpers/load
load helpers/proto

setup() {
	common_setup
	add_user alice pw
	command -v systemd-socket-activate >/dev/null ||
	    skip "systemd-socket-activate is not installed"
	[ "$(cat /proc/sys/net/ipv6/bindv6only 2>/dev/null)" = 0 ] ||
	    skip "net.ipv6.bindv6only is not 0"
	[ -e /proc/net/if_inet6 ] || skip "no IPv6 in this kernel"
	SA_PID=
}

teardown() {
	if [ -n "$SA_PID" ]; then
		kill "$SA_PID" 2>/dev/null || true
		wait "$SA_PID" 2>/dev/null || true
	fi
	no_sanitizer_report
}

# serve6 ARGS...: the handler behind systemd-socket-activate on
# [::ffff:127.0.0.1]:$PORT (an AF_INET6 socket); its stderr in $log.
serve6() {
	local tries i
	for tries in 1 2 3; do
		PORT=$(python3 -c 'import socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
		timeout 120 systemd-socket-activate --accept --inetd \
		    -l "[::ffff:127.0.0.1]:$PORT" "$HANDLER" \
		    --passwd-file="$PASSWD" --log=stderr \
		    --hostname=test.example --auth-fail-delay=0 "$@" \
		    2>>"$log" &
		SA_PID=$!
		for i in $(seq 1 100); do
			grep -qF "Listening on [::ffff:127.0.0.1]:$PORT" \
			    "$log" 2>/dev/null && return 0
			sleep 0.05
		done
		kill "$SA_PID" 2>/dev/null || true
		wait "$SA_PID" 2>/dev/null || true
		SA_PID=
	done
	cat "$log" >&2
	return 1
}

# client LINE...: an IPv4 client on 127.0.0.1:$PORT sends the lines and
# reads to EOF; replies in $out.
client() {
	crlf "$@" | timeout 20 socat -t 10 - "TCP4:127.0.0.1:$PORT" >"$out"
}

# wait_log PATTERN: waits (at most 10 s) until $log has PATTERN.
wait_log() {
	local i
	for i in $(seq 1 200); do
		grep -q "$1" "$log" && return 0
		sleep 0.05
	done
	cat "$log" >&2
	return 1
}

@test "IPv4 client on a dual-stack socket: login and logout logged with remote=127.0.0.1 (spec 9)" {
	serve6
	client 'USER alice' 'PASS pw' QUIT
	line_is 3 '+OK Logged in, 0 messages (0 octets)'
	wait_log 'event=logout '
	cat "$log" >&2
	grep -q '^Connection from 127.0.0.1:' "$log" ||
	    grep -q '^Connection from \[::ffff:127.0.0.1\]:' "$log"
	grep -q 'event=login user=alice remote=127.0.0.1 ' "$log"
	grep -q 'event=logout user=alice remote=127.0.0.1 ' "$log"
	! grep -q 'pop3-handler: .*::ffff:' "$log"
}

@test "IPv4 client on a dual-stack socket: a failure names 127.0.0.1, and loopback rules still apply (spec 1, 9)" {
	serve6 --plaintext-auth=tls
	client 'USER alice' 'PASS wrong' QUIT
	line_is 3 '-ERR [AUTH] Authentication failed'
	wait_log 'event=aborted'
	grep -q 'event=login-failed user=alice remote=127.0.0.1 mech=user authentication failed: bad password from 127.0.0.1$' "$log"
	grep -q 'event=aborted remote=127.0.0.1 ' "$log"
	! grep -q 'pop3-handler: .*::ffff:' "$log"
}

@test "PROXY v1 TCP6 with a v4-mapped source: logged as a.b.c.d, penalised together with its TCP4 form (spec 9)" {
	local pen=$T/penalty
	{
		printf 'PROXY TCP6 ::ffff:192.0.2.7 2001:db8::1 40000 110\r\n'
		crlf 'USER alice' 'PASS wrong' QUIT
	} | chat --proxy-protocol=yes --plaintext-auth=always \
	    --penalty-file="$pen" --auth-fail-delay=1
	cat "$log" >&2
	grep -q 'event=login-failed user=alice remote=192.0.2.7 mech=user authentication failed: bad password from 192.0.2.7$' "$log"
	! grep -q '::ffff:' "$log"
	# the same peer as TCP4 waits for that failure (spec 4)
	{
		printf 'PROXY TCP4 192.0.2.7 192.0.2.1 40001 110\r\n'
		crlf 'USER alice' 'PASS pw' QUIT
	} | chat --proxy-protocol=yes --plaintext-auth=always \
	    --penalty-file="$pen" --auth-fail-delay=1
	cat "$log" >&2
	grep -qx 'pop3-handler: penalty: waiting 1 s before the check' "$log"
}

@test "PROXY v2 TCP6 with a v4-mapped source is logged as a.b.c.d (spec 9)" {
	python3 -c '
import socket, struct, sys
src = socket.inet_pton(socket.AF_INET6, "::ffff:198.51.100.4")
dst = socket.inet_pton(socket.AF_INET6, "2001:db8::1")
body = src + dst + struct.pack("!HH", 40000, 110)
sig = b"\r\n\r\n\x00\r\nQUIT\n"
sys.stdout.buffer.write(sig + b"\x21\x21" + struct.pack("!H", len(body)) + body + b"QUIT\r\n")
' | chat --proxy-protocol=yes
	cat "$log" >&2
	[ "$status" -eq 0 ]
	grep -qx 'pop3-handler: event=aborted remote=198.51.100.4 aborted login: reason=quit attempts=0 tls=no' "$log"
}
