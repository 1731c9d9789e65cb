#!/usr/bin/env bats
# spec 4: brute force without a daemon.  Password failures are counted per
# peer in the penalty file, across connections; the peer's next attempt
# waits auth-fail-delay * 2^(failures - 1) s (at most 30) before its
# password is checked; a success clears the record.  Peers come from PROXY
# headers, as in tls-policy.bats: pipes and loopback are never penalised.
# Also here: unknown and known users cost the same time (spec 4).

load helpers/load
load helpers/proto

setup() {
	common_setup
	add_user alice s3cret
	PEN=$T/penalty
}

# attempt PEER PASSWORD [ARGS...]: one connection from PEER (PROXY v1, or
# v1 TCP6 for an address with a colon) with USER alice / PASS PASSWORD and
# QUIT; --debug, auth-fail-delay 1 unless ARGS say otherwise.  Wall time
# in $ms.
attempt() {
	local peer=$1 pw=$2 proto=TCP4 dst=192.0.2.1 t0
	shift 2
	case $peer in *:*) proto=TCP6 dst=2001:db8::ffff ;; esac
	t0=$(now_ms)
	{
		printf 'PROXY %s %s %s 40000 110\r\n' "$proto" "$peer" "$dst"
		crlf 'USER alice' "PASS $pw" QUIT
	} | chat --proxy-protocol=yes --plaintext-auth=always \
	    --penalty-file="$PEN" --debug --auth-fail-delay=1 "$@"
	ms=$(($(now_ms) - t0))
	echo "attempt from $peer: ${ms} ms" >&2
}

# waited N: this connection's log says it waited N s before the check.
waited() {
	grep -qx "pop3-handler: penalty: waiting $1 s before the check" "$log"
}

not_waited() {
	! grep -q 'penalty: waiting' "$log" || false
}

# record PEER4 COUNT AGE: prints one 32-octet record for IPv4 PEER4 with
# COUNT failures, the last AGE seconds ago (negative: in the future), at
# the offset of its home slot; for building hostile files.
put_record() {
	python3 - "$PEN" "$1" "$2" "$3" <<'EOF'
import socket, struct, sys, time
path, peer, count, age = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
key = b"\0" * 10 + b"\xff\xff" + socket.inet_aton(peer)
h = 2166136261
for b in key:
    h = ((h ^ b) * 16777619) & 0xffffffff
with open(path, "r+b") as f:
    f.seek(32 + (h % 1024) * 32)
    f.write(key + struct.pack("=IIq", count, 0, int(time.time()) - age))
EOF
}

@test "failures from one peer delay its next attempts across connections, doubling (spec 4 penalty)" {
	attempt 192.0.2.9 wrong1
	[ "$status" -eq 0 ]
	line_is 3 "$FAIL"
	not_waited
	attempt 192.0.2.9 wrong2
	line_is 3 "$FAIL"
	waited 1
	[ "$ms" -ge 2000 ]	# 1 s penalty + 1 s auth-fail-delay
	attempt 192.0.2.9 wrong3
	line_is 3 "$FAIL"
	waited 2
	[ "$ms" -ge 3000 ]
}

@test "failures in one connection count for its next attempt too (spec 4 penalty)" {
	{
		printf 'PROXY TCP4 192.0.2.9 192.0.2.1 40000 110\r\n'
		crlf 'USER alice' 'PASS a' 'USER alice' 'PASS b' QUIT
	} | chat --proxy-protocol=yes --plaintext-auth=always \
	    --penalty-file="$PEN" --debug --auth-fail-delay=1
	[ "$status" -eq 0 ]
	[ "$(grep -c 'penalty: waiting' "$log")" -eq 1 ]
	waited 1
}

@test "another peer is not slowed by one peer's failures (spec 4 penalty)" {
	attempt 192.0.2.9 wrong
	attempt 192.0.2.9 wrong
	attempt 192.0.2.10 wrong
	line_is 3 "$FAIL"
	not_waited
}

