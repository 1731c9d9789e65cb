#!/bin/bash
# bench/run.sh: the driver of `make bench` and `make bench-smoke` (bench/README.md).
#
#   bench/run.sh          the scenarios S1-S5, handler against Dovecot
#   bench/run.sh smoke    one second of load and two checked fetches
#                         against the handler only (no root, no Dovecot)
#
# Everything lives in a fresh mktemp directory, removed at the end
# (BENCH_KEEP=1 keeps it).  Servers listen on 127.0.0.1 only, on free high
# ports; only the PIDs started here are stopped.  Knobs (defaults are the
# issue's): see bench/README.md.
set -u

MODE=${1:-full}
TOP=$(cd "$(dirname "$0")/.." && pwd)
HANDLER=${HANDLER:-$TOP/pop3-handler}
POPBENCH=$TOP/bench/popbench
MKMAILDIR=$TOP/bench/mkmaildir
# shellcheck source=tests/helpers/dovecot.bash
. "$TOP/tests/helpers/dovecot.bash"

SCALE=${BENCH_SCALE:-1}
REPEAT=${BENCH_REPEAT:-3}
# S2 and S2P last a second or less and vary most: more runs, same time.
S2_REPEAT=${BENCH_S2_REPEAT:-$((REPEAT * 3))}
S1_SECS=${BENCH_S1_SECS:-10}
S1_CLIENTS=${BENCH_S1_CLIENTS:-16}
S1_MSGS=${BENCH_S1_MSGS:-200}
S2_MSGS=${BENCH_S2_MSGS:-2000}
S2_MB=${BENCH_S2_MB:-150}
S2P_WINDOW=${BENCH_S2P_WINDOW:-32}
S3_MSGS=${BENCH_S3_MSGS:-100000}
S3_MB=${BENCH_S3_MB:-400}
S4_MB=${BENCH_S4_MB:-100}
SEED=${BENCH_SEED:-1}
USE_DOVECOT=${BENCH_DOVECOT:-auto}
USE_TLS=${BENCH_TLS:-yes}	# the TLS scenarios S1T-S4T (bench/README.md)
ONLY=${BENCH_ONLY:-}		# "tls": the TLS scenarios alone
TIMEOUT=${BENCH_TIMEOUT:-600}	# bound on one session and on each server
PASSWORD=bench-secret

scaled() {	# scaled N: N * BENCH_SCALE, at least $2 (default 1)
	awk -v n="$1" -v s="$SCALE" -v m="${2:-1}" \
	    'BEGIN { v = int(n * s + 0.5); print (v < m ? m : v) }'
}

die() { echo "bench: $*" >&2; exit 1; }

[ -x "$HANDLER" ] || die "no handler at $HANDLER (run make)"
[ -x "$POPBENCH" ] && [ -x "$MKMAILDIR" ] || die "bench tools not built"
command -v systemd-socket-activate >/dev/null ||
    die "systemd-socket-activate is required"

WORK=$(mktemp -d /tmp/popbench.XXXXXX) || die "mktemp failed"
chmod 755 "$WORK"
# One binary for the whole run, even if someone rebuilds meanwhile.
cp "$HANDLER" "$WORK/pop3-handler" || die "cannot copy $HANDLER"
HANDLER=$WORK/pop3-handler
PIDS=()
DOVECOT_CONF=
DOVECOT_CONFS=()	# the TLS instances
declare -A PORT_OF	# server id -> port, for the TLS servers
NOTES=()

