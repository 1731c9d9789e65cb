#!/usr/bin/env bats
# Resource bounds (spec 2, 5, 7; style 3.4): over-long lines, pipelining
# floods, trickling clients, clients that stop reading, huge messages,
# many concurrent sessions, and hostile or changing Maildir entries.
# Memory is read from /proc/<pid>/status (VmHWM, the peak RSS), CPU time
# from /proc/<pid>/stat or wait4(); the figures go to the TAP output as
# "# ..." lines.  Everything is bounded and on a socketpair or 127.0.0.1.

load helpers/load
load helpers/mail

# The teardown of helpers/mail, run by ours after its own cleanup.
eval "mail_$(declare -f teardown)"

teardown() {
	[ -z "${PRIVROOT:-}" ] || rm -rf "$PRIVROOT"
	mail_teardown
}

BIG_LINES=2621440			# 80-octet lines: 200 MiB
BIG_RAW=$((BIG_LINES * 80))
BIG_CRLF=$((BIG_LINES * 81))

setup_file() {
	# bounds_lib.py: the handler on a socketpair under timeout(1), its
	# pid, VmHWM and CPU time, and a small line-based client.
	cat >"$BATS_FILE_TMPDIR/bounds_lib.py" <<-'EOF'
	import os, socket, subprocess, sys, time

	H = os.environ['HANDLER']
	PASSWD = os.environ['PASSWD']
	LOG = os.environ['log']

	def spawn(*args, limit=60):
	    """Starts the handler; returns (Popen of timeout, socket, pid)."""
	    a, b = socket.socketpair()
	    proc = subprocess.Popen(
	        ['timeout', str(limit), H, '--passwd-file=' + PASSWD,
	         '--log=stderr', '--hostname=test.example',
	         '--auth-fail-delay=0'] + list(args),
	        stdin=b, stdout=b, stderr=open(LOG, 'ab'))
	    b.close()
	    for _ in range(500):
	        try:
	            with open('/proc/%d/task/%d/children' % (proc.pid, proc.pid)) as f:
	                c = f.read().split()
	        except OSError:
	            c = []
	        if c:
	            return proc, a, int(c[0])
	        time.sleep(0.01)
	    raise AssertionError('no handler process under timeout')

	def kb(pid, key='VmHWM'):
	    """A /proc/<pid>/status field in kB."""
	    with open('/proc/%d/status' % pid) as f:
	        for l in f:
	            if l.startswith(key + ':'):
	                return int(l.split()[1])
	    raise KeyError(key)

	def cpu(pid):
	    """utime + stime of pid in seconds."""
	    with open('/proc/%d/stat' % pid) as f:
	        fields = f.read().rsplit(')', 1)[1].split()
	    return (int(fields[11]) + int(fields[12])) / os.sysconf('SC_CLK_TCK')

	def note(msg):
	    """A figure for the TAP output (fd 3 of bats)."""
	    try:
	        os.write(3, ('# ' + msg + '\n').encode())
	    except OSError:
	        print(msg, file=sys.stderr)

	class Conn:
	    def __init__(self, sock, timeout=20):
	        self.s = sock
	        self.s.settimeout(timeout)
	        self.buf = b''

	    def line(self):
	        while b'\r\n' not in self.buf:
	            d = self.s.recv(65536)
	            if not d:
	                raise EOFError(self.buf[-200:])
	            self.buf += d
	        l, self.buf = self.buf.split(b'\r\n', 1)
	        return l.decode('latin-1')

	    def expect(self, *want):
	        for w in want:
	            got = self.line()
	            assert got == w, (got, w)

	    def send(self, *lines):
	        self.s.sendall(b''.join(l.encode() + b'\r\n' for l in lines))

	    def login(self, want):
	        self.expect('+OK test.example POP3 server ready')
	        self.send('USER alice', 'PASS pw')
	        self.expect('+OK Password required', want)

	    def rest(self):
	        """Everything until EOF (a reset counts: AF_UNIX resets when
	        the handler closes with unread input)."""
	        while True:
	            try:
	                d = self.s.recv(65536)
	            except ConnectionResetError:
	                d = b''
	            if not d:
	                return self.buf
	            self.buf += d
	EOF
	# A 200 MiB message of 80-octet lines, none starting with '.'.
	yes "$(printf 'x%.0s' $(seq 1 79))" | head -c "$BIG_RAW" \
	    >"$BATS_FILE_TMPDIR/big"
}