@test "a success clears the peer's record (spec 4 penalty)" {
	attempt 192.0.2.9 wrong
	attempt 192.0.2.9 s3cret
	line_is 3 '+OK Logged in, 0 messages (0 octets)'
	waited 1		# the penalty applies to a right password too
	attempt 192.0.2.9 wrong
	line_is 3 "$FAIL"
	not_waited
}

@test "with auth-fail-delay=0 failures are counted but cost no time (spec 1, 4 penalty)" {
	attempt 192.0.2.9 wrong --auth-fail-delay=0
	attempt 192.0.2.9 wrong --auth-fail-delay=0
	not_waited
	attempt 192.0.2.9 wrong
	waited 2		# two failures on record: 1 * 2^1
}

@test "IPv6 peers count per /64 (spec 4 penalty)" {
	attempt 2001:db8::1 wrong
	attempt 2001:db8::2:3 wrong
	waited 1
	attempt 2001:db8:0:1::1 wrong
	not_waited
}

@test "pipes and loopback peers are never penalised; the file is not even created (spec 4 penalty)" {
	local i
	for i in 1 2; do
		crlf 'USER alice' 'PASS wrong' QUIT |
		    chat --penalty-file="$PEN" --debug --auth-fail-delay=1
		line_is 3 "$FAIL"
		not_waited
	done
	for i in 127.0.0.1 127.1.2.3 ::1 ::ffff:127.0.0.1; do
		attempt "$i" wrong
		line_is 3 "$FAIL"
		not_waited
	done
	[ ! -e "$PEN" ]
}

@test "the penalty file is created 0600 with its fixed size (spec 4 penalty)" {
	attempt 192.0.2.9 wrong
	[ "$(stat -c %a "$PEN")" = 600 ]
	[ "$(stat -c %s "$PEN")" -eq 32800 ]
	head -c 28 "$PEN" | grep -qx 'pop3-handler penalty file 1'
}

@test "a failure's log entry names the user and, at its end, the peer (spec 4 penalty, 9)" {
	attempt 192.0.2.9 wrong
	grep -qx 'pop3-handler: event=login-failed user=alice remote=192.0.2.9 mech=user authentication failed: bad password from 192.0.2.9' "$log"
	{
		printf 'PROXY TCP4 192.0.2.9 192.0.2.1 40000 110\r\n'
		crlf 'USER nobody' 'PASS x' QUIT
	} | chat --proxy-protocol=yes --plaintext-auth=always --penalty-file=none
	grep -qx 'pop3-handler: event=login-failed user=nobody remote=192.0.2.9 mech=user authentication failed: unknown user from 192.0.2.9' "$log"
}

@test "a penalty file that cannot be used never blocks a login: one warning per connection (spec 4 penalty)" {
	PEN=$T/no-such-dir/nor-this/penalty	# only the last directory is created
	{
		printf 'PROXY TCP4 192.0.2.9 192.0.2.1 40000 110\r\n'
		crlf 'USER alice' 'PASS a' 'USER alice' 'PASS b' \
		    'USER alice' 'PASS s3cret' QUIT
	} | chat --proxy-protocol=yes --plaintext-auth=always \
	    --penalty-file="$PEN" --max-auth-failures=3
	[ "$status" -eq 0 ]
	line_is 7 '+OK Logged in, 0 messages (0 octets)'
	[ "$(grep -c 'penalty file' "$log")" -eq 1 ]
	grep -q "penalty file $PEN unusable, no brute-force penalty: cannot open: No such file or directory" "$log"
}

@test "the penalty file is never followed through a symlink (spec 4 penalty)" {
	echo precious >"$T/target"
	ln -s "$T/target" "$PEN"
	attempt 192.0.2.9 wrong
	attempt 192.0.2.9 s3cret
	line_is 3 '+OK Logged in, 0 messages (0 octets)'
	grep -q "penalty file $PEN unusable, no brute-force penalty: cannot open: Too many levels of symbolic links" "$log"
	[ "$(cat "$T/target")" = precious ]
}

@test "a penalty file with another link is refused, not written (spec 4 penalty)" {
	echo precious >"$T/target"
	ln "$T/target" "$PEN"
	attempt 192.0.2.9 wrong
	line_is 3 "$FAIL"
	grep -q "penalty file $PEN unusable, no brute-force penalty: not a regular file with one link owned by this user" "$log"
	[ "$(cat "$T/target")" = precious ]
}