cleanup() {
	local p
	if [ -n "$DOVECOT_CONF" ]; then
		timeout 20 dovecot -c "$DOVECOT_CONF" stop >/dev/null 2>&1
	fi
	for p in "${DOVECOT_CONFS[@]}"; do
		timeout 20 dovecot -c "$p" stop >/dev/null 2>&1
	done
	for p in "${PIDS[@]}"; do
		kill "$p" 2>/dev/null
	done
	for p in "${PIDS[@]}"; do
		timeout 10 tail --pid="$p" -f /dev/null 2>/dev/null
	done
	if [ "${BENCH_KEEP:-0}" = 1 ]; then
		echo "bench: kept $WORK" >&2
	else
		rm -rf "$WORK"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

note() { NOTES+=("$*"); echo "bench: note: $*" >&2; }

# free_port: a TCP port on 127.0.0.1 that nothing listens on.
free_port() {
	local p i
	for i in $(seq 1 100); do
		p=$((20000 + RANDOM % 40000))
		if ! ss -Htln "sport = :$p" | grep -q .; then
			echo "$p"
			return 0
		fi
	done
	return 1
}

wait_listen() {	# wait_listen PORT: up to 10 s
	local i
	for i in $(seq 1 100); do
		ss -Htln "sport = :$1" | grep -q . && return 0
		sleep 0.1
	done
	return 1
}

# Identity of the mail owner.  As root, both servers switch to nobody
# (the handler through systemd-socket-activate under setpriv, as the
# documented single-vmail-account deployment; Dovecot through its
# userdb); otherwise everything runs as the caller and Dovecot is skipped.
if [ "$(id -u)" = 0 ]; then
	MAIL_UID=65534 MAIL_GID=65534
	RUNAS=(setpriv --reuid=$MAIL_UID --regid=$MAIL_GID --clear-groups)
else
	MAIL_UID=$(id -u) MAIL_GID=$(id -g)
	RUNAS=()
fi

# The one passwd file of both servers: $6$ (5000 rounds, the crypt
# default), empty uid/gid (one mail account), Dovecot passwd-file format.
PASSWD=$WORK/passwd
HASH=$(printf '%s' "$PASSWORD" | openssl passwd -6 -salt benchsalt1234 -stdin)
: >"$PASSWD"
for u in u1 u2 u3 u4 smoke; do
	printf '%s:%s:::::\n' "$u" "$HASH" >>"$PASSWD"
done
# S1S, SASL SCRAM-SHA-256 with 4096 iterations (doveadm pw's count) on
# both sides: the handler's user gets keys from its own --hash-password,
# Dovecot's from doveadm pw; both log in to a copy of u1's box.  The
# smoke run logs in once with the handler's keys.
SCRAM_H=$(printf '%s\n' "$PASSWORD" | "$HANDLER" --hash-password \
    --scheme=scram-sha-256 --iterations=4096) ||
    die "pop3-handler --hash-password --scheme=scram-sha-256 failed"
printf 's1h:%s:::::\n' "$SCRAM_H" >>"$PASSWD"
if [ "$MODE" != smoke ]; then
	if command -v doveadm >/dev/null; then
		SCRAM_D=$(doveadm pw -s SCRAM-SHA-256 -p "$PASSWORD") ||
		    die "doveadm pw -s SCRAM-SHA-256 failed"
		case $SCRAM_D in
		"{SCRAM-SHA-256}4096,"*) ;;
		*) die "doveadm pw made no 4096-iteration SCRAM key: $SCRAM_D" ;;
		esac
		printf 's1d:%s:::::\n' "$SCRAM_D" >>"$PASSWD"
	fi
fi
chmod 644 "$PASSWD"
HSTATE=$WORK/hstate	# the handler's state-dir (SCRAM's decoy secret)
mkdir -p "$HSTATE"
chown "$MAIL_UID:$MAIL_GID" "$HSTATE"
chmod 700 "$HSTATE"

# gen USER COUNT BYTES: the master Maildir of USER; prints the manifest.
gen() {
	mkdir -p "$WORK/master/$1"
	"$MKMAILDIR" "$WORK/master/$1/Maildir" "$2" "$3" "$SEED" >"$WORK/$1.manifest" ||
	    die "mkmaildir failed for $1"
	chmod -R u+rwX,go+rX "$WORK/master"
	chown -R "$MAIL_UID:$MAIL_GID" "$WORK/master/$1"
}
manifest() { sed -n "s/.* $2=\([0-9]*\).*/\1/p;s/^$2=\([0-9]*\).*/\1/p" "$WORK/$1.manifest" | head -1; }

# copy SERVER USER [MASTER]: a fresh copy of the master of USER (or of
# MASTER) for one server.  Hard links: neither server writes into a
# message file (the handler renames new/ to cur/, Dovecot adds its own
# index files), so the copies stay independent.
copy() {
	local dst=$WORK/$1/$2
	rm -rf "$dst"
	mkdir -p "$dst"
	cp -al "$WORK/master/${3:-$2}/Maildir" "$dst/Maildir" || die "copy failed"
	chown -R "$MAIL_UID:$MAIL_GID" "$dst"
}

# start_handler [CPU]: the handler on $PORT_H, or with CPU on $PORT_H1,
# every session bound to that one CPU (taskset).
start_handler() {
	local port pin=()
	port=$(free_port) || die "no free port"
	if [ $# -gt 0 ]; then
		PORT_H1=$port
		pin=(taskset -c "$1")
	else
		PORT_H=$port
	fi
	timeout "$((TIMEOUT * 4))" "${pin[@]}" "${RUNAS[@]}" \
	    systemd-socket-activate \
	    --inetd -a -l "127.0.0.1:$port" "$HANDLER" \
	    --passwd-file="$PASSWD" --maildir="$WORK/h/%u/Maildir" \
	    --state-dir="$HSTATE" \
	    --log=syslog --auth-fail-delay=0 >>"$WORK/handler.log" 2>&1 &
	PIDS+=($!)
	wait_listen "$port" || die "handler did not listen on $port"
}

start_dovecot() {
	local d=$WORK/dovecot
	PORT_D=$(free_port) || die "no free port"
	mkdir -p "$d" "$WORK/d"
	dovecot_conf "$d" "$PASSWD" "$MAIL_UID" "$MAIL_GID" "$WORK/d/%u" \
	    "$PORT_D" | sed 's/^auth_mechanisms = plain$/& scram-sha-256/' \
	    >"$d/dovecot.conf"
	grep -q '^auth_mechanisms = plain scram-sha-256$' "$d/dovecot.conf" ||
	    die "cannot add scram-sha-256 to Dovecot's auth_mechanisms"
	chmod 755 "$d" "$WORK/d"
	cat >>"$d/dovecot.conf" <<-EOF
	protocol pop3 {
	  mail_max_userip_connections = 1000
	}
	EOF
	DOVECOT_CONF=$d/dovecot.conf
	timeout "$((TIMEOUT * 4))" dovecot -F -c "$DOVECOT_CONF" \
	    >"$d/stdout.log" 2>&1 &
	PIDS+=($!)
	wait_listen "$PORT_D" || die "dovecot did not listen on $PORT_D"
}

# pb SCENARIO SERVER popbench-args...: one run; its line goes to
# $WORK/res/SCENARIO.SERVER, failures become notes.
pb() {
	local sc=$1 srv=$2 port rc out
	shift 2
	local pin=()
	case $srv in
	h) port=$PORT_H ;;
	h1) port=$PORT_H1 pin=(taskset -c 0) ;;
	d) port=$PORT_D ;;
	*) port=${PORT_OF[$srv]} ;;
	esac
	mkdir -p "$WORK/res"
	out=$(timeout "$((TIMEOUT + 30))" "${pin[@]}" "$POPBENCH" "$1" -p "$port" \
	    -u "${USERNAME}" -w "$PASSWORD" -T "$TIMEOUT" "${@:2}" \
	    2>"$WORK/res/err"); rc=$?
	if [ "$rc" -ne 0 ] && [ "$rc" -ne 3 ]; then
		note "$sc $(srvname "$srv"): run failed (exit $rc): $(head -c 300 "$WORK/res/err" | tr '\n' ' ')"
		return 1
	fi
	[ "$rc" -eq 3 ] && echo "$out" >>"$WORK/res/$sc.$srv.bad"
	echo "$out" >>"$WORK/res/$sc.$srv"
	echo "  $sc $(srvname "$srv"): $out" >&2
	return 0
}

