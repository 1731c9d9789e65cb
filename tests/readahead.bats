#!/usr/bin/env bats
# bats file_tags=quick
# Readahead (doc/design.md 6): after RETR n, while the client reads the answer,
# the handler reads and transforms message n+1.  RETR n+1 must still
# answer exactly what it would without it (spec 3 RETR), and a message
# removed or replaced meanwhile is treated as before (C0004).

load helpers/load
load helpers/mail

# gen_msgs SEED SIZE...: one message per SIZE (octets, about) in cur/,
# named in delivery order, each starting "X-Seq: k".  Their lines mix
# LF and CRLF ends, dots at line starts, bare CRs, CRs at the 64 KiB
# read boundaries; some files end without a newline or in a lone CR.
gen_msgs() {
	python3 - "$MD/cur" "$@" <<-'EOF'
	import random, sys
	d, seed, sizes = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
	r = random.Random(seed)
	for k, size in enumerate(sizes, 1):
	    size = int(size)
	    m = bytearray(b'X-Seq: %d\nSubject: m%d\n\n' % (k, k))
	    while len(m) < size:
	        n = r.choice((0, 1, 5, 40, 76, 76, 200, 998))
	        ln = bytes(r.choice(b'abc .\r') if r.random() < 0.1 else
	            r.choice(b'abcdefgh ') for _ in range(n))
	        if r.random() < 0.15:
	            ln = b'.' + ln
	        m += ln.replace(b'\r', b'') + r.choice((b'\n', b'\r\n'))
	    # a CR just before the LF at each 64 KiB read boundary
	    for b in range(65535, len(m) - 1, 65536):
	        if m[b + 1:b + 2] == b'\n':
	            m[b] = 13
	    end = k % 4
	    if end == 1:
	        m = m.rstrip(b'\r\n') + b'\n.last'
	    elif end == 2:
	        m = m.rstrip(b'\r\n') + b'\nx\r'
	    open('%s/%d.M%dP1.host:2,' % (d, 1700000000 + k, k), 'wb').write(m)
	EOF
}

serial_fetch() {
	python3 "$TOP/tests/helpers/serial-fetch.py" "$HANDLER" "$PASSWD" \
	    "$MD" "$log" "$@"
}

@test "RETR in order: every answer byte for byte, sizes around the 256 KiB readahead (spec 3 RETR)" {
	setup_alice
	gen_msgs 1 300 70000 262000 262144 262200 270000 700000 1 65536 \
	    131072 5000 524288 40
	run serial_fetch
	[ "$status" -eq 0 ] || { echo "$output" >&2; false; }
	[ "$output" = 13 ]
}

@test "RETR in order over many small messages, with DELE between them like fetchmail (spec 3 RETR)" {
	setup_alice
	gen_msgs 7 $(seq 100 37 3800)
	SERIAL_DELE=1 run serial_fetch
	[ "$status" -eq 0 ] || { echo "$output" >&2; false; }
	[ "$output" = 101 ]
	# QUIT removed them all
	[ -z "$(ls "$MD/cur")" ]
}

# rchar PID: octets the process has read so far (/proc/PID/io).
rchar() {
	sed -n 's/^rchar: //p' "/proc/$1/io"
}

# wait_dots NAME N: waits (at most 10 s) until session NAME has sent N
# multi-line answers (lines that are just "."), then 0.3 s more.
wait_dots() {
	local i
	for i in $(seq 1 $((200 * SLOW))); do
		if [ "$(grep -ac $'^\\.\r$' "$T/$1.out")" -ge "$2" ]; then
			sleep 0.3
			return 0
		fi
		sleep 0.05
	done
	echo "session $1: fewer than $2 answers after 10 s" >&2
	return 1
}

# after_retr1 SIZE...: alice's messages of those sizes; session A has
# logged in and answered RETR 1, so message 2 has been read ahead.
after_retr1() {
	setup_alice
	gen_msgs 3 "$@"
	sess_start A
	sess_send A 'USER alice' 'PASS pw' 'RETR 1'
	wait_dots A 1
}

