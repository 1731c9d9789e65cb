#!/usr/bin/env bats
# The UID state file is only ever replaced whole (spec 6): a complete,
# fsynced temp file renamed over it.  A handler killed at any moment
# leaves a parseable file and never a reused UID; a full disk leaves the
# session working with exact sizes and temporary UIDLs (uidmap.h), and
# UPDATE still removes the marked messages.

load helpers/load
load helpers/mail

setup_file() {
	# checkstate.py STATE SEEN: validates the state file (uidmap.h format)
	# and merges it into the JSON record SEEN of every name->UID and the
	# highest next= ever seen; exits 1 with the reason when the file is
	# malformed, a UID changes or is reused, or next= goes down.
	# checkstate.py SEEN STATE...: validates each state file (uidmap.h
	# format), in order, and merges it into the JSON record SEEN of
	# every name->UID and the highest next= seen; exits 1 with the
	# reason when a file is malformed, a UID changes or is reused, or
	# next= goes down.
	cat >"$BATS_FILE_TMPDIR/checkstate.py" <<-'EOF'
	import json, os, re, sys
	seen_path = sys.argv[1]
	seen = {'names': {}, 'uids': {}, 'next': 0}
	if os.path.exists(seen_path):
	    seen = json.load(open(seen_path))
	def check(state):
	    def die(why):
	        print('%s: %s' % (state, why), file=sys.stderr)
	        sys.exit(1)
	    data = open(state, 'rb').read()
	    if not data.endswith(b'\n'):
	        die('no final newline')
	    lines = data.decode().split('\n')[:-1]
	    m = re.fullmatch(r'pop3-handler-uidlist 1 next=([1-9][0-9]*)( cur=[1-9][0-9]*)?', lines[0])
	    if not m:
	        die('bad header %r' % lines[0])
	    nxt = int(m.group(1))
	    last = 0
	    names = set()
	    for l in lines[1:]:
	        m = re.fullmatch(r'([1-9][0-9]*) ([0-9]+) ([0-9]+) ([0-9]+) (\S.*)', l)
	        if not m:
	            die('bad record %r' % l)
	        # The last field is the base name, then ':' and the flags.
	        uid, name = int(m.group(1)), m.group(5).split(':', 1)[0]
	        if not last < uid < nxt:
	            die('uid %d out of order or >= next %d' % (uid, nxt))
	        if name in names:
	            die('duplicate name %s' % name)
	        last = uid
	        names.add(name)
	        if seen['names'].get(name, uid) != uid:
	            die('%s changed its UID %s -> %d' % (name, seen['names'][name], uid))
	        if seen['uids'].get(str(uid), name) != name:
	            die('UID %d reused: %s, now %s' % (uid, seen['uids'][str(uid)], name))
	        seen['names'][name] = uid
	        seen['uids'][str(uid)] = name
	    if nxt < seen['next']:
	        die('next went down: %d -> %d' % (seen['next'], nxt))
	    seen['next'] = nxt
	for state in sys.argv[2:]:
	    check(state)
	json.dump(seen, open(seen_path, 'w'))
	EOF
}

# CHECK [STATE...]: checkstate.py on the files (default: the state file).
CHECK() {
	[ "$#" -gt 0 ] || set -- "$MD/pop3-handler-uidlist"
	python3 "$BATS_FILE_TMPDIR/checkstate.py" "$T/seen.json" "$@"
}

# deliver N: a new message with a name of delivery time 1700000000+N.
deliver() {
	printf 'Subject: %s\n\nbody %s\n' "$1" "$1" \
	    >"$MD/new/$((1700000000 + $1)).M1P1.host"
}

# lock_left: true (and the lock removed) when a killed handler left the
# state-file lock.  uidmap.c breaks such a lock only once it is
# UIDMAP_LOCK_STALE (60 s) old; logins waiting for it would take 10 s.
lock_left() {
	[ -e "$MD/pop3-handler-uidlist.lock" ] || return 1
	rm -f "$MD/pop3-handler-uidlist.lock"
}

