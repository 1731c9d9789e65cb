#!/usr/bin/env bats
# The warm login (spec 6, uidmap.h cur=): the state file is read a chunk
# of 64 KiB at a time, the names kept in one block, and the snapshot made
# from the records in place.  These tests cross what that could break: a
# state file of several chunks (lines split between reads), lines longer
# than the read buffer, names at the length limit, and the file names a
# warm snapshot makes up from name and info (RETR, DELE).

load helpers/load
load helpers/mail

# many N: N messages in cur/ (flags ":2,S"), sizes varying, delivery
# times increasing.
many() {
	python3 - "$MD/cur" "$1" <<-'EOF'
	import os, sys
	d, n = sys.argv[1], int(sys.argv[2])
	for i in range(n):
	    name = '%d.M%dP%d.host:2,S' % (1700000000 + i, i, i % 7)
	    with open(os.path.join(d, name), 'w') as f:
	        f.write('Subject: %d\n\n%s\n' % (i, 'x' * (i % 97)))
	EOF
}

# warm_ready: the state file says cur/ is its listing (cur=), so the next
# login takes the snapshot from the records.
warm_ready() {
	head -1 "$MD/pop3-handler-uidlist" | grep -qE ' cur=[1-9][0-9]*$'
}

# replies: $out without the login lines (greeting, USER, PASS).
replies() {
	tail -n +4 "$out"
}

# rebuilt_above OLD: a login whose state file is rebuilt; its 50 UIDLs
# (kept in $T/new) all lie above every UID of the UIDL listing in OLD.
rebuilt_above() {
	local max min
	session UIDL | chat
	[ "$status" -eq 0 ]
	grep -qi 'rebuil' "$log"
	uidl_body >"$T/new"
	[ "$(wc -l <"$T/new")" -eq 50 ]
	max=$(awk '{ print $2 }' "$1" | sort -n | tail -1)
	min=$(awk '{ print $2 }' "$T/new" | sort -n | head -1)
	[ "$min" -gt "$max" ]
}

