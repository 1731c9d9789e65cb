# Helpers for deploy.bats (spec 10): the shipped units, the xinetd and
# stunnel examples, make install, the man page, --check-user, and the
# journal protocol.  Load after helpers/load.
#
#   exposure UNIT [ROOT]  the overall exposure systemd-analyze security
#                         --offline=true rates UNIT (a path; or a name
#                         inside ROOT, which picks up drop-ins)
#   le A B                true when the decimal A <= B
#   free_port             a TCP port free on 127.0.0.1 right now
#   wait_port PORT        waits (at most 10 s) until 127.0.0.1:PORT accepts
#   bg_start NAME CMD...  runs CMD in the background, its PID in
#                         $T/NAME.pid (killed by teardown), output in
#                         $T/NAME.out
#   deploy_conf FILE [name = value]...
#                         writes a config file for the test's passwd file
#                         and Maildirs, with the extra settings after it
#   exec_start UNIT       the ExecStart command line of a shipped unit,
#                         continuation lines joined
#   mkcert                a throwaway self-signed certificate: $CERT $KEY
#   popclient ARGS...     tests/helpers/deploy-pop.py under timeout; its
#                         transcript in $out, errors in $T/client.err

shopt -s lastpipe	# "crlf ... | chat" sets $status here

DEPLOY_PY=$BATS_TEST_DIRNAME/helpers

exposure() {
	local r
	if [ $# -eq 2 ]; then
		r=$(systemd-analyze security --offline=true --root="$2" "$1" \
		    2>&1) || true
	else
		r=$(systemd-analyze security --offline=true "$1" 2>&1) || true
	fi
	printf '%s\n' "$r" >"$BATS_TEST_TMPDIR/analyze.out"
	printf '%s\n' "$r" | sed -n \
	    's/.*Overall exposure level for [^:]*: \([0-9.]*\) .*/\1/p' |
	    tail -n 1
}

le() {
	awk -v a="$1" -v b="$2" 'BEGIN { exit !(a != "" && a + 0 <= b + 0) }'
}

free_port() {
	python3 -c 'import socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

wait_port() {
	python3 - "$1" <<'EOF'
import socket, sys, time
for _ in range(100):
    try:
        socket.create_connection(("127.0.0.1", int(sys.argv[1])), 0.2).close()
        sys.exit(0)
    except OSError:
        time.sleep(0.1)
sys.exit(1)
EOF
}

bg_start() {
	local name=$1
	shift
	"$@" >"$T/$name.out" 2>&1 &
	echo $! >"$T/$name.pid"
}

# Kills what bg_start started, by PID only.
bg_stop_all() {
	local f pid
	for f in "$T"/*.pid; do
		[ -f "$f" ] || continue
		pid=$(cat "$f")
		kill "$pid" 2>/dev/null || true
		for _ in 1 2 3 4 5 6 7 8 9 10; do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		kill -9 "$pid" 2>/dev/null || true
		rm -f "$f"
	done
}

deploy_conf() {
	local f=$1
	shift
	{
		echo "passwd-file = $PASSWD"
		echo "hostname = test.example"
		echo "auth-fail-delay = 0"
		printf '%s\n' "$@"
	} >"$f"
}

exec_start() {
	sed -e ':a' -e '/\\$/{N;s/\\\n[[:space:]]*/ /;ba' -e '}' "$1" |
	    sed -n 's/^ExecStart=//p'
}

mkcert() {
	CERT=$T/cert.pem
	KEY=$T/key.pem
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
	    -nodes -days 2 -subj /CN=localhost -keyout "$KEY" -out "$CERT" \
	    2>/dev/null
}

popclient() {
	status=0
	timeout $((20 * SLOW)) python3 "$DEPLOY_PY/deploy-pop.py" "$@" >"$out" \
	    2>"$T/client.err" || status=$?
}