# retr2_sends FILE: RETR 2 then QUIT in session A; the answer to RETR 2
# is the text of FILE as it is now (which holds a "z").
retr2_sends() {
	sess_send A 'RETR 2' QUIT
	sess_end A
	[ "$status" -eq 0 ]
	awk '/^X-Seq: 2\r$/ { on = 1 } on' "$out" | head -c 3000 >"$T/got"
	to_crlf "$1" >"$T/c"
	stuff "$T/c" | head -c 3000 >"$T/want"
	grep -aq z "$T/got"
	cmp "$T/got" "$T/want"
}

@test "after RETR 1 the handler reads message 2 before RETR 2 comes (readahead)" {
	setup_alice
	gen_msgs 3 200 300000
	sess_start A
	sess_send A 'USER alice' 'PASS pw'
	sess_wait A 3
	pid=$(sess_handler_pid A)
	[ -n "$pid" ]
	r0=$(rchar "$pid")	# the first login read every message (sizes)
	sess_send A 'RETR 1'
	wait_dots A 1
	# message 2 is 300 kB; without readahead RETR 1 reads 200 octets.
	[ $(($(rchar "$pid") - r0)) -gt 200000 ]
	sess_send A 'RETR 2' QUIT
	sess_end A
	[ "$status" -eq 0 ]
	tr -d '\r' <"$out" | grep -c '^X-Seq: ' | grep -qx 2
	tail -c 9 "$out" | cmp -s - <(printf '.\r\n+OK Bye\r\n' | tail -c 9)
}

@test "no readahead after a RETR out of order, nor after TOP" {
	setup_alice
	gen_msgs 3 200 300000 200 300000
	sess_start A
	sess_send A 'USER alice' 'PASS pw'
	sess_wait A 3
	pid=$(sess_handler_pid A)
	[ -n "$pid" ]
	r0=$(rchar "$pid")
	sess_send A 'RETR 3' 'TOP 1 0'
	wait_dots A 2
	# RETR 3 was the first RETR, so message 4 (300 kB) was read ahead
	# (about 256 KiB of it); TOP 1 after it reads nothing ahead, and
	# RETR 1 after RETR 3 is out of order: message 2 is never read.
	r1=$(($(rchar "$pid") - r0))
	[ "$r1" -gt 200000 ]
	[ "$r1" -lt 450000 ]
	sess_send A 'RETR 1'
	wait_dots A 3
	[ $(($(rchar "$pid") - r0)) -lt 450000 ]
	sess_send A QUIT
	sess_end A
	[ "$status" -eq 0 ]
}

@test "a message read ahead, then removed by another session: removed from the maildrop (C0004)" {
	after_retr1 200 5000 200
	session 'DELE 2' | chat
	[ "$status" -eq 0 ]
	sess_send A 'RETR 2' 'RETR 3' QUIT
	sess_end A
	[ "$status" -eq 0 ]
	grep -aq '^-ERR Message 2 was removed from the maildrop' "$out"
	grep -aq '^X-Seq: 3' "$out"
}

@test "a message read ahead, then renamed (flags changed): RETR sends it (spec 5, C0004)" {
	after_retr1 200 5000
	mv "$MD/cur/1700000002.M2P1.host:2," "$MD/cur/1700000002.M2P1.host:2,S"
	sess_send A 'RETR 2' QUIT
	sess_end A
	[ "$status" -eq 0 ]
	grep -aq '^X-Seq: 2' "$out"
	tail -c 9 "$out" | cmp -s - <(printf '.\r\n+OK Bye\r\n' | tail -c 9)
}

@test "a message read ahead, then replaced by another file of that name: RETR sends the new file (spec 3)" {
	after_retr1 200 5000
	f="$MD/cur/1700000002.M2P1.host:2,"
	sed 's/a/z/g' "$f" >"$MD/tmp/x"
	mv "$MD/tmp/x" "$f"
	retr2_sends "$f"
}

@test "a message read ahead, then rewritten in place (same inode): RETR sends the new bytes (spec 3)" {
	after_retr1 200 5000
	f="$MD/cur/1700000002.M2P1.host:2,"
	ino=$(stat -c %i "$f")
	sed 's/a/z/g' "$f" >"$T/new"
	cat "$T/new" >"$f"	# same inode, same size, new bytes
	[ "$(stat -c %i "$f")" = "$ino" ]
	retr2_sends "$f"
}