srvname() {
	case $1 in h) echo handler ;; h1) echo "handler on one CPU" ;;
	hte) echo "handler TLS ECDSA" ;; htr) echo "handler TLS RSA" ;;
	hp) echo "haproxy TLS -> handler" ;; dt) echo "dovecot TLS" ;;
	dl) echo "dovecot TLS long-lived login" ;;
	*) echo dovecot ;; esac
}

# vals SCENARIO SERVER KEY: the values of KEY, one a line.
vals() {
	[ -f "$WORK/res/$1.$2" ] || return 0
	sed -n "s/.*\<$3=\([-0-9.]*\).*/\1/p" "$WORK/res/$1.$2"
}

# stats: median min max of the numbers on stdin, or "- - -".
stats() {
	sort -g | awk '{ v[NR] = $1 } END {
		if (NR == 0) { print "- - -"; exit }
		m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
		print m, v[1], v[NR] }'
}

servers() { if [ "$HAVE_DOVECOT" = 1 ]; then echo h d; else echo h; fi; }

# ---------------------------------------------------------------- smoke
if [ "$MODE" = smoke ]; then
	HAVE_DOVECOT=0
	USERNAME=smoke
	gen smoke 50 2000000
	copy h smoke
	copy h s1h smoke
	start_handler
	fail=0
	pb smoke h login -c 2 -d 1 --expect-count 50 || fail=1
	# popbench's SCRAM client: a login with the handler's keys, and a
	# wrong password that must fail at the proof.
	USERNAME=s1h
	pb smoke h login -c 1 -d 1 -n 2 --sasl=scram-sha-256 \
	    --expect-count 50 || fail=1
	if timeout 60 "$POPBENCH" login -p "$PORT_H" -u s1h -w wrong -c 1 \
	    -d 1 -n 1 -q --sasl=scram-sha-256 >/dev/null; then
		note "smoke: SCRAM with a wrong password logged in"
		fail=1
	fi
	USERNAME=smoke
	count=$(manifest smoke count) octets=$(manifest smoke octets)
	pb smoke h fetch -W 1 --expect-count "$count" \
	    --expect-octets "$octets" --rss || fail=1
	pb smoke h fetch -W 8 --expect-count "$count" \
	    --expect-octets "$octets" || fail=1
	[ -f "$WORK/res/smoke.h.bad" ] && { note "smoke: size mismatch"; fail=1; }
	if [ "$fail" = 0 ]; then
		echo "bench-smoke: ok ($(vals smoke h rate | head -1) sessions/s," \
		    "$(vals smoke h mbps | head -1) MB/s, sizes verified)"
	else
		echo "bench-smoke: FAILED: ${NOTES[*]}"
	fi
	exit "$fail"
fi

# ---------------------------------------------------------------- full
HAVE_DOVECOT=0
if [ "$USE_DOVECOT" != no ]; then
	if ! command -v dovecot >/dev/null; then
		note "Dovecot is not installed: handler figures only"
	elif [ "$(id -u)" != 0 ]; then
		note "not root: Dovecot skipped, handler figures only"
	else
		HAVE_DOVECOT=1
		pgrep -x dovecot >/dev/null &&
		    note "a system Dovecot is running (not ours; it may take CPU)"
	fi
fi

S1_N=$(scaled "$S1_MSGS"); S2_N=$(scaled "$S2_MSGS")
S3_N=$(scaled "$S3_MSGS")
S2_BYTES=$(scaled $((S2_MB * 1000000)) $((S2_N * 1000)))
S3_BYTES=$(scaled $((S3_MB * 1000000)) $((S3_N * 1000)))
S4_BYTES=$(scaled $((S4_MB * 1000000)) 100000)
T0=$SECONDS