@test "a penalty file of the wrong size or header is reset, with a warning (spec 4 penalty)" {
	printf 'garbage\n' >"$PEN"
	chmod 600 "$PEN"
	attempt 192.0.2.9 wrong
	line_is 3 "$FAIL"
	grep -qx "pop3-handler: penalty file $PEN was not a penalty file; reset" "$log"
	[ "$(stat -c %s "$PEN")" -eq 32800 ]
	attempt 192.0.2.9 wrong
	waited 1
}

@test "hostile records: future, expired and huge counts are bounded (spec 4 penalty)" {
	attempt 192.0.2.200 wrong	# a valid, empty file
	put_record 192.0.2.9 5 -3600	# an hour in the future: empty
	attempt 192.0.2.9 wrong
	not_waited
	put_record 192.0.2.9 5 960	# 16 minutes ago: expired
	attempt 192.0.2.9 wrong
	not_waited
	put_record 192.0.2.9 2 10	# the file's format, as documented
	attempt 192.0.2.9 wrong
	waited 2
	# 2^32 - 1 failures: the wait is capped at 30 s.  The handler is
	# stopped after 2 s; the debug line comes before the sleep.
	put_record 192.0.2.9 4294967295 0
	status=0
	{
		printf 'PROXY TCP4 192.0.2.9 192.0.2.1 40000 110\r\n'
		crlf 'USER alice' 'PASS x' QUIT
	} | timeout 2 "$HANDLER" --passwd-file="$PASSWD" --log=stderr \
	    --proxy-protocol=yes --plaintext-auth=always --debug \
	    --penalty-file="$PEN" --auth-fail-delay=1 >"$out" 2>"$log" ||
	    status=$?
	[ "$status" -eq 124 ]
	waited 30
}

@test "penalty-file takes an absolute path or none (spec 1, 4 penalty)" {
	crlf QUIT | chat --penalty-file=relative/path
	[ "$status" -eq 2 ]
	grep -q 'expected an absolute path or none' "$log"
	attempt 192.0.2.9 wrong --penalty-file=none
	attempt 192.0.2.9 wrong --penalty-file=none
	not_waited
	[ ! -e "$PEN" ]
	printf 'penalty-file = %s\n' "$PEN" >"$T/conf"
	attempt 192.0.2.9 wrong --config="$T/conf"
	[ -s "$PEN" ]
}

# median: the middle of the numbers on stdin (the upper one of two).
median() {
	sort -n | awk '{ v[NR] = $1 } END { print v[int(NR / 2) + 1] }'
}

@test "an unknown user costs the same time as a known one with a wrong password (spec 4)" {
	local hash i t0 kind pw u
	: >"$PASSWD"
	hash=$(printf 'Right-Pw\n' | "$HANDLER" --hash-password)
	case $hash in '$y$'*) ;; *) false ;; esac
	user_line alice "$hash"
	: >"$T/known"
	: >"$T/unknown"
	# Interleaved, so that load on the machine hits both alike.
	for i in $(seq 30); do
		for kind in known unknown; do
			pw=Wrong-Pw
			[ "$kind" = known ] && u=alice || u=nobody-$i
			t0=$(date +%s%N)
			crlf "USER $u" "PASS $pw" QUIT |
			    chat --penalty-file=none --auth-fail-delay=0
			echo $((($(date +%s%N) - t0) / 1000)) >>"$T/$kind"
			[ "$status" -eq 0 ]
			line_is 3 "$FAIL"
		done
	done
	local mk mu ratio
	mk=$(median <"$T/known")
	mu=$(median <"$T/unknown")
	ratio=$(awk -v a="$mu" -v b="$mk" 'BEGIN { printf "%.3f", a / b }')
	printf '# median known=%d us unknown=%d us ratio=%s (30 tries each, $y$)\n' \
	    "$mk" "$mu" "$ratio" | tee -a "${POP3_TIMING_FILE:-/dev/null}" >&3
	awk -v r="$ratio" 'BEGIN { exit !(r >= 0.7 && r <= 1.4) }'
}
