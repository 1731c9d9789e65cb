# Helpers for the Maildir, retrieval, UIDL and concurrency tests
# (stat-list, retr-top, sizes, dele-rset-update, uidl-*, snapshot-races,
# clients, privilege).  Load after helpers/load:
#
#	load helpers/load
#	load helpers/mail
#
#   MD             alice's Maildir after setup_alice
#   setup_alice    user alice, password pw, empty Maildir (new cur tmp)
#   three_msgs [new]  setup_alice and three messages (41 octets)
#   put SUB NAME   writes stdin as a message, byte for byte
#   expect_after N LINE...   $out from reply line N on is exactly LINE...
#   expect_after_file N FILE $out from reply line N on equals FILE
#   sess_*         drive a session step by step through a fifo
#   fetchmail_mda  $T/mda stores each message as $T/fm/N (or skips)
#   store_mda MDA DIR   an MDA script that stores messages as DIR/N
#   mpop_rc ARGS...     one mpop run, its mpoprc from stdin
#   start_server [-E VAR]... ARGS
#                  the handler behind systemd-socket-activate on $PORT
#   to_crlf        (in load.bash) the RFC 1939 transform, in python
#   fault_build    (from setup_file) makes build/fault/pop3-handler
#   fault_setup    (from setup) common_setup; $FAULT is that build, or
#                  the test skips

# "session ... | chat" must set $status in the test's shell: run the last
# command of a pipeline in the current shell (bats has no job control).
shopt -s lastpipe

# fault_build: makes the fault-injection build (-DPOP3_FAULT_INJECTION:
# POP3_FAULT=<point> raises SIGKILL there); call it from setup_file.
fault_build() {
	make -s -C "$TOP" build/fault/pop3-handler >&2
}

# fault_setup: common_setup, and $FAULT the fault-injection build; skips
# without it.
fault_setup() {
	common_setup
	FAULT=$TOP/build/fault/pop3-handler
	[ -x "$FAULT" ] || skip "build/fault/pop3-handler did not build"
}

# setup_alice: user alice (password pw) with an empty Maildir in $MD.
setup_alice() {
	add_user alice pw "$@"
	MD=$(maildir alice)
	mkdir -p "$MD/new" "$MD/cur" "$MD/tmp"
}

# three_msgs [new]: setup_alice, then three messages of 6, 21 and 14
# octets in CRLF form (41 in all), the third with a dot-stuffed line:
# 1700000001.M1P1.host:2, and 1700000002.M1P1.host:2, in cur/; the third
# in cur/ as 1700000003.M1P1.host:2, or with "new" in new/ as
# 1700000003.M1P1.host.
three_msgs() {
	setup_alice
	putf cur 1700000001.M1P1.host:2, 'a\nb\n'
	putf cur 1700000002.M1P1.host:2, 'Subject: x\n\nhello\n'
	if [ "${1:-cur}" = new ]; then
		putf new 1700000003.M1P1.host 'S: y\r\n\r\n.dot\r\n'
	else
		putf cur 1700000003.M1P1.host:2, 'S: y\r\n\r\n.dot\r\n'
	fi
}

# fetchmail_mda: skips without fetchmail; else makes $T/fmhome (for
# FETCHMAILHOME) and $T/mda, an MDA that stores each message it is given
# as $T/fm/1, $T/fm/2, ...
fetchmail_mda() {
	command -v fetchmail >/dev/null || skip "fetchmail is not installed"
	mkdir -p "$T/fmhome"
	chmod 700 "$T/fmhome"
	store_mda "$T/mda" "$T/fm"
}

# store_mda MDA DIR: MDA becomes a script that stores each message it is
# given on stdin as DIR/1, DIR/2, ... (DIR is made now).
store_mda() {
	mkdir -p "$2"
	cat >"$1" <<-EOF
	#!/bin/sh
	n=\$(ls "$2" | wc -l)
	cat >"$2/\$((n + 1))"
	EOF
	chmod 755 "$1"
}