# py: python3 with bounds_lib importable and $HANDLER $PASSWD $log set.
py() {
	HANDLER=$HANDLER PASSWD=$PASSWD log=$log \
	    PYTHONPATH=$BATS_FILE_TMPDIR timeout 120 python3 - "$@"
}

# big NAME: the 200 MiB message, hard-linked into cur/ as NAME.
big() {
	ln "$BATS_FILE_TMPDIR/big" "$MD/cur/$1"
}

@test "a 1 MB line without LF: memory stays flat; the LF gets one -ERR Command line too long (spec 2, E0006)" {
	setup_alice
	py <<-'EOF'
	from bounds_lib import *
	proc, s, pid = spawn()
	c = Conn(s)
	c.expect('+OK test.example POP3 server ready')
	h0 = kb(pid)
	s.sendall(b'A' * (1 << 20))
	time.sleep(0.3)
	h1 = kb(pid)
	c.send(' tail', 'CAPA', 'QUIT')
	c.expect('-ERR Command line too long', '+OK Capability list follows')
	while c.line() != '.':
	    pass
	c.expect('+OK Bye')
	assert proc.wait() == 0
	note('1 MB line: VmHWM %d kB before, %d kB after' % (h0, h1))
	assert h1 - h0 < 512, (h0, h1)
	EOF
}

@test "100,000 pipelined NOOPs in one write: all answered +OK in order, peak RSS flat (spec 2 PIPELINING)" {
	setup_alice
	putf cur 1700000001.M1P1.host:2, 'a\n'
	py <<-'EOF'
	import threading
	from bounds_lib import *
	N = 100000
	proc, s, pid = spawn()
	c = Conn(s)
	c.login('+OK Logged in, 1 messages (3 octets)')
	h0 = kb(pid)
	# One write; a thread, since the replies fill the socket meanwhile.
	w = threading.Thread(target=s.sendall, args=(b'NOOP\r\n' * N,))
	w.start()
	want = b'+OK\r\n' * N
	while len(c.buf) < len(want):
	    d = s.recv(1 << 20)
	    assert d, 'EOF after %d octets' % len(c.buf)
	    c.buf += d
	w.join()
	assert c.buf == want, c.buf[:100]
	c.buf = b''
	h1 = kb(pid)
	c.send('QUIT')
	c.expect('+OK Bye')
	assert proc.wait() == 0
	note('100000 NOOPs: VmHWM %d kB after login, %d kB after' % (h0, h1))
	assert h1 - h0 < 512, (h0, h1)
	EOF
}

@test "one byte a second: the unauth idle timer still fires on time, exit 3 (spec 7)" {
	setup_alice
	py <<-'EOF'
	import threading
	from bounds_lib import *
	proc, s, pid = spawn('--timeout-unauth=2')
	c = Conn(s)
	c.expect('+OK test.example POP3 server ready')
	t0 = time.monotonic()
	stop = threading.Event()
	def trickle():
	    for b in b'NOOPNOOPNOOPNOOPNOOP':
	        if stop.wait(1):
	            return
	        try:
	            s.send(bytes([b]))
	        except OSError:
	            return
	threading.Thread(target=trickle, daemon=True).start()
	c.expect('-ERR Autologout; idle for too long')
	assert c.rest() == b''
	dt = time.monotonic() - t0
	stop.set()
	assert proc.wait() == 3, proc.returncode
	note('one byte a second: autologout after %.2f s (limit 2 s)' % dt)
	assert 1.9 <= dt <= 3.0, dt
	EOF
}