@test "a state file of many read chunks: the warm login lists what the first did; RETR and DELE find the file (spec 6)" {
	setup_alice
	many 3000
	total=$(python3 -c '
import os, sys
t = 0
for n in os.listdir(sys.argv[1]):
    d = open(os.path.join(sys.argv[1], n), "rb").read()
    o = d.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    t += len(o) + (2 if o and not o.endswith(b"\r\n") else 0)
print(t)' "$MD/cur")
	session STAT UIDL LIST | chat
	[ "$status" -eq 0 ]
	line_is 4 "+OK 3000 $total"
	replies >"$T/first"
	warm_ready
	[ "$(stat -c %s "$MD/pop3-handler-uidlist")" -gt $((3 * 65536)) ]
	ino=$(stat -c %i:%Y "$MD/pop3-handler-uidlist")
	session STAT UIDL LIST | chat
	[ "$status" -eq 0 ]
	replies >"$T/warm"
	cmp "$T/first" "$T/warm"
	# the warm login wrote nothing
	[ "$(stat -c %i:%Y "$MD/pop3-handler-uidlist")" = "$ino" ]
	# a message in the middle: its file is name:info, made up again
	f=$MD/cur/1700001500.M1500P2.host:2,S
	to_crlf "$f" >"$T/body"
	session 'RETR 1501' 'DELE 1501' | chat
	[ "$status" -eq 0 ]
	line_is 4 "+OK $(wc -c <"$T/body") octets"
	{ cat "$T/body"; crlf . '+OK Message 1501 deleted' '+OK Bye'; } \
	    >"$T/exp"
	expect_after_file 5 "$T/exp"
	[ ! -e "$f" ]
	[ "$(find "$MD/cur" -type f | wc -l)" -eq 2999 ]
	# the others keep their UIDs
	session UIDL | chat
	uidl_body | awk '{ print $2 }' >"$T/u2"
	grep -v '^1501 ' "$T/first" | tr -d '\r' | awk '
	    /^\+OK Unique-ID/ { on = 1; next } on && /^\.$/ { exit }
	    on { print $2 }' >"$T/u1"
	cmp "$T/u1" "$T/u2"
}

@test "uidl = filename: the warm login lists what the first did, in delivery order (spec 6)" {
	setup_alice
	many 300
	mv "$MD/cur/1700000007.M7P0.host:2,S" "$MD/cur/1600000000.Mlate.host:2,S"
	session UIDL LIST | chat --uidl=filename
	[ "$status" -eq 0 ]
	line_is 4 '+OK Unique-ID listing follows'
	line_is 5 '1 1600000000.Mlate.host'
	replies >"$T/first"
	warm_ready
	session UIDL LIST | chat --uidl=filename
	[ "$status" -eq 0 ]
	replies >"$T/warm"
	cmp "$T/first" "$T/warm"
}

@test "lines longer than the read buffer: long version 3 items are read, a long record is corrupt and rebuilt above the old UIDs (spec 6)" {
	setup_alice
	many 50
	session UIDL | chat
	uidl_body >"$T/u1"
	warm_ready
	# The same records as version 3, with a header item and an '@' line
	# of 100,000 octets each (both ignored by a version 3 reader).
	long=$(head -c 100000 /dev/zero | tr '\0' 'q')
	awk -v long="$long" 'NR == 1 { sub(/ 1 /, " 3 "); print $0 " future=" long; next }
	    { n = $1 " " $2 " " $3 " " $4 " -"; $1 = $2 = $3 = $4 = ""
	      sub(/^ +/, ""); print n " " $0 }
	    END { print "@future " long }' \
	    "$MD/pop3-handler-uidlist" >"$T/v3"
	cat "$T/v3" >"$MD/pop3-handler-uidlist"
	session UIDL | chat
	[ "$status" -eq 0 ]
	uidl_body >"$T/u2"
	cmp "$T/u1" "$T/u2"
	! grep -qi 'rebuil' "$log"
	cmp "$T/v3" "$MD/pop3-handler-uidlist"
	# A record whose name is 100,000 octets is corrupt: rebuilt, and
	# no UID handed out before comes back.
	printf '40 1 1 1 -%s\n' " $long" >>"$MD/pop3-handler-uidlist"
	rebuilt_above "$T/u1"
}

@test "a 255-octet file name: sized, listed warm, retrieved and removed (spec 5, 6)" {
	setup_alice
	base=1700000000.$(head -c 240 /dev/zero | tr '\0' 'n')
	base=${base:0:251}
	f=$MD/cur/$base:2,S
	[ "${#base}" -eq 251 ]
	printf 'Subject: long\n\nbody\n' >"$f"
	putf cur 1700000001.M1P1.host:2,S 'short\n'
	session LIST UIDL | chat
	[ "$status" -eq 0 ]
	replies >"$T/first"
	line_is 5 "1 $(to_crlf "$f" | wc -c)"
	warm_ready
	grep -qF " $base:2,S" "$MD/pop3-handler-uidlist"
	session LIST UIDL | chat
	[ "$status" -eq 0 ]
	replies >"$T/warm"
	cmp "$T/first" "$T/warm"
	to_crlf "$f" >"$T/body"
	session 'RETR 1' 'DELE 1' | chat
	[ "$status" -eq 0 ]
	{ cat "$T/body"; crlf . '+OK Message 1 deleted' '+OK Bye'; } >"$T/exp"
	expect_after_file 5 "$T/exp"
	[ ! -e "$f" ]
	[ -e "$MD/cur/1700000001.M1P1.host:2,S" ]
}

@test "a state file naming one message twice is corrupt and rebuilt above the old UIDs, near or far apart (spec 6)" {
	setup_alice
	many 50
	session UIDL | chat
	uidl_body >"$T/u1"
	for pair in 2:5 3:45; do
		warm_ready
		a=${pair%:*} b=${pair#*:}
		# record b (line b + 1) gets record a's name and flags
		awk -v a="$((a + 1))" -v b="$((b + 1))" '
		    { line[NR] = $0 }
		    END { split(line[a], f, " "); n = split(line[b], g, " ")
			  g[5] = f[5]; line[b] = g[1]
			  for (i = 2; i <= n; i++) line[b] = line[b] " " g[i]
			  for (i = 1; i <= NR; i++) print line[i] }' \
		    "$MD/pop3-handler-uidlist" >"$T/dup"
		cat "$T/dup" >"$MD/pop3-handler-uidlist"
		[ "$(awk 'NR > 1 { print $5 }' "$T/dup" | sort | uniq -d | wc -l)" -eq 1 ]
		rebuilt_above "$T/u1"
		cp "$T/new" "$T/u1"
	done
}
