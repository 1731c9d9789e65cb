#!/usr/bin/env bats
# bats file_tags=quick
# uidl = counter (default): decimal UIDs that increase with arrival, stay
# the same across sessions, are never reused, survive concurrent first
# logins and a lost or corrupt state file (spec 5, 6; C0007-C0009).

load helpers/load
load helpers/mail

# three_new: four messages in new/ with distinct sizes (delivery order:
# 3, 8, 4, 5 octets), written out of delivery order.
three_new() {
	setup_alice
	putf new 1700000003.M1P1.host 'ccc'
	putf new 999999999.M1P1.host 'a'
	putf new 1700000000.M2P1.host 'bb'
	putf new 1700000000.M1P1.host 'xyzxyz'
}

# uids: the UIDL listing of $out as "n uid" lines; checks the format.
uids() {
	uidl_body >"$T/uidl"
	grep -qvE '^[1-9][0-9]* [0-9]+$' "$T/uidl" && {
		echo "bad UIDL line: $(grep -vE '^[1-9][0-9]* [0-9]+$' "$T/uidl")" >&2
		return 1
	}
	cat "$T/uidl"
}

# increasing FILE: the UIDs (column 2) strictly increase with n.
increasing() {
	awk 'NR != $1 { exit 1 } NR > 1 && $2 + 0 <= prev { exit 1 }
	    { prev = $2 + 0 }' "$1"
}

@test "UIDL lists n uid with decimal UIDs increasing with n (spec 6 counter)" {
	three_new
	session UIDL | chat
	[ "$status" -eq 0 ]
	line_is 4 '+OK Unique-ID listing follows'
	uids >"$T/u1"
	[ "$(wc -l <"$T/u1")" -eq 4 ]
	increasing "$T/u1"
	[ "$(after 9)" = "$(printf '.\r\n+OK Bye\r\n')" ]
}

@test "new arrivals are numbered in delivery order: time, then name (spec 5)" {
	three_new
	session LIST | chat
	expect_after 4 '+OK 4 messages (20 octets)' '1 3' '2 8' '3 4' '4 5' \
	    '.' '+OK Bye'
}

@test "the same UIDs in a second session (spec 6 counter, C0007)" {
	three_new
	session UIDL | chat
	uids >"$T/u1"
	session UIDL | chat
	uids >"$T/u2"
	cmp "$T/u1" "$T/u2"
}

@test "messages with UIDs keep their order; later arrivals come after (spec 5)" {
	setup_alice
	putf new 1700000005.M1P1.host 'five\n'
	session UIDL | chat
	uids >"$T/u1"
	# Delivered later but with an earlier time in its name.
	putf new 1600000000.M1P1.host 'x\n'
	session LIST UIDL | chat
	expect_after 4 '+OK 2 messages (9 octets)' '1 6' '2 3' '.' \
	    "+OK Unique-ID listing follows" "$(cat "$T/u1")" \
	    "$(uids | sed -n 2p)" '.' '+OK Bye'
	uids >"$T/u2"
	increasing "$T/u2"
}

@test "a UID is never reused after deletion; new ones are larger (spec 6, C0008)" {
	three_new
	session UIDL | chat
	uids >"$T/u1"
	# Remove the message with the highest UID and one more.
	session 'DELE 4' 'DELE 1' | chat
	[ "$status" -eq 0 ]
	putf new 1700000009.M1P1.host 'new\n'
	session UIDL | chat
	uids >"$T/u2"
	[ "$(wc -l <"$T/u2")" -eq 3 ]
	local max new
	max=$(awk '{ print $2 }' "$T/u1" | sort -n | tail -1)
	new=$(sed -n 3p "$T/u2" | awk '{ print $2 }')
	[ "$new" -gt "$max" ]
	# The survivors keep their UIDs.
	[ "$(sed -n 1,2p "$T/u2" | awk '{ print $2 }')" = \
	    "$(sed -n 2,3p "$T/u1" | awk '{ print $2 }')" ]
}

@test "UIDL n gives one listing, equal to the full listing's (spec 6)" {
	three_new
	session UIDL 'UIDL 3' | chat
	uids >"$T/u1"
	line_is 10 "+OK $(sed -n 3p "$T/u1")"
}