@test "a client that stops reading during a 200 MB RETR: exit 3 at timeout-auth, no spinning (spec 7)" {
	setup_alice
	big "1700000001.M1P1.host,S=$BIG_RAW,W=$BIG_CRLF:2,"
	py "$BIG_CRLF" <<-'EOF'
	from bounds_lib import *
	size = int(sys.argv[1])
	proc, s, pid = spawn('--timeout-auth=2')
	c = Conn(s)
	c.login('+OK Logged in, 1 messages (%d octets)' % size)
	c.send('RETR 1')
	c.expect('+OK %d octets' % size)
	t0 = time.monotonic()
	# Read nothing more.  wait4() gives the CPU time of timeout and of
	# the handler it waited for (its ru_maxrss is python's, from fork).
	time.sleep(1)
	h = kb(pid)
	_, st, ru = os.wait4(proc.pid, 0)
	dt = time.monotonic() - t0
	used = ru.ru_utime + ru.ru_stime
	assert os.waitstatus_to_exitcode(st) == 3, st
	note('stalled RETR: exit 3 after %.2f s, CPU %.3f s, VmHWM %d kB'
	    % (dt, used, h))
	assert 1.9 <= dt <= 4.5, dt
	assert used < 1.0, used
	EOF
	grep -q 'event=autologout' "$log"
}

@test "a 200 MB message is sized and streamed with peak RSS under 16 MB (spec 5 streaming)" {
	if is_san; then
		skip "200 MB through a sanitizer build is too slow, and its RSS is the sanitizer's"
	fi
	setup_alice
	big 1700000001.M1P1.host:2,
	py "$BIG_CRLF" <<-'EOF'
	from bounds_lib import *
	size = int(sys.argv[1])
	proc, s, pid = spawn()
	c = Conn(s)
	t0 = time.monotonic()
	c.login('+OK Logged in, 1 messages (%d octets)' % size)
	t1 = time.monotonic()
	c.send('RETR 1')
	c.expect('+OK %d octets' % size)
	got = len(c.buf)
	tail = c.buf[-5:]
	c.buf = b''
	buf = bytearray(1 << 20)
	while got < size + 3:
	    n = s.recv_into(buf)
	    assert n, 'EOF after %d octets' % got
	    got += n
	    tail = (tail + bytes(buf[max(0, n - 5):n]))[-5:]
	assert got == size + 3 and tail == b'\r\n.\r\n', (got, tail)
	t2 = time.monotonic()
	h = kb(pid)
	used = cpu(pid)
	c.send('QUIT')
	c.expect('+OK Bye')
	assert proc.wait() == 0
	note('200 MiB: sized in %.2f s, streamed in %.2f s, CPU %.2f s, VmHWM %d kB'
	    % (t1 - t0, t2 - t1, used, h))
	assert h < 16384, h
	EOF
}