# mpop_rc ARGS...: one mpop run with ARGS, its configuration $T/mpoprc
# (mode 600) read from stdin, HOME=$T; its output in $T/mpop.out, shown
# when it fails.
mpop_rc() {
	cat >"$T/mpoprc"
	chmod 600 "$T/mpoprc"
	HOME=$T timeout 60 mpop -C "$T/mpoprc" "$@" >"$T/mpop.out" 2>&1 || {
		cat "$T/mpop.out" >&2
		return 1
	}
}

# put SUB NAME: stdin becomes $MD/SUB/NAME, byte for byte.
put() {
	cat >"$MD/$1/$2"
}

# putf SUB NAME FORMAT [ARG...]: printf FORMAT into $MD/SUB/NAME.
putf() {
	local sub=$1 name=$2
	shift 2
	# shellcheck disable=SC2059
	printf "$@" >"$MD/$sub/$name"
}

# after N: prints $out from line N (1-based) on, raw bytes.
after() {
	tail -n +"$1" "$out"
}

# expect_after_file N FILE: $out from line N on equals FILE.
expect_after_file() {
	after "$1" >"$T/got"
	if ! cmp -s "$2" "$T/got"; then
		diff <(od -An -c "$2") <(od -An -c "$T/got") | head -40 >&2
		return 1
	fi
}

# expect_after N LINE...: $out from line N on is exactly LINE... (CRLF).
expect_after() {
	local n=$1
	shift
	crlf "$@" >"$T/exp"
	expect_after_file "$n" "$T/exp"
}

# session: login, then the commands given as arguments, then QUIT.
session() {
	login alice pw
	crlf "$@" QUIT
}

# stuff FILE: dot-stuffs a CRLF file (a line starting with '.' gets
# another '.').
stuff() {
	python3 -c '
import sys
d = open(sys.argv[1], "rb").read()
lines = d.split(b"\r\n")
sys.stdout.buffer.write(b"\r\n".join(
    (b"." + l if l.startswith(b".") else l) for l in lines))
' "$1"
}

# uidl_body: the "n uid" lines of the first UIDL listing in $out.
uidl_body() {
	tr -d '\r' <"$out" | awk '
	    /^\+OK Unique-ID listing follows$/ && !seen { on = 1; seen = 1; next }
	    on && /^\.$/ { exit }
	    on { print }'
}

# start_server [-E VAR]... ARGS...: the handler behind
# systemd-socket-activate -a --inetd on a free port of 127.0.0.1 ($PORT),
# one handler under timeout per connection; its stderr in
# $T/server.log, the listener's pid in $SERVER_PID (teardown ends it).
# Defaults --passwd-file --log=stderr --hostname=test.example
# --auth-fail-delay=0 come first, ARGS win.  The listener passes on only
# the environment variables named by -E.  Waits (bounded) until it
# listens; skips without systemd-socket-activate.
start_server() {
	local env=()
	while [ "${1:-}" = -E ]; do
		env+=(-E "$2")
		shift 2
	done
	command -v systemd-socket-activate >/dev/null ||
	    skip "systemd-socket-activate is not installed"
	PORT=$(free_port)
	systemd-socket-activate "${env[@]}" -a --inetd -l "127.0.0.1:$PORT" \
	    timeout $((30 * SLOW)) "$HANDLER" --passwd-file="$PASSWD" \
	    --log=stderr --hostname=test.example --auth-fail-delay=0 "$@" \
	    2>"$T/server.log" &
	SERVER_PID=$!
	wait_port "$PORT"
}

# ---- step-by-step sessions -------------------------------------------
# sess_start NAME ARGS...: starts the handler reading fifo $T/NAME.in,
# replies in $T/NAME.out, log in $T/NAME.log.  Then sess_send NAME
# LINE..., sess_wait NAME LINES (bounded wait until NAME.out has LINES
# lines), sess_end NAME (closes the input, waits; exit status in $status,
# and $out/$log point at the session's files).
SESS_PIDS=
sess_start() {
	local name=$1 fd pid
	shift
	rm -f "$T/$name.in"
	mkfifo "$T/$name.in"
	timeout $((30 * SLOW)) "$HANDLER" --passwd-file="$PASSWD" --log=stderr \
	    --hostname=test.example --auth-fail-delay=0 "$@" \
	    <"$T/$name.in" >"$T/$name.out" 2>"$T/$name.log" &
	pid=$!
	exec {fd}>"$T/$name.in"
	printf -v "SESS_FD_$name" '%s' "$fd"
	printf -v "SESS_PID_$name" '%s' "$pid"
	SESS_PIDS="$SESS_PIDS $pid"
}

