# Helpers for the scale-out tests (haproxy.bats, shared-storage.bats):
# handler listeners standing for hosts that serve one Maildir tree, and a
# plain POP3 client.  Load after helpers/load.
#
#   host_listen NAME ARGS...  systemd-socket-activate --accept --inetd on a
#                       free 127.0.0.1 port ($PORT_<NAME>); each connection
#                       runs the handler under timeout with --hostname=NAME
#                       and ARGS; its log goes to $T/NAME.log, its exit
#                       status to $T/NAME.exits.  As root the listener runs
#                       in its own UTS namespace whose host name is NAME,
#                       so lock and temp file names differ as they would
#                       between two hosts.
#   host_exits NAME     number of handler exits of NAME so far
#   popc [-s SRC] PORT LINE...
#                       connects to 127.0.0.1:PORT (from SRC when given),
#                       sends the lines (CRLF) in one write, reads until
#                       the server closes; raw bytes in $out
#   cluster_stop        ends every process this file started, by PID

CLUSTER_PIDS=

host_listen() {
	local name=$1 w port tries pv
	shift
	w=$T/wrap-$name.sh
	: >"$T/$name.exits"
	: >>"$T/handler-pids"
	{
		printf '#!/bin/sh\n'
		printf 'export ASAN_OPTIONS=%q UBSAN_OPTIONS=%q\n' \
		    "$ASAN_OPTIONS" "$UBSAN_OPTIONS"
		printf 'exec 3<&0\n'
		printf 'timeout %d %q "$@" <&3 3<&- &\n' $((60 * SLOW)) "$HANDLER"
		printf 'c=$!\n'
		printf 'echo "$c" >>%q\n' "$T/handler-pids"
		printf 'exec 3<&- 0</dev/null 1>/dev/null\n'
		printf 'wait "$c"\nst=$?\n'
		printf 'echo "$st" >>%q\n' "$T/$name.exits"
		printf 'exit "$st"\n'
	} >"$w"
	chmod +x "$w"
	for tries in 1 2 3; do
		port=$(python3 -c '
import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()')
		if [ "$(id -u)" = 0 ] && command -v unshare >/dev/null; then
			timeout 300 unshare --uts sh -c \
			    'hostname "$0" && exec "$@"' "$name" \
			    systemd-socket-activate --accept --inetd \
			    -l "127.0.0.1:$port" "$w" --passwd-file="$PASSWD" \
			    --log=stderr --hostname="$name" --auth-fail-delay=0 \
			    "$@" 2>>"$T/$name.log" &
		else
			timeout 300 systemd-socket-activate --accept --inetd \
			    -l "127.0.0.1:$port" "$w" --passwd-file="$PASSWD" \
			    --log=stderr --hostname="$name" --auth-fail-delay=0 \
			    "$@" 2>>"$T/$name.log" &
		fi
		CLUSTER_PIDS="$CLUSTER_PIDS $!"
		pv=PORT_$name
		printf -v "$pv" '%s' "$port"
		for _ in $(seq 1 $((100 * SLOW))); do
			grep -q "Listening on 127.0.0.1:$port" "$T/$name.log" \
			    2>/dev/null && return 0
			sleep 0.05
		done
	done
	echo "listener $name did not start" >&2
	cat "$T/$name.log" >&2
	return 1
}

host_exits() {
	wc -l <"$T/$1.exits"
}

# wait_host_exits NAME N: waits (at most 15 s) for N exits of NAME.
wait_host_exits() {
	local i
	for i in $(seq 1 $((300 * SLOW))); do
		[ "$(host_exits "$1")" -lt "$2" ] || return 0
		sleep 0.05
	done
	echo "fewer than $2 exits of $1 after 15 s" >&2
	return 1
}

popc() {
	local src=
	if [ "$1" = -s ]; then
		src=$2
		shift 2
	fi
	timeout $((20 * SLOW)) python3 - "$src" "$@" >"$out" <<-'EOF'
	import os, socket, sys
	src, port, lines = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
	s = socket.socket()
	s.settimeout(15 * int(os.environ.get('SLOW', '1')))
	if src:
	    s.bind((src, 0))
	s.connect(("127.0.0.1", port))
	try:
	    s.sendall("".join(l + "\r\n" for l in lines).encode())
	except (ConnectionResetError, BrokenPipeError):
	    pass
	while True:
	    try:
	        d = s.recv(65536)
	    except ConnectionResetError:
	        break   # a close with unread input: a reset, not an error
	    if not d:
	        break
	    sys.stdout.buffer.write(d)
	EOF
}

cluster_stop() {
	# shellcheck disable=SC2046
	end_pids $CLUSTER_PIDS $(cat "$T/handler-pids" 2>/dev/null)
	CLUSTER_PIDS=
}