@test "the state file is replaced by rename of a written, fsynced temp file, never written in place (spec 6)" {
	command -v strace >/dev/null || skip "no strace"
	setup_alice
	deliver 1
	deliver 2
	session UIDL >"$T/in"
	# LeakSanitizer cannot run under ptrace.
	ASAN_OPTIONS=detect_leaks=0:exitcode=99 timeout 20 \
	    strace -f -y -o "$T/trace" \
	    -e trace=openat,write,fsync,rename,renameat,renameat2 "$HANDLER" \
	    --passwd-file="$PASSWD" --log=stderr --hostname=test.example \
	    --auth-fail-delay=0 <"$T/in" >"$out" 2>"$log"
	line_is 3 '+OK Logged in, 2 messages (44 octets)'
	CHECK
	python3 - "$T/trace" "$MD" <<-'EOF'
	import re, sys
	trace, md = sys.argv[1:3]
	ev = []
	for l in open(trace):
	    if '= -' in l or '<unfinished' in l or 'resumed>' in l:
	        continue
	    if re.search(r'openat\(.*"pop3-handler-uidlist"', l):
	        assert not re.search(r'O_WRONLY|O_RDWR|O_CREAT|O_TRUNC', l), \
	            'state file opened for writing: ' + l
	    if re.search(r'openat\(.*"tmp/pop3-handler-uidlist\.', l):
	        assert 'O_CREAT' in l and 'O_NOFOLLOW' in l, l
	        ev.append('open-tmp')
	    elif re.search(r'write\(\d+<[^>]*/tmp/pop3-handler-uidlist\.', l):
	        ev.append('write-tmp')
	    elif re.search(r'fsync\(\d+<[^>]*/tmp/pop3-handler-uidlist\.', l):
	        ev.append('fsync-tmp')
	    elif re.search(r'rename.*"tmp/pop3-handler-uidlist\..*"pop3-handler-uidlist"', l):
	        ev.append('rename')
	    elif re.search(r'fsync\(\d+<%s>\)' % re.escape(md), l):
	        ev.append('fsync-dir')
	# Collapse runs of writes.
	ev = [e for i, e in enumerate(ev) if not (e == 'write-tmp' and i and ev[i - 1] == 'write-tmp')]
	assert ev == ['open-tmp', 'write-tmp', 'fsync-tmp', 'rename', 'fsync-dir'], ev
	EOF
}

@test "SIGKILL at each step of the state-file save leaves a parseable file and no reused UID (spec 6)" {
	command -v strace >/dev/null || skip "no strace"
	setup_alice
	deliver 1
	session UIDL | chat
	CHECK
	local n=1 point killed=0
	# In a login, fsync #1 is the temp file's, renameat the replacement, fsync #2
	# the Maildir's, unlinkat the lock's removal.  SIGKILL arrives on
	# entry to that system call.
	for point in fsync:when=1 renameat:when=1 fsync:when=2 \
	    unlinkat:when=1; do
		n=$((n + 1))
		deliver "$n"
		session UIDL >"$T/in"
		status=0
		timeout 20 strace -f -o /dev/null -e trace="${point%%:*}" \
		    -e inject="${point%%:*}:signal=KILL:${point#*:}" \
		    "$HANDLER" --passwd-file="$PASSWD" --log=stderr \
		    --hostname=test.example --auth-fail-delay=0 <"$T/in" \
		    >"$out" 2>"$log" || status=$?
		[ "$status" -eq 137 ] || { echo "$point: status $status" >&2; return 1; }
		killed=$((killed + 1))
		cp "$MD/pop3-handler-uidlist" "$T/state.$n"
		lock_left || true
	done
	# shellcheck disable=SC2046
	CHECK $(seq -f "$T/state.%g" 2 "$n")
	[ "$killed" -eq 4 ]
	# A complete login numbers everything, without a reused UID.
	session UIDL | chat
	[ "$status" -eq 0 ]
	CHECK
	[ "$(uidl_body | wc -l)" -eq 5 ]
	[ -z "$(uidl_body | awk '$2 !~ /^[0-9]+$/')" ]
	[ "$(uidl_body | awk '{print $2}' | sort -u | wc -l)" -eq 5 ]
}