sess_send() {
	local name=$1 fdv="SESS_FD_$1"
	shift
	crlf "$@" >&"${!fdv}"
}

# sess_wait NAME LINES: waits (at most 10 s) until NAME.out has LINES
# lines; fails otherwise.
sess_wait() {
	local i
	for i in $(seq 1 $((200 * SLOW))); do
		[ "$(wc -l <"$T/$1.out")" -lt "$2" ] || return 0
		sleep 0.05
	done
	echo "session $1: fewer than $2 reply lines after 10 s" >&2
	cat -A "$T/$1.out" | head -20 >&2
	return 1
}

# sess_handler_pid NAME: the handler's pid (the child of timeout).
sess_handler_pid() {
	local pidv="SESS_PID_$1"
	pgrep -P "${!pidv}" | head -1
}

sess_end() {
	local name=$1 fdv="SESS_FD_$1" pidv="SESS_PID_$1"
	eval "exec ${!fdv}>&-"
	status=0
	wait "${!pidv}" || status=$?
	out=$T/$name.out
	log=$T/$name.log
}

# sess_cleanup: kills the sessions this test started and left running.
sess_cleanup() {
	local p
	for p in $SESS_PIDS; do
		kill "$p" 2>/dev/null || true
	done
	SESS_PIDS=
}

teardown() {
	sess_cleanup
	[ -z "${SERVER_PID:-}" ] || kill "$SERVER_PID" 2>/dev/null || true
	no_sanitizer_report "$T"/*.log "$log"
}

# is_san: true when $HANDLER is a sanitizer build.
is_san() {
	case $HANDLER in *build/san* | *asan* | *ubsan*) return 0 ;; esac
	return 1
}

# pop_check [HANDLER-ARGS...]: logs in as alice/pw with python poplib
# over a socketpair and checks every message: the LIST size, the RETR
# "+OK n octets", and the octets poplib holds after un-stuffing are one
# number, and (when cur/ holds exactly one message file) the bytes equal
# to_crlf of that file.  Log in $log.
pop_check() {
	python3 - "$HANDLER" "$PASSWD" "$MD" "$log" "$@" <<-'EOF'
	import os, poplib, socket, subprocess, sys
	h, pw, md, log = sys.argv[1:5]
	a, b = socket.socketpair()
	proc = subprocess.Popen(['timeout', '20', h, '--passwd-file=' + pw,
	    '--log=stderr', '--hostname=test.example', '--auth-fail-delay=0']
	    + sys.argv[5:], stdin=b, stdout=b, stderr=open(log, 'wb'))
	b.close()
	class P(poplib.POP3):
	    def _create_socket(self, timeout):
	        return a
	p = P('local')
	p.user('alice')
	p.pass_('pw')
	resp, listing, _ = p.list()
	n = 0
	for ent in listing:
	    num, size = (int(x) for x in ent.split())
	    resp, lines, octets = p.retr(num)
	    got = b''.join(l + b'\r\n' for l in lines)
	    assert resp == b'+OK %d octets' % size, (resp, size)
	    assert octets == size == len(got), (num, size, octets, len(got))
	    n += 1
	    last = got
	files = [f for f in os.listdir(md + '/cur') if not f.startswith('.')]
	if len(files) == 1 and n == 1:
	    d = open(md + '/cur/' + files[0], 'rb').read()
	    o = d.replace(b'\r\n', b'\n').replace(b'\n', b'\r\n')
	    if o and not o.endswith(b'\r\n'):
	        o += b'\r\n'
	    assert last == o, (last, o)
	p.quit()
	assert proc.wait() == 0
	print(n)
	EOF
}

# nogrep ARGS...: succeeds when grep ARGS finds nothing (a plain "! grep"
# inside a bats test does not fail the test).
nogrep() {
	! grep "$@"
}
