#!/usr/bin/env bats
# Shared storage (spec 6; doc/deploy.md 9): two listeners standing for two hosts
# (as root, each in its own UTS namespace with its own host name) serve
# one Maildir while messages are delivered.  A bounded stress run checks
# that no UID is ever handed out twice, none changes, and no message is
# lost; the lock and the temp files leave nothing behind.

load helpers/load
load helpers/cluster

teardown() {
	cluster_stop
	no_sanitizer_report "$T"/*.log
}

# stress WORKERS SESSIONS DELIVERIES: runs the clients and the delivery
# against $PORT_hosta and $PORT_hostb; the summary goes to $T/summary.
stress() {
	timeout 240 python3 - "$PORT_hosta" "$PORT_hostb" "$(maildir alice)" \
	    "$@" >"$T/summary" 2>"$T/stress.err" <<-'EOF'
	import os, random, re, socket, sys, threading, time

	pa, pb, md = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
	workers, sessions, deliveries = map(int, sys.argv[4:7])
	lock = threading.Lock()
	uid_seq, seq_uid, errors = {}, {}, []
	count = {"sessions": 0, "pairs": 0}
	done = threading.Event()
	PRE = 3

	def deliver():
	    # Maildir delivery: write into tmp/, rename into new/.
	    for i in range(PRE + 1, PRE + deliveries + 1):
	        name = "%d.M%dP%d.deliver" % (1700000000 + i, i, os.getpid())
	        with open(os.path.join(md, "tmp", name), "w") as f:
	            f.write("X-Seq: %d\n\nbody %d\n" % (i, i))
	        os.rename(os.path.join(md, "tmp", name),
	                  os.path.join(md, "new", name))
	        time.sleep(random.uniform(0.005, 0.05))
	    done.set()

	class Conn:
	    def __init__(self, port):
	        self.s = socket.create_connection(("127.0.0.1", port), 20)
	        self.buf = b""
	    def line(self):
	        while b"\r\n" not in self.buf:
	            d = self.s.recv(65536)
	            if not d:
	                raise EOFError("server closed")
	            self.buf += d
	        l, self.buf = self.buf.split(b"\r\n", 1)
	        return l.decode()
	    def multi(self):
	        first = self.line()
	        if not first.startswith("+OK"):
	            raise ValueError(first)
	        out = []
	        while True:
	            l = self.line()
	            if l == ".":
	                return out
	            out.append(l)
	    def send(self, *lines):
	        self.s.sendall("".join(l + "\r\n" for l in lines).encode())

	def session(port):
	    c = Conn(port)
	    assert c.line().startswith("+OK")
	    c.send("USER alice", "PASS s3cret", "UIDL")
	    assert c.line().startswith("+OK"), "USER"
	    l = c.line()
	    assert l.startswith("+OK Logged in"), l
	    listing = [x.split(" ", 1) for x in c.multi()]
	    c.send(*(["TOP %s 0" % n for n, _ in listing] + ["QUIT"]))
	    seqs = []
	    for n, _ in listing:
	        hdr = c.multi()
	        m = [h for h in hdr if h.startswith("X-Seq: ")]
	        seqs.append(int(m[0][7:]))
	    assert c.line().startswith("+OK"), "QUIT"
	    uids = [u for _, u in listing]
	    return uids, seqs

	def check(uids, seqs, where):
	    if len(set(uids)) != len(uids):
	        errors.append("%s: a UID twice in one listing" % where)
	    nums = [int(u) for u in uids]
	    if nums != sorted(nums):
	        errors.append("%s: UIDs not increasing with n" % where)
	    with lock:
	        for u, q in zip(uids, seqs):
	            count["pairs"] += 1
	            if uid_seq.setdefault(u, q) != q:
	                errors.append("UID %s handed out twice (%d, %d)"
	                              % (u, uid_seq[u], q))
	            if seq_uid.setdefault(q, u) != u:
	                errors.append("message %d changed UID (%s -> %s)"
	                              % (q, seq_uid[q], u))

	def worker(k):
	    for j in range(sessions):
	        port = pa if (k + j) % 2 == 0 else pb
	        try:
	            uids, seqs = session(port)
	        except Exception as e:
	            errors.append("worker %d session %d: %r" % (k, j, e))
	            return
	        check(uids, seqs, "worker %d session %d" % (k, j))
	        with lock:
	            count["sessions"] += 1

	d = threading.Thread(target=deliver)
	ws = [threading.Thread(target=worker, args=(k,)) for k in range(workers)]
	d.start()
	for w in ws:
	    w.start()
	for w in ws:
	    w.join()
	d.join()
	# After the last delivery: one more login through each host sees
	# every message, with the UIDs seen before.
	for port in (pa, pb):
	    uids, seqs = session(port)
	    check(uids, seqs, "final %d" % port)
	    count["sessions"] += 1
	    if sorted(seqs) != list(range(1, PRE + deliveries + 1)):
	        errors.append("final %d: messages lost or doubled: %d seen"
	                      % (port, len(seqs)))
	for e in errors[:20]:
	    print(e, file=sys.stderr)
	print("sessions=%d deliveries=%d uids=%d pairs=%d errors=%d"
	      % (count["sessions"], deliveries, len(uid_seq), count["pairs"],
	         len(errors)))
	sys.exit(1 if errors else 0)
	EOF
}

@test "two hosts, one Maildir, concurrent logins and deliveries: no UID twice, none changed, none lost (spec 6)" {
	add_user alice s3cret
	local i
	for i in 1 2 3; do
		mkmsg alice new "$((1700000000 + i)).M${i}P1.pre" "X-Seq: $i" '' \
		    "body $i"
	done
	host_listen hosta
	host_listen hostb
	status=0
	stress 10 20 80 || status=$?
	cat "$T/summary" "$T/stress.err" >&3
	[ "$status" -eq 0 ]
	grep -q '^sessions=202 deliveries=80 uids=83 ' "$T/summary"
	# Every handler exited after QUIT; the lock is free; no temp file
	# of either host is left behind.
	wait_host_exits hosta 101
	wait_host_exits hostb 101
	[ "$(sort -u "$T/hosta.exits" "$T/hostb.exits")" = 0 ]
	[ ! -e "$(maildir alice)/pop3-handler-uidlist.lock" ]
	[ -z "$(ls -A "$(maildir alice)/tmp")" ]
}

@test "each host writes its own temp file and renames it over the state file (spec 6)" {
	[ "$(id -u)" = 0 ] || skip "needs a UTS namespace for a second host name"
	command -v strace >/dev/null || skip "strace not installed"
	add_user alice s3cret
	mkmsg alice new 1700000001.M1P1.pre 'X-Seq: 1' '' 'body'
	md=$(maildir alice)
	# The handler under strace: which files it creates and renames.
	real=$HANDLER
	HANDLER=$T/traced.sh
	printf '#!/bin/sh\nexec strace -f -qq -o "%s/strace.$$" -e trace=openat,renameat,rename %q "$@"\n' \
	    "$T" "$real" >"$HANDLER"
	chmod +x "$HANDLER"
	host_listen hosta
	host_listen hostb
	popc "$PORT_hosta" 'USER alice' 'PASS s3cret' QUIT
	line_is 3 '+OK Logged in, 1 messages (18 octets)'
	mkmsg alice new 1700000002.M2P1.pre 'X-Seq: 2' '' 'body'
	popc "$PORT_hostb" 'USER alice' 'PASS s3cret' UIDL QUIT
	line_is 4 '+OK Unique-ID listing follows'
	line_is 5 '1 1'
	line_is 6 '2 2'
	wait_host_exits hosta 1
	wait_host_exits hostb 1
	cat "$T"/strace.* >"$T/trace"
	# Host-unique temp names (host name and pid), O_EXCL lock, rename.
	grep -qE 'openat\(.*"tmp/pop3-handler-uidlist\.hosta\.[0-9]+", O_WRONLY\|O_CREAT' "$T/trace"
	grep -qE 'openat\(.*"tmp/pop3-handler-uidlist\.hostb\.[0-9]+", O_WRONLY\|O_CREAT' "$T/trace"
	grep -qE 'openat\(.*"pop3-handler-uidlist\.lock", [A-Z_|]*O_EXCL' "$T/trace"
	grep -qE 'rename.*"tmp/pop3-handler-uidlist\.hostb\.[0-9]+".*"pop3-handler-uidlist"' "$T/trace"
	[ -z "$(ls -A "$md/tmp")" ]
	[ ! -e "$md/pop3-handler-uidlist.lock" ]
}