@test "300 concurrent sessions on 127.0.0.1 (systemd-socket-activate) are all served (spec 1)" {
	command -v systemd-socket-activate >/dev/null ||
	    skip "systemd-socket-activate is not installed"
	setup_alice
	putf cur 1700000001.M1P1.host:2, 'S: one\n\nfirst\n'
	putf cur 1700000002.M1P1.host:2, 'S: two\n\nsecond\n'
	session STAT | chat
	[ "$status" -eq 0 ]
	PORT=$(free_port)
	systemd-socket-activate -a --inetd -l "127.0.0.1:$PORT" \
	    timeout $((120 * SLOW)) "$HANDLER" --passwd-file="$PASSWD" \
	    --log=stderr --hostname=test.example --auth-fail-delay=0 \
	    --timeout-unauth=$((90 * SLOW)) 2>"$T/server.log" &
	SERVER_PID=$!
	local i
	for i in $(seq 1 $((100 * SLOW))); do
		ss -Hltn "sport = :$PORT" | grep -q LISTEN && break
		sleep 0.05
	done
	# Every limit stretches by SLOW (the handler's idle timer and its
	# kill, the client's, this one): the first sessions wait idle until
	# the 300th is greeted, and on a busy machine 300 sanitizer
	# processes start slowly (with the default 60 s idle timer, 54 of
	# 300 got "-ERR Autologout" under a load average of 15).
	timeout $((150 * SLOW)) python3 - "$PORT" <<-'EOF'
	import asyncio, os, sys, time
	port, N = int(sys.argv[1]), 300
	want = (b'+OK Password required\r\n'
	    b'+OK Logged in, 2 messages (35 octets)\r\n+OK 2 35\r\n+OK Bye\r\n')
	greeted = 0
	all_in = asyncio.Event()

	async def one(i):
	    global greeted
	    r, w = await asyncio.open_connection('127.0.0.1', port)
	    g = await r.readuntil(b'\r\n')
	    assert g == b'+OK test.example POP3 server ready\r\n', g
	    greeted += 1
	    if greeted == N:
	        all_in.set()
	    # Every session is open before any logs in.
	    await all_in.wait()
	    w.write(b'USER alice\r\nPASS pw\r\nSTAT\r\nQUIT\r\n')
	    got = await r.read()
	    w.close()
	    assert got == want, (i, got)

	async def main():
	    res = await asyncio.wait_for(asyncio.gather(
	        *(one(i) for i in range(N)), return_exceptions=True),
	        90 * int(os.environ.get('SLOW', '1')))
	    bad = [r for r in res if r is not None]
	    assert not bad, '%d of %d failed: %r' % (len(bad), N, bad[:3])

	t0 = time.monotonic()
	asyncio.run(main())
	try:
	    os.write(3, b'# 300 concurrent sessions: all served in %.2f s\n'
	        % (time.monotonic() - t0))
	except OSError:
	    pass
	EOF
	[ "$(grep -c 'event=logout' "$T/server.log")" -eq 300 ]
	log=$T/server.log
}

# hostile_root: a 0755 directory outside bats' 0700 tree for a Maildir
# that uid 65534 can reach; alice is that uid when we are root.
hostile_root() {
	priv_mailroot bounds
	if [ "$(id -u)" = 0 ]; then
		setup_alice 65534 65534
		chown -R 65534:65534 "$MAILROOT/alice"
	else
		setup_alice
	fi
}

@test "symlink, fifo, directory and unreadable file in cur/ and new/: never served, no hang (spec 5)" {
	hostile_root
	putf cur 1700000001.M1P1.host:2, 'S: ok\n\nfine\n'
	echo 'TOPSECRET outside' >"$PRIVROOT/outside"
	ln -s "$PRIVROOT/outside" "$MD/cur/1700000002.M1P1.link:2,"
	ln -s "$PRIVROOT/outside" "$MD/new/1700000003.M1P1.link"
	mkfifo "$MD/cur/1700000004.M1P1.fifo:2," "$MD/new/1700000005.M1P1.fifo"
	mkdir "$MD/cur/1700000006.M1P1.dir:2," "$MD/new/1700000007.M1P1.dir"
	echo 'TOPSECRET unreadable' >"$MD/cur/1700000008.M1P1.secret:2,"
	chmod 000 "$MD/cur/1700000008.M1P1.secret:2,"
	if [ "$(id -u)" = 0 ]; then
		chown 0:0 "$MD/cur/1700000008.M1P1.secret:2,"
	elif cat "$MD/cur/1700000008.M1P1.secret:2," >/dev/null 2>&1; then
		skip "a mode 000 file stays readable for this user"
	fi
	session STAT LIST UIDL 'RETR 1' 'RETR 2' 'TOP 1 0' | chat
	[ "$status" -eq 0 ]
	expect_after 3 '+OK Logged in, 1 messages (15 octets)' '+OK 1 15' \
	    '+OK 1 messages (15 octets)' '1 15' '.' \
	    '+OK Unique-ID listing follows' "1 $(line 9 | cut -d' ' -f2)" '.' \
	    '+OK 15 octets' 'S: ok' '' 'fine' '.' '-ERR No such message' \
	    '+OK Top of message follows' 'S: ok' '' '.' '+OK Bye'
	nogrep -q TOPSECRET "$out"
	grep -q 'cannot read cur/1700000008.M1P1.secret:2,' "$log"
	# Nothing but the regular message moved from new/.
	[ -L "$MD/new/1700000003.M1P1.link" ]
	[ -p "$MD/new/1700000005.M1P1.fifo" ]
	[ -d "$MD/new/1700000007.M1P1.dir" ]
}

