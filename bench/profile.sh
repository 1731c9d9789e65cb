#!/bin/bash
# bench/profile.sh: where the handler spends its time in S1, S2 and S4.
#
#   bench/profile.sh [S1|S2|S2P|S3|S4]...   (default: S1 S2 S4)
#   (S3 gives two profiles: S3c, the cold login, and S3w, the warm one)
#
# Runs systemd-socket-activate and every handler it spawns under
# `perf record -e cpu-clock` (a software clock: works without hardware
# counters, in containers too), drives one scenario with bench/popbench
# at a reduced size, and prints `perf report` sorted by shared object and
# by symbol.  Needs perf; the data stays in BENCH_KEEP'd temp dir when
# BENCH_KEEP=1.  Only the PIDs started here are stopped.
set -u

TOP=$(cd "$(dirname "$0")/.." && pwd)
HANDLER=${HANDLER:-$TOP/pop3-handler}
POPBENCH=$TOP/bench/popbench
MKMAILDIR=$TOP/bench/mkmaildir
FREQ=${PROFILE_FREQ:-4999}
PASSWORD=bench-secret

command -v perf >/dev/null || { echo "profile: perf is required" >&2; exit 1; }
[ -x "$POPBENCH" ] && [ -x "$MKMAILDIR" ] ||
    { echo "profile: run make bench/popbench bench/mkmaildir" >&2; exit 1; }
WORK=$(mktemp -d /tmp/popprof.XXXXXX) || exit 1
chmod 755 "$WORK"
PERF_PID=

stop() {
	local sa
	[ -n "$PERF_PID" ] || return 0
	# perf ends when its workload, systemd-socket-activate, ends.
	sa=$(pgrep -P "$PERF_PID" | head -1)
	[ -n "$sa" ] && kill "$sa" 2>/dev/null
	timeout 30 tail --pid="$PERF_PID" -f /dev/null
	kill "$PERF_PID" 2>/dev/null
	PERF_PID=
}
cleanup() {
	stop
	if [ "${BENCH_KEEP:-0}" = 1 ]; then echo "kept $WORK" >&2
	else rm -rf "$WORK"; fi
}
trap cleanup EXIT

HASH=$(printf '%s' "$PASSWORD" | openssl passwd -6 -salt benchsalt1234 -stdin)
printf 'u:%s:::::\n' "$HASH" >"$WORK/passwd"
chmod 644 "$WORK/passwd"

# box COUNT BYTES: a fresh Maildir for user u.
box() {
	rm -rf "$WORK/mail"
	"$MKMAILDIR" "$WORK/mail/u/Maildir" "$1" "$2" 1 >/dev/null || exit 1
	chmod -R go+rX "$WORK/mail"
}

# warm: one login through a pipe, outside perf (the state file appears).
warm() {
	printf 'USER u\r\nPASS %s\r\nSTAT\r\nQUIT\r\n' "$PASSWORD" |
	    timeout 600 "$HANDLER" --passwd-file="$WORK/passwd" \
	    --maildir="$WORK/mail/%u/Maildir" --log=stderr \
	    --auth-fail-delay=0 >/dev/null 2>&1
}

# profile NAME POPBENCH-ARGS...: one perf session around one workload.
profile() {
	local name=$1 port
	shift
	port=$((20000 + RANDOM % 40000))
	perf record -q -e cpu-clock -F "$FREQ" -g -o "$WORK/$name.data" -- \
	    systemd-socket-activate --inetd -a -l "127.0.0.1:$port" \
	    "$HANDLER" --passwd-file="$WORK/passwd" \
	    --maildir="$WORK/mail/%u/Maildir" --log=syslog \
	    --auth-fail-delay=0 >"$WORK/$name.log" 2>&1 &
	PERF_PID=$!
	for _ in $(seq 1 100); do
		ss -Htln "sport = :$port" | grep -q . && break
		sleep 0.1
	done
	# One warm-up login (S3c, the cold login, has none; S3w's ran
	# before perf started).
	case $name in S3?) ;; *)
	    "$POPBENCH" stattime -p "$port" -u u -w "$PASSWORD" >/dev/null ;;
	esac
	"$POPBENCH" "$1" -p "$port" -u u -w "$PASSWORD" -T 300 "${@:2}"
	stop
	echo "=== $name: by command and shared object"
	perf report -i "$WORK/$name.data" --stdio --no-children \
	    -g none --sort comm,dso 2>/dev/null | grep -v '^#' | grep '%' | head -15
	echo "=== $name: by symbol"
	perf report -i "$WORK/$name.data" --stdio --no-children -g none \
	    --comm pop3-handler --sort dso,sym 2>/dev/null | grep -v '^#' |
	    grep '%' | head -${PROFILE_TOP:-30}
}

for s in "${@:-S1 S2 S4}"; do
	for s1 in $s; do
	case $s1 in
	S1) box 200 8000000; profile S1 login -c 16 -d 5 ;;
	S2) box 2000 150000000; profile S2 fetch -W 1 ;;
	S2P) box 2000 150000000; profile S2P fetch -W 32 ;;
	S3) box 100000 400000000; profile S3c stattime
	    box 100000 400000000; warm; profile S3w stattime ;;
	S4) box 1 100000000; profile S4 fetch -W 1 ;;
	*) echo "profile: unknown scenario $s1" >&2; exit 2 ;;
	esac
	done
done