echo "bench: generating Maildirs in $WORK (seed $SEED)" >&2
gen u1 "$S1_N" $((S1_N * 40000))
gen u2 "$S2_N" "$S2_BYTES"
gen u3 "$S3_N" "$S3_BYTES"
gen u4 1 "$S4_BYTES"
for u in u1 u2 u3 u4; do echo "  $u: $(cat "$WORK/$u.manifest")" >&2; done
for s in $(servers); do
	for u in u1 u2 u4; do copy "$s" "$u"; done
done
copy h s1h u1
[ "$HAVE_DOVECOT" = 1 ] && copy d s1d u1
start_handler
[ "$HAVE_DOVECOT" = 1 ] && start_dovecot
echo "bench: handler on 127.0.0.1:$PORT_H${PORT_D:+, dovecot on 127.0.0.1:$PORT_D}" >&2
if [ "$ONLY" != tls ]; then

# S1: login rate on a 200-message box; one warm-up login first (the
# handler moves new/ to cur/, Dovecot builds its index).
USERNAME=u1
for s in $(servers); do pb warm1 "$s" stattime; done
for r in $(seq 1 "$REPEAT"); do
	for s in $(servers); do
		pb S1 "$s" login -c "$S1_CLIENTS" -d "$S1_SECS" \
		    --expect-count "$S1_N"
	done
done

# S1S: S1 with AUTH SCRAM-SHA-256 instead of USER/PASS, each server's
# user with its own key of the same iteration count; popbench keeps the
# salted password per worker (RFC 5802 5.1), so the client's PBKDF2 runs
# once, not in every login.
for s in $(servers); do
	USERNAME=s1$s
	pb warm1S "$s" login -c 1 -d 1 -n 1 --sasl=scram-sha-256 \
	    --expect-count "$S1_N"
done
for r in $(seq 1 "$REPEAT"); do
	for s in $(servers); do
		USERNAME=s1$s
		pb S1S "$s" login -c "$S1_CLIENTS" -d "$S1_SECS" \
		    --sasl=scram-sha-256 --expect-count "$S1_N"
	done
done

# S2 and S2P: everything, one command at a time and 32 RETRs in flight,
# after one warm-up fetch; peak RSS (S5) of each session.
USERNAME=u2
c2=$(manifest u2 count) o2=$(manifest u2 octets)
for s in $(servers); do pb warm2 "$s" fetch -W 1 --expect-count "$c2"; done
for r in $(seq 1 "$S2_REPEAT"); do
	for s in $(servers); do
		pb S2 "$s" fetch -W 1 --expect-count "$c2" \
		    --expect-octets "$o2" --rss
		pb S2P "$s" fetch -W "$S2P_WINDOW" --expect-count "$c2" \
		    --expect-octets "$o2" --rss
	done
done

# S2 and S2P again with the handler and the client on one CPU: there a
# wakeup costs no cross-CPU interrupt, so a reply that waited for
# anything (Nagle, a delayed ACK, a second write) would still show as a
# gap between S2 and S2P, while the cost of waking an idle CPU does not.
if command -v taskset >/dev/null && [ "$(nproc)" -gt 1 ]; then
	start_handler 0
	for r in $(seq 1 "$S2_REPEAT"); do
		pb S2 h1 fetch -W 1 --expect-count "$c2" --expect-octets "$o2"
		pb S2P h1 fetch -W "$S2P_WINDOW" --expect-count "$c2" \
		    --expect-octets "$o2"
	done
fi

# S3: PASS to STAT answer on a fresh copy (cold: no state file, no
# index), then again (warm).
USERNAME=u3
c3=$(manifest u3 count)
for r in $(seq 1 "$REPEAT"); do
	for s in $(servers); do
		copy "$s" u3
		sync
		pb S3c "$s" stattime --expect-count "$c3"
		pb S3w "$s" stattime --expect-count "$c3" --rss
	done
done
for s in $(servers); do rm -rf "$WORK/$s/u3"; done

# S4: one large message.
USERNAME=u4
o4=$(manifest u4 octets)
for s in $(servers); do pb warm4 "$s" fetch -W 1 --expect-count 1; done
for r in $(seq 1 "$REPEAT"); do
	for s in $(servers); do
		pb S4 "$s" fetch -W 1 --expect-count 1 --expect-octets "$o4" \
		    --rss
	done
done
fi	# ONLY != tls

# ---------------------------------------------------------------- TLS
# The TLS rows: implicit TLS (TLS 1.3, X25519) with the same certificates:
# the handler with an ECDSA P-256 and an RSA-2048 listener (both with a
# tls-ticket-key-file, as documented), Dovecot with both certificates
# (ssl_cert ECDSA, ssl_alt_cert RSA; the client's signature algorithms
# pick one) once by default (a pop3-login process per connection) and
# once with long-lived login processes (service_count = 0,
# process_min_avail = 2), and haproxy ending TLS (ECDSA) in front of a
# plaintext handler listener (send-proxy-v2-ssl, proxy-protocol = yes).
TLS_SERVERS=()
# start_h ID ARGS...: a handler listener with ARGS for server ID.
start_h() {
	local id=$1 port
	shift
	port=$(free_port) || die "no free port"
	timeout "$((TIMEOUT * 4))" "${RUNAS[@]}" systemd-socket-activate \
	    --inetd -a -l "127.0.0.1:$port" "$HANDLER" \
	    --passwd-file="$PASSWD" --maildir="$WORK/h/%u/Maildir" \
	    --state-dir="$HSTATE" \
	    --log=syslog --auth-fail-delay=0 "$@" >>"$WORK/handler.log" 2>&1 &
	PIDS+=($!)
	wait_listen "$port" || die "handler did not listen on $port"
	PORT_OF[$id]=$port
}

