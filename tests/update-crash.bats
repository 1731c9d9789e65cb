#!/usr/bin/env bats
# Crash-safe UPDATE (spec 5): the marked base names go to an intent list
# that is on disk before the first unlink and removed after the last one.
# A handler killed anywhere in between leaves nothing done or a list that
# the user's next login finishes first; an unmarked message is never
# removed, and "+OK" after QUIT means every marked message is gone.
#
# The kills come from build/fault/pop3-handler (make target of the same
# name, -DPOP3_FAULT_INJECTION): POP3_FAULT=<point> raises SIGKILL there.
# The next login runs $HANDLER, the build under test.

load helpers/load
load helpers/mail

setup_file() {
	fault_build
}

setup() {
	fault_setup
}

M1=1700000001.M1P1.host
M2=1700000002.M1P1.host
M3=1700000003.M1P1.host

# three: three messages in cur/ (6 + 21 + 14 octets), numbered by a first
# login so the state file holds their UIDs.
three() {
	three_msgs
	session UIDL | chat
	[ "$status" -eq 0 ]
	uidl_body >"$T/uidl.before"
}

# fchat POINT ARGS...: like chat, with build/fault and POP3_FAULT=POINT.
fchat() {
	local point=$1
	shift
	status=0
	POP3_FAULT=$point timeout 20 "$FAULT" --passwd-file="$PASSWD" \
	    --log=stderr --hostname=test.example --auth-fail-delay=0 "$@" \
	    >"$out" 2>"$log" || status=$?
}

# cur_is NAME...: cur/ holds exactly these files.
cur_is() {
	local want got
	want=$(printf '%s\n' "$@" | sort)
	got=$(ls -A "$MD/cur" | sort)
	[ "$want" = "$got" ] || { echo "cur/: [$got] want [$want]" >&2; return 1; }
}

# lists: the UPDATE lists in the Maildir, one a line.
lists() {
	(cd "$MD" && ls -A | grep '^pop3-handler-update' || true)
}

# one_list_is LINE...: exactly one list, with exactly these lines.
one_list_is() {
	local l
	l=$(lists)
	[ -n "$l" ] && [ "$(printf '%s\n' "$l" | wc -l)" -eq 1 ] ||
	    { echo "lists: [$l]" >&2; return 1; }
	printf '%s\n' "$@" >"$T/list.want"
	cmp "$T/list.want" "$MD/$l" ||
	    { od -c "$MD/$l" | head -20 >&2; return 1; }
}

# kill_at POINT: DELE 1 and DELE 3, QUIT, killed at POINT.
kill_at() {
	session 'DELE 1' 'DELE 3' | fchat "$1"
	[ "$status" -eq 137 ] || { echo "status $status" >&2; return 1; }
	# The client never saw the QUIT answer.
	nogrep -q '^+OK Bye' "$out"
}

# next_login: a plain login with $HANDLER that finishes what was left.
next_login() {
	session STAT UIDL | chat
	[ "$status" -eq 0 ]
}

@test "no fault: +OK Bye, the marked messages are gone, no list or temp file is left (spec 5)" {
	three
	session 'DELE 1' 'DELE 3' | fchat none
	[ "$status" -eq 0 ]
	expect_after 4 '+OK Message 1 deleted' '+OK Message 3 deleted' \
	    '+OK Bye'
	cur_is "$M2:2,"
	[ -z "$(lists)" ]
	[ -z "$(ls -A "$MD/tmp")" ]
}

@test "the list is written before anything is removed, and holds exactly the marked names (spec 5)" {
	three
	command -v strace >/dev/null || skip "no strace"
	session 'DELE 1' 'DELE 3' >"$T/in"
	timeout 20 strace -f -o "$T/trace" \
	    -e trace=openat,rename,renameat,renameat2,unlinkat,fsync "$FAULT" \
	    --passwd-file="$PASSWD" --log=stderr --hostname=test.example \
	    --auth-fail-delay=0 <"$T/in" >"$out" 2>"$log"
	expect_after 4 '+OK Message 1 deleted' '+OK Message 3 deleted' \
	    '+OK Bye'
	# The order of the system calls in UPDATE: temp list, fsync, rename
	# into the Maildir, fsync, unlinks, fsync of cur/, list removed,
	# fsync.
	python3 - "$T/trace" <<-'EOF'
	import re, sys
	ev = []
	for l in open(sys.argv[1]):
	    m = re.search(r'(openat|renameat2?|rename|unlinkat|fsync)\((.*)\)\s+=\s+(-?\d+)', l)
	    if not m or int(m.group(3)) < 0:
	        continue
	    call, args = m.group(1), m.group(2)
	    if call == 'openat' and 'tmp/pop3-handler-update' in args:
	        ev.append('create')
	    elif not ev:
	        continue
	    elif call.startswith('rename') and 'pop3-handler-update' in args:
	        ev.append('rename')
	    elif call == 'unlinkat' and 'pop3-handler-update' in args:
	        ev.append('unlist')
	    elif call == 'unlinkat':
	        ev.append('unlink')
	    elif call == 'fsync':
	        ev.append('fsync')
	ev = [e for i, e in enumerate(ev) if e != 'fsync' or ev[i - 1] != 'fsync']
	want = ['create', 'fsync', 'rename', 'fsync', 'unlink', 'unlink',
	    'fsync', 'unlist', 'fsync']
	assert ev == want, ev
	EOF
}