@test "an unreadable message sized by its ,W= name: RETR -ERR [SYS/TEMP], the session goes on (spec 5)" {
	hostile_root
	putf cur 1700000001.M1P1.host:2, 'S: ok\n\nfine\n'
	echo 'TOPSECRET' >"$MD/cur/1700000002.M1P1.host,S=10,W=11:2,"
	chmod 000 "$MD/cur/1700000002.M1P1.host,S=10,W=11:2,"
	if [ "$(id -u)" = 0 ]; then
		chown 0:0 "$MD/cur/1700000002.M1P1.host,S=10,W=11:2,"
	elif cat "$MD/cur/1700000002.M1P1.host,S=10,W=11:2," >/dev/null 2>&1; then
		skip "a mode 000 file stays readable for this user"
	fi
	session 'RETR 2' NOOP 'RETR 1' | chat
	[ "$status" -eq 0 ]
	expect_after 3 '+OK Logged in, 2 messages (26 octets)' \
	    '-ERR [SYS/TEMP] Unable to read message 2' '+OK' \
	    '+OK 15 octets' 'S: ok' '' 'fine' '.' '+OK Bye'
	nogrep -q TOPSECRET "$out"
}

@test "a message removed or replaced by a directory between STAT and RETR: -ERR, NOOP still answered (spec 5, C0004)" {
	setup_alice
	putf cur 1700000001.M1P1.host:2, 'S: one\n\nfirst\n'
	putf cur 1700000002.M1P1.host:2, 'S: two\n\nsecond\n'
	sess_start A
	sess_send A 'USER alice' 'PASS pw' STAT
	sess_wait A 4
	rm "$MD/cur/1700000001.M1P1.host:2,"
	rm "$MD/cur/1700000002.M1P1.host:2,"
	mkdir "$MD/cur/1700000002.M1P1.host:2,"
	sess_send A 'RETR 1' 'TOP 2 0' NOOP QUIT
	sess_end A
	[ "$status" -eq 0 ]
	expect_after 3 '+OK Logged in, 2 messages (35 octets)' '+OK 2 35' \
	    '-ERR Message 1 was removed from the maildrop' \
	    '-ERR Message 2 was removed from the maildrop' '+OK' '+OK Bye'
}

@test "a message that shrinks between STAT and RETR: well-framed bytes, NOOP still answered (spec 5)" {
	setup_alice
	putf cur 1700000001.M1P1.host:2, 'S: one\n\nfirst line\n.second\n'
	sess_start A
	sess_send A 'USER alice' 'PASS pw' STAT
	sess_wait A 4
	printf 'S: one\n\nfi' >"$MD/cur/1700000001.M1P1.host:2,"
	sess_send A 'RETR 1' NOOP QUIT
	sess_end A
	[ "$status" -eq 0 ]
	# The size is the snapshot's; the octets are the file's now, with
	# CRLF added to the cut last line and the terminator after it.
	expect_after 3 '+OK Logged in, 1 messages (31 octets)' '+OK 1 31' \
	    '+OK 31 octets' 'S: one' '' 'fi' '.' '+OK' '+OK Bye'
}