# start_dovecot_tls ID LONG: a Dovecot serving pop3s only; LONG=1 keeps
# two login processes that serve every connection.
start_dovecot_tls() {
	local id=$1 d=$WORK/dovecot-$1 port
	port=$(free_port) || die "no free port"
	mkdir -p "$d" "$WORK/$id"
	for u in u1 u2 u4; do copy "$id" "$u"; done
	dovecot_conf "$d" "$PASSWD" "$MAIL_UID" "$MAIL_GID" "$WORK/$id/%u" 0 |
	    sed -e 's/^ssl = no$/ssl = required/' \
		-e "/inet_listener pop3s/,/}/ s/port = 0/port = $port/" \
		>"$d/dovecot.conf"
	if [ "$2" = 1 ]; then
		sed -i '/^service pop3-login {/a\
  service_count = 0\
  process_min_avail = 2' "$d/dovecot.conf"
	fi
	cat >>"$d/dovecot.conf" <<-EOF
	ssl_cert = <$TLSD/ec.crt
	ssl_key = <$TLSD/ec.key
	ssl_alt_cert = <$TLSD/rsa.crt
	ssl_alt_key = <$TLSD/rsa.key
	ssl_dh = </usr/share/dovecot/dh.pem
	ssl_min_protocol = TLSv1.2
	protocol pop3 {
	  mail_max_userip_connections = 1000
	}
	EOF
	chmod 755 "$d" "$WORK/$id"
	DOVECOT_CONFS+=("$d/dovecot.conf")
	timeout "$((TIMEOUT * 4))" dovecot -F -c "$d/dovecot.conf" \
	    >"$d/stdout.log" 2>&1 &
	PIDS+=($!)
	wait_listen "$port" || die "dovecot $id did not listen on $port"
	PORT_OF[$id]=$port
}

# start_haproxy: TLS (ECDSA) on a port, PROXY v2 with the SSL TLV to a
# plaintext handler listener.
start_haproxy() {
	local port
	start_h hb --proxy-protocol=yes
	port=$(free_port) || die "no free port"
	cat "$TLSD/ec.crt" "$TLSD/ec.key" >"$TLSD/haproxy.pem"
	cat >"$TLSD/haproxy.cfg" <<-EOF
	global
	    maxconn 1000
	defaults
	    mode tcp
	    timeout connect 5s
	    timeout client ${TIMEOUT}s
	    timeout server ${TIMEOUT}s
	frontend pop3s
	    bind 127.0.0.1:$port ssl crt $TLSD/haproxy.pem ssl-min-ver TLSv1.2
	    default_backend handler
	backend handler
	    server h 127.0.0.1:${PORT_OF[hb]} send-proxy-v2-ssl
	EOF
	timeout "$((TIMEOUT * 4))" haproxy -f "$TLSD/haproxy.cfg" -db \
	    >"$TLSD/haproxy.log" 2>&1 &
	PIDS+=($!)
	wait_listen "$port" || die "haproxy did not listen on $port"
	PORT_OF[hp]=$port
}