@test "killed after the list is written: nothing removed; the next login removes exactly the listed messages (spec 5)" {
	three
	kill_at update-after-list
	cur_is "$M1:2," "$M2:2," "$M3:2,"
	one_list_is 'pop3-handler-update 1 2' "$M1" "$M3"
	next_login
	line_is 3 '+OK Logged in, 1 messages (21 octets)'
	cur_is "$M2:2,"
	[ -z "$(lists)" ]
	grep -q 'finished an interrupted UPDATE (pop3-handler-update\..*): 2 of 2 listed messages removed' "$log"
	# The survivor keeps its UID.
	[ "$(uidl_body | cut -d' ' -f2)" = "$(sed -n 2p "$T/uidl.before" | cut -d' ' -f2)" ]
}

@test "killed after the first unlink: one gone, the list left; the next login removes the other (spec 5)" {
	three
	kill_at update-after-first-unlink
	cur_is "$M2:2," "$M3:2,"
	one_list_is 'pop3-handler-update 1 2' "$M1" "$M3"
	# A message delivered meanwhile is not touched.
	putf new 1700000009.M1P1.host 'S: new\n\nnine\n'
	next_login
	line_is 3 '+OK Logged in, 2 messages (37 octets)'
	cur_is "$M2:2," 1700000009.M1P1.host:2,
	[ -z "$(lists)" ]
	grep -q 'interrupted UPDATE.*: 1 of 2 listed messages removed' "$log"
}

@test "killed before the list is removed: all marked gone; the next login only removes the list (spec 5)" {
	three
	kill_at update-before-list-removal
	cur_is "$M2:2,"
	one_list_is 'pop3-handler-update 1 2' "$M1" "$M3"
	next_login
	line_is 3 '+OK Logged in, 1 messages (21 octets)'
	cur_is "$M2:2,"
	[ -z "$(lists)" ]
	grep -q 'interrupted UPDATE.*: 0 of 2 listed messages removed' "$log"
}

@test "a listed message renamed meanwhile or moved to new/ is still removed by its base name (spec 5)" {
	three
	kill_at update-after-list
	mv "$MD/cur/$M1:2," "$MD/cur/$M1:2,S"
	mv "$MD/cur/$M3:2," "$MD/new/$M3"
	next_login
	line_is 3 '+OK Logged in, 1 messages (21 octets)'
	cur_is "$M2:2,"
	[ -z "$(ls -A "$MD/new")" ]
	[ -z "$(lists)" ]
}

@test "a list cut in the middle of a name never removes the unmarked message that name is a prefix of (spec 5)" {
	setup_alice
	putf cur 1700000000.M1P1.a:2, 'a\n'
	putf cur 1700000001.M1P1.h:2, 'keep\n'
	putf cur 1700000001.M1P1.hx:2, 'marked\n'
	session 'DELE 1' 'DELE 3' | fchat update-after-list
	[ "$status" -eq 137 ]
	one_list_is 'pop3-handler-update 1 2' 1700000000.M1P1.a \
	    1700000001.M1P1.hx
	# Cut "x\n": the last line is now the unmarked message's base name.
	l=$(lists)
	truncate -s -2 "$MD/$l"
	[ "$(tail -c 17 "$MD/$l")" = 1700000001.M1P1.h ]
	next_login
	line_is 3 '+OK Logged in, 2 messages (14 octets)'
	cur_is 1700000001.M1P1.h:2, 1700000001.M1P1.hx:2,
	[ -z "$(lists)" ]
	grep -q "UPDATE list $l is damaged: 1 of 2 names readable" "$log"
}

@test "a list cut inside its header removes nothing and is dropped, logged (spec 5)" {
	three
	kill_at update-after-list
	l=$(lists)
	truncate -s 10 "$MD/$l"
	next_login
	line_is 3 '+OK Logged in, 3 messages (41 octets)'
	cur_is "$M1:2," "$M2:2," "$M3:2,"
	[ -z "$(lists)" ]
	grep -q "$l is not an UPDATE list; removed without acting on it" "$log"
}

@test "a list naming files that are not messages (dot files, paths, symlinks) removes none of them (spec 5)" {
	three
	ln -s "$MD/cur/$M2:2," "$MD/cur/1700000005.M1P1.link:2,"
	: >"$MD/cur/.hidden"
	printf 'pop3-handler-update 1 5\n.hidden\n../cur/%s\n%s:2,\n1700000005.M1P1.link\n%s\n' \
	    "$M2" "$M2" "$M1" >"$MD/pop3-handler-update.other.1"
	next_login
	# Only M1, a plain listed base name, went.
	line_is 3 '+OK Logged in, 2 messages (35 octets)'
	cur_is "$M2:2," "$M3:2," .hidden 1700000005.M1P1.link:2,
	[ -z "$(lists)" ]
}

@test "each session writes its own list: a concurrent QUIT leaves a dead session's list alone (spec 5, 2.1.3)" {
	three
	# B logs in before A dies, so B's snapshot still shows all three.
	sess_start B
	sess_send B 'USER alice' 'PASS pw'
	sess_wait B 3
	kill_at update-after-list
	l=$(lists)
	sess_send B 'DELE 2' QUIT
	sess_end B
	[ "$status" -eq 0 ]
	expect_after 3 '+OK Logged in, 3 messages (41 octets)' \
	    '+OK Message 2 deleted' '+OK Bye'
	cur_is "$M1:2," "$M3:2,"
	[ "$(lists)" = "$l" ]
	next_login
	line_is 3 '+OK Logged in, 0 messages (0 octets)'
	[ -z "$(ls -A "$MD/cur")" ]
	[ -z "$(lists)" ]
}