@test "UIDL skips a deleted message; UIDL n of it is an error (spec 3, 6)" {
	three_new
	session UIDL 'DELE 2' UIDL 'UIDL 2' | chat
	uids >"$T/u1"
	expect_after 10 '+OK Message 2 deleted' \
	    '+OK Unique-ID listing follows' "$(sed -n 1p "$T/u1")" \
	    "$(sed -n 3p "$T/u1")" "$(sed -n 4p "$T/u1")" '.' \
	    '-ERR Message 2 is deleted' '+OK Bye'
}

@test "UIDL n argument errors (spec 2 message numbers)" {
	three_new
	session 'UIDL 0' 'UIDL 5' 'UIDL x' 'UIDL 1 2' | chat
	expect_after 4 '-ERR No such message' '-ERR No such message' \
	    '-ERR Invalid message number: not a number' \
	    '-ERR Too many arguments' '+OK Bye'
}

@test "the state file is Maildir/pop3-handler-uidlist (spec 6)" {
	three_new
	session UIDL | chat
	[ -s "$MD/pop3-handler-uidlist" ]
}

# race_round: 200 new messages, two first logins at once; each
# transcript maps message numbers to names (X-Name header) and UIDs.
race_check() {
	python3 - "$T/A.out" "$T/B.out" <<-'EOF'
	import sys
	def parse(path):
	    lines = open(path, 'rb').read().split(b'\r\n')
	    assert lines[2].startswith(b'+OK Logged in, 200 messages'), lines[2]
	    i = lines.index(b'+OK Unique-ID listing follows') + 1
	    uid = {}
	    while lines[i] != b'.':
	        n, u = lines[i].split(b' ')
	        uid[int(n)] = int(u)
	        i += 1
	    name = {}
	    n = 0
	    for l in lines[i:]:
	        if l == b'+OK Top of message follows':
	            n += 1
	        elif l.startswith(b'X-Name: '):
	            name[n] = l[8:]
	    assert len(uid) == 200 and len(name) == 200, (len(uid), len(name))
	    m = {name[k]: uid[k] for k in uid}
	    assert len(set(m.values())) == 200, 'one UID for two messages'
	    us = [uid[k] for k in sorted(uid)]
	    assert us == sorted(us), 'UIDs do not increase with n'
	    return m
	a = parse(sys.argv[1])
	b = parse(sys.argv[2])
	for k in a:
	    if a[k] != b[k]:
	        sys.exit('%r: UID %d in A, %d in B' % (k, a[k], b[k]))
	EOF
}

@test "two concurrent first logins give one UID map, no UID twice (spec 6)" {
	local round i
	for round in 1 2 3; do
		rm -rf "$MAILROOT/alice" "$PASSWD"
		: >"$PASSWD"
		setup_alice
		for i in $(seq 1 200); do
			printf 'X-Name: m%s\n\nbody %s\n' "$i" "$i" \
			    >"$MD/new/$((1700000000 + i % 7)).M${i}P1.host"
		done
		{
			login alice pw
			crlf UIDL
			for i in $(seq 1 200); do crlf "TOP $i 0"; done
			crlf QUIT
		} >"$T/script"
		timeout 30 "$HANDLER" --passwd-file="$PASSWD" --log=stderr \
		    --hostname=test.example --auth-fail-delay=0 \
		    <"$T/script" >"$T/A.out" 2>"$T/A.log" &
		local pa=$!
		timeout 30 "$HANDLER" --passwd-file="$PASSWD" --log=stderr \
		    --hostname=test.example --auth-fail-delay=0 \
		    <"$T/script" >"$T/B.out" 2>"$T/B.log" &
		local pb=$!
		wait "$pa"
		wait "$pb"
		nogrep -q 'IN-USE' "$T/A.out" "$T/B.out"
		race_check
	done
}

# rebuilt_check N: a UIDL session after the state file was lost or
# damaged lists N messages in $T/u2, with UIDs increasing and all above
# those in $T/u1.
rebuilt_check() {
	session UIDL | chat
	[ "$status" -eq 0 ]
	uids >"$T/u2"
	[ "$(wc -l <"$T/u2")" -eq "$1" ]
	increasing "$T/u2"
	floor_check "$T/u1" "$T/u2"
}