@test "kill -9 at 30 moments of a login: the state file always parses, no UID is reused (spec 6)" {
	setup_alice
	mkdir "$T/st"
	# Each round delivers a message, so each login saves the state
	# file, and kills the handler between 0 and 4 times the time one
	# login takes here (measured first, so a slow or busy machine or the
	# sanitizer build stretches the steps): before, during and after
	# the save.
	HANDLER=$HANDLER PASSWD=$PASSWD MD=$MD T=$T \
	    timeout $((120 * SLOW)) python3 - <<-'EOF'
	import os, shutil, signal, socket, subprocess, time
	H, PW, MD, T = (os.environ[k] for k in ('HANDLER', 'PASSWD', 'MD', 'T'))
	state, lock = MD + '/pop3-handler-uidlist', MD + '/pop3-handler-uidlist.lock'
	after = locks = 0

	def login_time():
	    a, b = socket.socketpair()
	    p = subprocess.Popen([H, '--passwd-file=' + PW, '--log=stderr',
	        '--hostname=test.example', '--auth-fail-delay=0'],
	        stdin=b, stdout=b, stderr=subprocess.DEVNULL)
	    b.close()
	    f = a.makefile('rb')
	    f.readline()
	    a.sendall(b'USER alice\r\n')
	    f.readline()
	    t0 = time.monotonic()
	    a.sendall(b'PASS pw\r\n')
	    assert f.readline().startswith(b'+OK Logged in')
	    t = time.monotonic() - t0
	    f.close()
	    a.close()
	    p.wait()
	    return t

	step = max(0.0005, 4 * min(login_time() for _ in range(3)) / 30)
	scale = 1.0
	for i in range(30):
	    with open(MD + '/new/%d.M1P1.host' % (1700000001 + i), 'w') as f:
	        f.write('Subject: %d\n\nbody\n' % (i % 10))
	    a, b = socket.socketpair()
	    log = open(T + '/log', 'ab')
	    p = subprocess.Popen(['timeout', '20', H, '--passwd-file=' + PW,
	        '--log=stderr', '--hostname=test.example',
	        '--auth-fail-delay=0'], stdin=b, stdout=b, stderr=log)
	    b.close()
	    a.settimeout(10)
	    f = a.makefile('rb')
	    assert f.readline().startswith(b'+OK')
	    a.sendall(b'USER alice\r\n')
	    assert f.readline().startswith(b'+OK')
	    with open('/proc/%d/task/%d/children' % (p.pid, p.pid)) as c:
	        pid = int(c.read().split()[0])
	    a.sendall(b'PASS pw\r\n')
	    time.sleep(i * step * scale)
	    os.kill(pid, signal.SIGKILL)
	    assert p.wait() in (137, -9), p.returncode
	    # Killed before it read PASS, the handler's socket closes with
	    # unread data: a reset (the usual case on a busy machine).
	    try:
	        got = f.readline()
	    except ConnectionResetError:
	        got = b''
	    if got.startswith(b'+OK Logged in'):
	        after += 1
	    a.close()
	    if os.path.exists(state):
	        shutil.copy(state, T + '/st/%02d' % i)
	    else:
	        # No save reached yet: this machine is slower now than when
	        # it was measured; stretch the rest of the schedule.
	        scale *= 1.5
	    # Broken by uidmap.c only after UIDMAP_LOCK_STALE (60 s).
	    if os.path.exists(lock):
	        locks += 1
	        os.unlink(lock)
	try:
	    os.write(3, b'# kill loop: %d of 30 kills after the login reply, '
	        b'%d left the lock\n' % (after, locks))
	except OSError:
	    pass
	EOF
	CHECK "$T"/st/*
	session UIDL | chat
	[ "$status" -eq 0 ]
	line_is 3 '+OK Logged in, 30 messages (600 octets)'
	CHECK
	[ -z "$(uidl_body | awk '$2 !~ /^[0-9]+$/')" ]
	[ "$(uidl_body | awk '{print $2}' | sort -u | wc -l)" -eq 30 ]
	# UIDs increase with message numbers (delivery order).
	uidl_body | awk '{print $2}' | sort -n -c
}

# full_disk SCRIPT: adds user alice (password pw) and runs SCRIPT with
# bash -e in a private mount namespace where $MAILROOT is a 64 KiB tmpfs
# holding alice's empty Maildir $MD; skips when that is impossible.
# SCRIPT may use "h" (the handler as chat runs it, stdin to stdout) and
# "s LINE..." (USER alice, PASS pw, the LINEs, QUIT, each with CRLF).
full_disk() {
	local err
	add_user alice pw
	MD=$(maildir alice)
	export MAILROOT MD PASSWD HANDLER T
	command -v unshare >/dev/null || skip "no unshare"
	# unshare -m makes / private first, which fails where / is not a
	# mount point (a chroot): "cannot change root filesystem
	# propagation: Invalid argument".
	err=$(unshare -m true 2>&1) || skip "no private mount namespace here: $err"
	status=0
	timeout 60 unshare -m bash -c '
		mount -t tmpfs -o size=64k,mode=755 tmpfs "$MAILROOT" || exit 77
		set -e
		mkdir -p "$MD/new" "$MD/cur" "$MD/tmp"
		h() { timeout 20 "$HANDLER" --passwd-file="$PASSWD" \
		    --log=stderr --hostname=test.example --auth-fail-delay=0; }
		s() { printf "%s\r\n" "USER alice" "PASS pw" "$@" QUIT; }
		'"$1" || status=$?
	[ "$status" -ne 77 ] || skip "cannot mount a tmpfs in a private mount namespace here"
	[ "$status" -eq 0 ] || { echo "namespace script: status $status" >&2; return 1; }
}

@test "full disk: login works, sizes exact, no UID reused, temporary UIDLs, the failed write logged (spec 6)" {
	full_disk '
		printf "S: 1\n\none\n" >"$MD/new/1700000001.M1P1.host"
		printf "S: 2\n\ntwo\n" >"$MD/new/1700000002.M1P1.host"
		s UIDL | h >"$T/out1" 2>"$T/log1"
		cp "$MD/pop3-handler-uidlist" "$T/state1"
		printf "S: 3\n\nthree, a longer one\n" >"$MD/new/1700000003.M1P1.host"
		printf "S: 4\nX: y\n\n.four\n" >"$MD/new/1700000004.M1P1.host"
		# Fill the file system.
		dd if=/dev/zero of="$MAILROOT/filler" bs=4k 2>/dev/null || true
		df -k "$MAILROOT" >"$T/df"
		s STAT LIST UIDL | h >"$T/out2" 2>"$T/log2"
		cp "$MD/pop3-handler-uidlist" "$T/state2"
		ls -A "$MD/tmp" >"$T/tmp2"
		rm "$MAILROOT/filler"
		s UIDL | h >"$T/out3" 2>"$T/log3"
		cp "$MD/pop3-handler-uidlist" "$T/state3"
	'
	awk 'NR == 2 && $4 > 4 { exit 1 }' "$T/df" || { cat "$T/df" >&2; return 1; }
	out=$T/out1
	expect_after 3 '+OK Logged in, 2 messages (26 octets)' \
	    '+OK Unique-ID listing follows' '1 1' '2 2' '.' '+OK Bye'
	# Full: the login goes on; 3 (29 octets) and 4 (21 octets) are sized
	# by reading, and get temporary UIDLs ("N" + 16 hex digits).
	out=$T/out2 log=$T/log2
	line_is 3 '+OK Logged in, 4 messages (76 octets)'
	line_is 4 '+OK 4 76'
	expect_after 5 '+OK 4 messages (76 octets)' '1 13' '2 13' '3 29' \
	    '4 21' '.' '+OK Unique-ID listing follows' '1 1' '2 2' \
	    "3 $(line 14 | cut -d' ' -f2)" "4 $(line 15 | cut -d' ' -f2)" \
	    '.' '+OK Bye'
	line 14 | grep -qE '^3 N[0-9a-f]{16}$'
	line 15 | grep -qE '^4 N[0-9a-f]{16}$'
	grep -q 'uidlist not updated (.*); new messages get temporary UIDLs' "$log"
	# The old state file is untouched, no temp file is left.
	cmp "$T/state1" "$T/state2"
	[ ! -s "$T/tmp2" ]
	# Space again: the new messages get UIDs after the old ones.
	out=$T/out3 log=$T/log3
	expect_after 3 '+OK Logged in, 4 messages (76 octets)' \
	    '+OK Unique-ID listing follows' '1 1' '2 2' '3 3' '4 4' '.' \
	    '+OK Bye'
	python3 "$BATS_FILE_TMPDIR/checkstate.py" "$T/seen.json" \
	    "$T/state1" "$T/state3"
}

@test "full disk: DELE and QUIT still remove the marked messages, +OK Bye, logged (spec 5)" {
	full_disk '
		printf "S: 1\n\none\n" >"$MD/new/1700000001.M1P1.host"
		printf "S: 2\n\ntwo\n" >"$MD/new/1700000002.M1P1.host"
		s STAT | h >/dev/null 2>&1
		dd if=/dev/zero of="$MAILROOT/filler" bs=4k 2>/dev/null || true
		s "DELE 1" | h >"$T/out" 2>"$T/log"
		ls -A "$MD" >"$T/md"
		ls -A "$MD/cur" >"$T/cur"
		ls -A "$MD/tmp" >"$T/tmp"
	'
	expect_after 3 '+OK Logged in, 2 messages (26 octets)' \
	    '+OK Message 1 deleted' '+OK Bye'
	[ "$(cat "$T/cur")" = '1700000002.M1P1.host:2,' ]
	nogrep -q pop3-handler-update "$T/md"
	[ ! -s "$T/tmp" ]
	grep -q 'UPDATE list not written (.*); removing the 1 marked messages without it' "$log"
}

@test "full disk: a lock file that cannot be written is closed and removed, no descriptor leaks (spec 6)" {
	command -v strace >/dev/null || skip "no strace"
	full_disk '
		printf "S: 1\n\none\n" >"$MD/new/1700000001.M1P1.host"
		dd if=/dev/zero of="$MAILROOT/filler" bs=4k 2>/dev/null || true
		printf "%s\r\n" "USER alice" "PASS pw" UIDL QUIT |
		ASAN_OPTIONS=detect_leaks=0:exitcode=99 timeout 20 \
		    strace -f -o "$T/trace" -e trace=openat,write,close \
		    "$HANDLER" --passwd-file="$PASSWD" --log=stderr \
		    --hostname=test.example --auth-fail-delay=0 \
		    >"$T/out" 2>"$T/log"
		ls -A "$MD" >"$T/md"
	'
	out=$T/out log=$T/log
	line_is 3 '+OK Logged in, 1 messages (13 octets)'
	grep -q 'uidlist not updated (cannot write the lock file)' "$log"
	nogrep -q 'pop3-handler-uidlist.lock' "$T/md"
	# Every descriptor of the lock file is closed again.
	python3 - "$T/trace" <<-'PY'
	import re, sys
	open_fds = {}
	for l in open(sys.argv[1]):
	    m = re.match(r'(\d+) +openat\(.*"pop3-handler-uidlist\.lock".*O_EXCL.*\) = (\d+)$', l)
	    if m:
	        open_fds[(m.group(1), m.group(2))] = l
	        continue
	    m = re.match(r'(\d+) +close\((\d+)\) += 0', l)
	    if m:
	        open_fds.pop((m.group(1), m.group(2)), None)
	assert not open_fds, 'lock file descriptor never closed: %r' % list(open_fds.values())
	PY
}

# fake_lock HOST PID: a lock file as uidmap_lock() writes it, taken in
# this pid namespace by HOST and PID.
fake_lock() {
	printf '%s %s %s\n' "$1" "$2" "$(readlink /proc/self/ns/pid)" \
	    >"$MD/pop3-handler-uidlist.lock"
}

# dead_pid: a pid of this host whose process has exited.
dead_pid() {
	local p
	p=$(sh -c 'echo $$')
	! kill -0 "$p" 2>/dev/null || p=$(sh -c 'echo $$')
	echo "$p"
}

@test "a lock left by a dead handler of this host is broken at once: no wait, a real UID (spec 6)" {
	setup_alice
	deliver 1
	fake_lock "$(hostname)" "$(dead_pid)"
	local t0 t1
	t0=$(date +%s%N)
	session UIDL | chat
	t1=$(date +%s%N)
	[ "$status" -eq 0 ]
	# UIDMAP_LOCK_WAIT is 10 s; a login takes milliseconds.
	[ $(((t1 - t0) / 1000000)) -lt 5000 ]
	expect_after 4 '+OK Unique-ID listing follows' '1 1' '.' '+OK Bye'
	nogrep -q 'temporary UIDLs' "$log"
	[ ! -e "$MD/pop3-handler-uidlist.lock" ]
	CHECK
}

@test "a fresh lock of another host, or of a live process, is left alone (spec 6 shared storage)" {
	setup_alice
	deliver 1
	session UIDL | chat
	cp "$MD/pop3-handler-uidlist" "$T/state1"
	# A flag change makes the next login rewrite its record (uidmap.h),
	# without waiting for the lock: a busy lock leaves the file as it is.
	mv "$MD/cur/1700000001.M1P1.host:2," "$MD/cur/1700000001.M1P1.host:2,S"
	fake_lock otherhost.example "$(dead_pid)"
	session UIDL | chat
	expect_after 4 '+OK Unique-ID listing follows' '1 1' '.' '+OK Bye'
	[ -e "$MD/pop3-handler-uidlist.lock" ]
	cmp "$T/state1" "$MD/pop3-handler-uidlist"
	fake_lock "$(hostname)" "$$"
	session UIDL | chat
	expect_after 4 '+OK Unique-ID listing follows' '1 1' '.' '+OK Bye'
	[ -e "$MD/pop3-handler-uidlist.lock" ]
	cmp "$T/state1" "$MD/pop3-handler-uidlist"
	# Once the owner is gone, the next login breaks it and writes.
	fake_lock "$(hostname)" "$(dead_pid)"
	session UIDL | chat
	[ ! -e "$MD/pop3-handler-uidlist.lock" ]
	grep -q ' 1700000001\.M1P1\.host:2,S$' "$MD/pop3-handler-uidlist"
}