if [ "$USE_TLS" != no ]; then
	TLSD=$WORK/tls
	mkdir -p "$TLSD/state"
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
	    -nodes -days 7 -subj /CN=localhost -keyout "$TLSD/ec.key" \
	    -out "$TLSD/ec.crt" 2>/dev/null || die "no ECDSA certificate"
	openssl req -x509 -newkey rsa:2048 -nodes -days 7 -subj /CN=localhost \
	    -keyout "$TLSD/rsa.key" -out "$TLSD/rsa.crt" 2>/dev/null ||
	    die "no RSA certificate"
	chmod 600 "$TLSD"/*.key
	chmod 700 "$TLSD/state"
	chown -R "$MAIL_UID:$MAIL_GID" "$TLSD"
	chmod 755 "$TLSD"
	start_h hte --implicit-tls=yes --tls-cert="$TLSD/ec.crt" \
	    --tls-key="$TLSD/ec.key" \
	    --tls-ticket-key-file="$TLSD/state/ticket-key"
	start_h htr --implicit-tls=yes --tls-cert="$TLSD/rsa.crt" \
	    --tls-key="$TLSD/rsa.key" \
	    --tls-ticket-key-file="$TLSD/state/ticket-key"
	TLS_SERVERS=(hte)
	if [ "$HAVE_DOVECOT" = 1 ]; then
		start_dovecot_tls dt 0
		start_dovecot_tls dl 1
		TLS_SERVERS+=(dt dl)
	fi
	HAVE_HAPROXY=0
	if command -v haproxy >/dev/null; then
		start_haproxy
		HAVE_HAPROXY=1
	else
		note "haproxy is not installed: no S1T row through haproxy"
	fi
	echo "bench: TLS servers: $(for k in "${!PORT_OF[@]}"; do printf '%s=%s ' "$k" "${PORT_OF[$k]}"; done)" >&2

	USERNAME=u1
	for s in "${TLS_SERVERS[@]}" htr; do
		pb warmT "$s" login -c 1 -d 1 -n 2 --tls --expect-count "$S1_N"
	done
	for r in $(seq 1 "$REPEAT"); do
		for s in "${TLS_SERVERS[@]}"; do
			pb S1Te "$s" login -c "$S1_CLIENTS" -d "$S1_SECS" \
			    --tls --sigalgs=ecdsa --expect-count "$S1_N"
		done
		for s in htr "${TLS_SERVERS[@]:1}"; do
			pb S1Tr "$s" login -c "$S1_CLIENTS" -d "$S1_SECS" \
			    --tls --sigalgs=rsa --expect-count "$S1_N"
		done
		for s in "${TLS_SERVERS[@]}"; do
			pb S1TR "$s" login -c "$S1_CLIENTS" -d "$S1_SECS" \
			    --tls --resume --sigalgs=ecdsa --expect-count "$S1_N"
		done
		if [ "$HAVE_HAPROXY" = 1 ]; then
			pb S1Te hp login -c "$S1_CLIENTS" -d "$S1_SECS" \
			    --tls --sigalgs=ecdsa --expect-count "$S1_N"
		fi
	done
	USERNAME=u2
	c2=$(manifest u2 count) o2=$(manifest u2 octets)
	for s in "${TLS_SERVERS[@]}"; do
		pb warm2T "$s" fetch -W 1 --tls --expect-count "$c2"
	done
	for r in $(seq 1 "$REPEAT"); do
		for s in "${TLS_SERVERS[@]}"; do
			pb S2T "$s" fetch -W 1 --tls --expect-count "$c2" \
			    --expect-octets "$o2" --rss
		done
	done
	USERNAME=u4
	o4=$(manifest u4 octets)
	for s in "${TLS_SERVERS[@]}"; do
		pb warm4T "$s" fetch -W 1 --tls --expect-count 1
	done
	for r in $(seq 1 "$REPEAT"); do
		for s in "${TLS_SERVERS[@]}"; do
			pb S4T "$s" fetch -W 1 --tls --expect-count 1 \
			    --expect-octets "$o4" --rss
		done
	done
fi

# Sizes: every RETR of every run against its LIST size.
for s in $(servers); do
	for sc in warm2 S2 S2P warm4 S4; do
		[ -f "$WORK/res/$sc.$s" ] || continue
		bad=$(vals "$sc" "$s" mismatches | awk '{ t += $1 } END { print t + 0 }')
		n=$(vals "$sc" "$s" msgs | awk '{ t += $1 } END { print t + 0 }')
		[ "$bad" -gt 0 ] && note "$sc $(srvname "$s"): $bad of $n RETRs differ from their LIST size ($(manifest u2 nofinal) of the $c2 S2 messages lack a final newline)"
	done
	for sc in S2 S2P S4; do
		sm=$(vals "$sc" "$s" stat_mismatch | awk '{ t += $1 } END { print t + 0 }')
		[ "$sm" -gt 0 ] && note "$sc $(srvname "$s"): STAT octets differ from the generator's CRLF total in $sm runs ($(vals "$sc" "$s" stat_octets | head -1) vs $( [ "$sc" = S4 ] && manifest u4 octets || manifest u2 octets))"
	done
	ow=$(vals S2 "$s" rss_owners | sort -u | tr '\n' ' ')
	[ -n "$ow" ] && [ "$ow" != "1 " ] && note "$(srvname "$s"): socket owners found for RSS: $ow"
done
HANDLER_BAD=$(cat "$WORK"/res/*.h "$WORK"/res/*.h1 "$WORK"/res/*.hte 2>/dev/null | sed -n 's/.*\<mismatches=\([0-9]*\).*/\1/p' | awk '{ t += $1 } END { print t + 0 }')
HANDLER_RETR=$(cat "$WORK"/res/*.h "$WORK"/res/*.h1 "$WORK"/res/*.hte 2>/dev/null | sed -n 's/.*\<msgs=\([0-9]*\).*/\1/p' | awk '{ t += $1 } END { print t + 0 }')

# ---------------------------------------------------------------- table
# row LABEL UNIT SCENARIO KEY DIVISOR DIR TARGET
#   DIR hi: ratio = handler/dovecot, target "ratio >= TARGET";
#   DIR lo: ratio = handler/dovecot, target "ratio <= TARGET";
#   DIR abs: TARGET is a bound on the handler's median (<=).
row() {
	local label=$1 unit=$2 sc=$3 key=$4 div=$5 dir=$6 tgt=$7
	local h d hm dm ratio verdict tcol
	h=$(vals "$sc" h "$key" | awk -v d="$div" '{ print $1 / d }' | stats)
	d=$(vals "$sc" d "$key" | awk -v d="$div" '{ print $1 / d }' | stats)
	hm=${h%% *} dm=${d%% *}
	ratio=-
	if [ "$hm" != - ] && [ "$dm" != - ]; then
		ratio=$(awk -v a="$hm" -v b="$dm" 'BEGIN {
		    if (b == 0) print "-"; else printf "%.2fx", a / b }')
	fi
	verdict=-
	case $dir in
	hi) tcol=">= ${tgt}x"
	    [ "$ratio" != - ] && verdict=$(awk -v r="${ratio%x}" -v t="$tgt" \
		'BEGIN { print (r >= t ? "PASS" : "FAIL") }') ;;
	lo) tcol="<= ${tgt}x"
	    [ "$ratio" != - ] && verdict=$(awk -v r="${ratio%x}" -v t="$tgt" \
		'BEGIN { print (r <= t ? "PASS" : "FAIL") }') ;;
	abs) tcol="<= $tgt $unit"
	    [ "$hm" != - ] && verdict=$(awk -v r="$hm" -v t="$tgt" \
		'BEGIN { print (r <= t ? "PASS" : "FAIL") }') ;;
	*) tcol=$tgt ;;
	esac
	printf '%-30s %-7s %-26s %-26s %-7s %-12s %s\n' "$label" "$unit" \
	    "$(fmt $h)" "$(fmt $d)" "$ratio" "$tcol" "$verdict"
}