# floor_check OLD NEW: every UID in NEW is above every UID in OLD.
floor_check() {
	local max min
	max=$(awk '{ print $2 }' "$1" | sort -n | tail -1)
	min=$(awk '{ print $2 }' "$2" | sort -n | head -1)
	[ "$min" -gt "$max" ] ||
	    { echo "UID $min after rebuild, $max handed out before" >&2; return 1; }
}

@test "a lost state file is rebuilt without reusing UIDs, and logged (spec 6)" {
	three_new
	session UIDL | chat
	uids >"$T/u1"
	rm "$MD/pop3-handler-uidlist"
	putf new 1700000009.M1P1.host 'new\n'
	rebuilt_check 5
	grep -qi 'rebuil' "$log"
	# and the rebuilt file is kept: a third session agrees
	session UIDL | chat
	uids >"$T/u3"
	cmp "$T/u2" "$T/u3"
}

@test "a corrupt state file is rebuilt without reusing UIDs, and logged (spec 6)" {
	three_new
	session UIDL | chat
	uids >"$T/u1"
	{
		printf 'garbage\0\377\376 1 2 3\n\n:::\n'
		head -c 3000 /dev/zero | tr '\0' 'z'
		printf '\n-5 x\n99999999999999999999999 1700000000.M1P1.host\n'
	} >"$MD/pop3-handler-uidlist"
	rebuilt_check 4
	grep -qi 'rebuil' "$log"
}

@test "a state file whose header line holds a NUL octet is corrupt and rebuilt without reusing UIDs (spec 6)" {
	three_new
	session UIDL | chat
	uids >"$T/u1"
	# The same file with "\0junk" after the header's next=.
	{
		head -n 1 "$MD/pop3-handler-uidlist" | tr -d '\n'
		printf '\0junk\n'
		tail -n +2 "$MD/pop3-handler-uidlist"
	} >"$T/state"
	mv "$T/state" "$MD/pop3-handler-uidlist"
	rebuilt_check 4
	grep -q 'uidlist rebuilt (bad header)' "$log"
}

# size_uid: "size uid" pairs of $out (LIST then UIDL of one session).
size_uid() {
	tr -d '\r' <"$out" | awk '
	    /^\+OK [0-9]+ messages/ { l = 1; next }
	    /^\+OK Unique-ID listing follows$/ { u = 1; next }
	    /^\.$/ { l = 0; u = 0; next }
	    l { size[$1] = $2 }
	    u { print size[$1], $2 }'
}

@test "a truncated state file is rebuilt without reusing UIDs (spec 6)" {
	three_new
	session LIST UIDL | chat
	size_uid >"$T/s1"
	[ "$(wc -l <"$T/s1")" -eq 4 ]
	local sz
	sz=$(stat -c %s "$MD/pop3-handler-uidlist")
	truncate -s $((sz / 2)) "$MD/pop3-handler-uidlist"
	putf new 1700000009.M1P1.host 'brand new\n'
	session LIST UIDL | chat
	[ "$status" -eq 0 ]
	size_uid >"$T/s2"
	[ "$(wc -l <"$T/s2")" -eq 5 ]
	# Each message keeps its UID or gets one above all handed out before;
	# the new message (11 octets) gets one above them.
	awk 'NR == FNR { had[$1] = $2; if ($2 + 0 > max) max = $2 + 0; next }
	    $1 in had && $2 == had[$1] { next }
	    $2 + 0 <= max { print "UID " $2 " reused"; exit 1 }' \
	    "$T/s1" "$T/s2"
	[ "$(awk '{ print $2 }' "$T/s2" | sort | uniq -d)" = "" ]
}

@test "a name with a newline cannot forge a state-file entry (spec 6, hostile names)" {
	three_new
	putf new $'1700000001.M9P1.host\n1 1700000003.M1P1.host' 'evil\n'
	putf new $'1700000002.M9P1.host\t1 x' 'tab\n'
	session UIDL | chat
	[ "$status" -eq 0 ]
	uids >"$T/u1"
	session UIDL | chat
	[ "$status" -eq 0 ]
	uids >"$T/u2"
	cmp "$T/u1" "$T/u2"
	nogrep -qi 'rebuil' "$log"
	[ "$(awk '{ print $2 }' "$T/u2" | sort | uniq -d)" = "" ]
}
