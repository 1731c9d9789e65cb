#!/usr/bin/env bats
# Scaling out behind HAProxy (spec 9; doc/deploy.md 8): Debian's real haproxy on
# 127.0.0.1 (mode tcp, send-proxy-v2, round robin) in front of two
# handler listeners with proxy-protocol = yes, standing for two hosts
# that serve one Maildir tree.  Logins work through both, the log names
# the original client, and the plaintext rule sees the original address.

load helpers/load
load helpers/cluster

GREETA='+OK hosta POP3 server ready'
GREETB='+OK hostb POP3 server ready'

# haproxy_start: frontends on $PORT_FE (clients as they are) and
# $PORT_FE_REMOTE (the client source rewritten to 192.0.2.99, a remote
# address, before HAProxy announces it), both balancing over hosta and
# hostb with PROXY v2 headers.
haproxy_start() {
	command -v haproxy >/dev/null || skip "haproxy not installed"
	PORT_FE=$(free_port)
	PORT_FE_REMOTE=$(free_port)
	cat >"$T/haproxy.cfg" <<-EOF
	global
	    maxconn 200
	defaults
	    mode tcp
	    timeout connect 5s
	    timeout client 30s
	    timeout server 30s
	frontend pop3
	    bind 127.0.0.1:$PORT_FE
	    default_backend hosts
	frontend pop3_remote
	    bind 127.0.0.1:$PORT_FE_REMOTE
	    tcp-request connection set-src ipv4(192.0.2.99)
	    default_backend hosts
	backend hosts
	    balance roundrobin
	    server hosta 127.0.0.1:$PORT_hosta send-proxy-v2
	    server hostb 127.0.0.1:$PORT_hostb send-proxy-v2
	EOF
	haproxy -c -f "$T/haproxy.cfg" >"$T/haproxy.check" 2>&1 || {
		cat "$T/haproxy.check" >&2; return 1; }
	timeout 120 haproxy -f "$T/haproxy.cfg" -db >"$T/haproxy.out" 2>&1 &
	HAPROXY_PID=$!
	for _ in $(seq 1 $((100 * SLOW))); do
		listening "$PORT_FE" && listening "$PORT_FE_REMOTE" && return 0
		sleep 0.05
	done
	cat "$T/haproxy.out" >&2
	return 1
}

# listening PORT: something listens on 127.0.0.1:PORT (/proc/net/tcp).
listening() {
	awk -v a="$(printf '0100007F:%04X' "$1")" \
	    '$2 == a && $4 == "0A" { f = 1 } END { exit !f }' /proc/net/tcp
}

# two_hosts ARGS...: hosta and hostb behind haproxy, one Maildir tree.
two_hosts() {
	add_user alice s3cret
	mkmsg alice new 1700000001.M1P1.host 'Subject: one' '' 'body one'
	mkmsg alice new 1700000002.M2P1.host 'Subject: two' '' 'body two'
	host_listen hosta --proxy-protocol=yes "$@"
	host_listen hostb --proxy-protocol=yes "$@"
	haproxy_start
}

teardown() {
	# shellcheck disable=SC2086
	end_pids ${HAPROXY_PID:-}
	cluster_stop
	no_sanitizer_report "$T"/*.log
}

@test "logins through haproxy reach both hosts, which serve one Maildir alike (spec 9, 5, 6)" {
	two_hosts
	local i
	for i in 1 2 3 4; do
		popc -s 127.0.0.7 "$PORT_FE" 'USER alice' 'PASS s3cret' STAT \
		    UIDL QUIT
		cp "$out" "$T/s$i"
		line 1 >>"$T/greetings"
		sed -n '2,$p' "$out" >"$T/rest$i"
	done
	# Round robin: both hosts answered, alternately.
	[ "$(grep -cx "$GREETA" "$T/greetings")" -eq 2 ]
	[ "$(grep -cx "$GREETB" "$T/greetings")" -eq 2 ]
	# Both hosts show the same snapshot and the same UIDLs.
	out=$T/s1
	line_is 3 '+OK Logged in, 2 messages (52 octets)'
	line_is 4 '+OK 2 52'
	for i in 2 3 4; do
		cmp "$T/rest1" "$T/rest$i"
	done
	wait_host_exits hosta 2
	wait_host_exits hostb 2
	[ "$(sort -u "$T/hosta.exits" "$T/hostb.exits")" = 0 ]
}

@test "the log names the original client, not haproxy (spec 9)" {
	two_hosts
	popc -s 127.0.0.7 "$PORT_FE" 'USER alice' 'PASS s3cret' QUIT
	popc -s 127.0.0.8 "$PORT_FE" 'USER alice' 'PASS s3cret' QUIT
	wait_host_exits hosta 1
	wait_host_exits hostb 1
	# One login on each host (round robin), each under its client.
	grep -q 'event=login user=alice remote=127.0.0.[78] ' "$T/hosta.log"
	grep -q 'event=login user=alice remote=127.0.0.[78] ' "$T/hostb.log"
	cat "$T/hosta.log" "$T/hostb.log" >"$T/both"
	grep -q 'event=login user=alice remote=127.0.0.7 ' "$T/both"
	grep -q 'event=login user=alice remote=127.0.0.8 ' "$T/both"
	! grep -q 'remote=127.0.0.1 ' "$T/both" || false
}

@test "the plaintext rule applies to the original address (spec 9, 4)" {
	two_hosts
	# From a remote address (as HAProxy announces it): refused on both.
	popc "$PORT_FE_REMOTE" 'USER alice' QUIT
	expect_bytes "$GREETA" "$REFUSED" '+OK Bye'
	popc "$PORT_FE_REMOTE" CAPA 'USER alice' QUIT
	line_is 1 "$GREETB"
	! grep -q '^USER' "$out" || false
	grep -qxF -e "$REFUSED"$'\r' "$out"
	# The same hosts let a loopback client log in.
	popc -s 127.0.0.7 "$PORT_FE" 'USER alice' 'PASS s3cret' QUIT
	line_is 3 '+OK Logged in, 2 messages (52 octets)'
	# And with plaintext-auth = always the remote one logs in, logged
	# with its own address.
	cluster_stop
	kill "$HAPROXY_PID" 2>/dev/null || true
	wait "$HAPROXY_PID" 2>/dev/null || true
	host_listen hosta --proxy-protocol=yes --plaintext-auth=always
	host_listen hostb --proxy-protocol=yes --plaintext-auth=always
	haproxy_start
	popc "$PORT_FE_REMOTE" 'USER alice' 'PASS s3cret' QUIT
	line_is 3 '+OK Logged in, 2 messages (52 octets)'
	wait_host_exits hosta 1
	grep -q 'event=login user=alice remote=192.0.2.99 ' "$T/hosta.log"
}

@test "a connection to a host without the PROXY header gets no reply (spec 9)" {
	two_hosts
	popc "$PORT_hosta" 'USER alice' 'PASS s3cret' QUIT
	[ ! -s "$out" ]
	wait_host_exits hosta 1
	[ "$(cat "$T/hosta.exits")" = 1 ]
	grep -q 'PROXY header: no PROXY header' "$T/hosta.log"
}