fmt() {	# fmt MED MIN MAX
	[ "$1" = - ] && { echo -; return; }
	awk -v m="$1" -v a="$2" -v b="$3" 'BEGIN {
		f = (m >= 100) ? "%.1f" : (m >= 1) ? "%.2f" : "%.3f"
		printf f " [" f "-" f "]\n", m, a, b }'
}

echo
echo "pop3-handler benchmark: median [min-max] of $REPEAT runs" \
    "($S2_REPEAT for S2, S2P);" \
    "$(nproc) CPUs; $(date -u '+%Y-%m-%d %H:%M UTC'); $((SECONDS - T0)) s"
echo "boxes: S1 $S1_N msgs; S2 $(manifest u2 count) msgs," \
    "$(manifest u2 octets) octets; S3 $(manifest u3 count) msgs," \
    "$(manifest u3 octets) octets; S4 1 msg, $(manifest u4 octets) octets"
printf '%-30s %-7s %-26s %-26s %-7s %-12s %s\n' scenario unit handler \
    dovecot ratio target verdict
row "S1 login+STAT, $S1_CLIENTS clients" "sess/s" S1 rate 1 hi 4
row "S1S SCRAM-SHA-256 login, 4096 it." "sess/s" S1S rate 1 info "-"
row "S2 fetch all, 1 in flight" "MB/s" S2 mbps 1 hi 2
row "S2P fetch all, $S2P_WINDOW in flight" "MB/s" S2P mbps 1 info "-"
row "S3 cold PASS->STAT" "s" S3c secs 1 lo 0.6
row "S3 warm PASS->STAT" "s" S3w secs 1 lo 0.5
row "  (S3 warm peak RSS, VmHWM)" "MiB" S3w rss_hwm_kb 1024 abs 16
row "  (private at end of S3 warm)" "MiB" S3w private_kb 1024 info "-"
row "S4 one $((S4_BYTES / 1000000)) MB message" "MB/s" S4 mbps 1 hi 3
row "S5 peak RSS (VmHWM) in S2" "MiB" S2 rss_hwm_kb 1024 abs 4
row "S5 peak RSS (VmHWM) in S2P" "MiB" S2P rss_hwm_kb 1024 abs 4
row "S5 peak RSS (VmHWM) in S4" "MiB" S4 rss_hwm_kb 1024 abs 4
row "  (RssAnon at end of S2)" "MiB" S2 rss_anon_kb 1024 info "-"
row "  (RssAnon at end of S4)" "MiB" S4 rss_anon_kb 1024 info "-"
row "  (private at end of S2)" "MiB" S2 private_kb 1024 info "-"
row "  (private at end of S4)" "MiB" S4 private_kb 1024 info "-"
# s2ratio LABEL SERVER: the handler's S2 median over its S2P median.
s2ratio() {
	local s2 s2p
	s2=$(vals S2 "$2" mbps | stats) s2p=$(vals S2P "$2" mbps | stats)
	[ "${s2%% *}" != - ] && [ "${s2p%% *}" != - ] || return 0
	awk -v l="$1" -v a="${s2%% *}" -v b="${s2p%% *}" 'BEGIN {
	    r = a / b; printf "%-30s %-7s %-26s %-26s %-7s %-12s %s\n",
	    l, "", sprintf("%.2f", r), "", "", ">= 0.85",
	    (r >= 0.85 ? "PASS" : "FAIL") }'
}
s2ratio "S2 / S2P (handler)" h
if [ -f "$WORK/res/S2.h1" ]; then
	for sc in S2 S2P; do
		printf '%-30s %-7s %-26s %-26s %-7s %-12s %s\n' \
		    "  ($sc, one CPU)" "MB/s" \
		    "$(fmt $(vals "$sc" h1 mbps | stats))" - - - -
	done
	s2ratio "  (S2 / S2P, one CPU)" h1
fi
printf '%-30s %-7s %-26s %-26s %-7s %-12s %s\n' "LIST size == RETR octets" "" \
    "$HANDLER_BAD bad of $HANDLER_RETR" "" "" "0 bad" \
    "$([ "$HANDLER_BAD" = 0 ] && [ "$HANDLER_RETR" -gt 0 ] && echo PASS || echo FAIL)"
# trow LABEL UNIT SCENARIO KEY DIVISOR HANDLER-ID DIR TARGET: a TLS row;
# the ratio is the handler over the better Dovecot.  DIR hi: ratio >=
# TARGET; min: the handler's median >= TARGET; info: no target; lo: no
# target, the better Dovecot is the smaller figure (times, memory).
trow() {
	local label=$1 unit=$2 sc=$3 key=$4 div=$5 hs=$6 dir=$7 tgt=$8
	local h d l hm dm lm best ratio=- verdict=- tcol=-
	h=$(vals "$sc" "$hs" "$key" | awk -v d="$div" '{ print $1 / d }' | stats)
	d=$(vals "$sc" dt "$key" | awk -v d="$div" '{ print $1 / d }' | stats)
	l=$(vals "$sc" dl "$key" | awk -v d="$div" '{ print $1 / d }' | stats)
	hm=${h%% *} dm=${d%% *} lm=${l%% *}
	# The better Dovecot: the larger figure, or for "lo" rows (times,
	# memory) the smaller one.
	best=$(awk -v a="$dm" -v b="$lm" -v lo="$([ "$dir" = lo ] && echo 1)" 'BEGIN {
	    if (a == "-" && b == "-") print "-"
	    else if (a == "-") print b; else if (b == "-") print a
	    else if (lo) print (a + 0 < b + 0 ? a : b)
	    else print (a + 0 > b + 0 ? a : b) }')
	if [ "$hm" != - ] && [ "$best" != - ] && [ "$dir" != min ]; then
		ratio=$(awk -v a="$hm" -v b="$best" 'BEGIN {
		    if (b == 0) print "-"; else printf "%.2fx", a / b }')
	fi
	case $dir in
	hi) tcol=">= ${tgt}x"
	    [ "$ratio" != - ] && verdict=$(awk -v r="${ratio%x}" -v t="$tgt" \
		'BEGIN { print (r >= t ? "PASS" : "FAIL") }') ;;
	min) tcol=">= $tgt"
	    [ "$hm" != - ] && verdict=$(awk -v r="$hm" -v t="$tgt" \
		'BEGIN { print (r >= t ? "PASS" : "FAIL") }') ;;
	esac
	printf '%-32s %-6s %-22s %-22s %-22s %-6s %-8s %s\n' "$label" \
	    "$unit" "$(fmt $h)" "$(fmt $d)" "$(fmt $l)" "$ratio" "$tcol" \
	    "$verdict"
}
if [ "$USE_TLS" != no ]; then
	echo
	echo "TLS (implicit TLS, TLS 1.3 unless the server picks less): the" \
	    "handler, Dovecot by default, Dovecot with long-lived login"
	echo "processes; ratio: the handler over the better Dovecot (for times and memory the smaller figure)." \
	    "Dovecot's memory is its pop3-login process (it holds the TLS socket)."
	printf '%-32s %-6s %-22s %-22s %-22s %-6s %-8s %s\n' scenario unit \
	    handler dovecot "dovecot long-lived" ratio target verdict
	trow "S1T login, ECDSA P-256" sess/s S1Te rate 1 hte hi 1.5
	trow "  connect to handshake done, p50" ms S1Te hs_p50_ms 1 hte lo -
	trow "S1T login, RSA-2048" sess/s S1Tr rate 1 htr hi 1.2
	trow "  connect to handshake done, p50" ms S1Tr hs_p50_ms 1 htr lo -
	trow "S1T-R login, resumption offered" sess/s S1TR rate 1 hte hi 1.5
	trow "  connect to handshake done, p50" ms S1TR hs_p50_ms 1 hte lo -
	trow "  S1T-R share resumed" % S1TR resumed_pct 1 hte min 90
	if [ "${HAVE_HAPROXY:-0}" = 1 ]; then
		trow "S1T via haproxy (TLS there)" sess/s S1Te rate 1 hp info -
		trow "  connect to handshake done, p50" ms S1Te hs_p50_ms 1 \
		    hp lo -
	fi
	trow "S2T fetch all, 1 in flight" MB/s S2T mbps 1 hte hi 4
	trow "S4T one $((S4_BYTES / 1000000)) MB message" MB/s S4T mbps 1 hte hi 4
	trow "  peak RSS (VmHWM) in S2T" MiB S2T rss_hwm_kb 1024 hte lo -
	trow "  RssAnon at end of S2T" MiB S2T rss_anon_kb 1024 hte lo -
	trow "  private at end of S2T" MiB S2T private_kb 1024 hte lo -
	trow "  peak RSS (VmHWM) in S4T" MiB S4T rss_hwm_kb 1024 hte lo -
	trow "  RssAnon at end of S4T" MiB S4T rss_anon_kb 1024 hte lo -
	trow "  private at end of S4T" MiB S4T private_kb 1024 hte lo -
fi
if [ "${#NOTES[@]}" -gt 0 ]; then
	echo "notes:"
	for n in "${NOTES[@]}"; do echo "  - $n"; done
fi
exit 0
