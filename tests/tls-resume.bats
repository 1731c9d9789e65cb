#!/usr/bin/env bats
# TLS session tickets shared across processes (spec 8, doc/formats.md 7): with
# tls-ticket-key-file every handler process encrypts tickets under the
# same key, so a client resumes in the next process (TLS 1.3 and 1.2,
# implicit TLS and STLS) and the certificate is not even read; without it
# no ticket is sent.  The handler creates the key file (0600, one key for
# concurrent first sessions), rotates it after 12 h keeping the previous
# key for a grace period, and refuses a symbolic link or a key file that
# others may read.  The real clock and the file's mtime drive rotation.

load helpers/load
load helpers/tls

setup_file() {
	tls_setup_file
}

# resume [--tls12] PORT tls|stls STEP...: a python ssl client on
# 127.0.0.1:PORT (implicit TLS, or STLS after the greeting).  Steps:
# "new" connects offering no session and keeps the one it gets; "again"
# connects offering the kept session (and keeps it); "renew" is "again"
# keeping the new session; "sh:CMD" runs CMD; "par:N" makes N connections
# at once, then N more, each offering the session of one of the first N.
# Every connection appends "reused=True|False ticket=True|False" to
# $T/resume.  Status 0, or the error on stderr.
RESUME_PY='
import os, socket, ssl, subprocess, sys, threading
a = sys.argv[1:]
c = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
c.check_hostname = False
c.verify_mode = ssl.CERT_NONE
if a[0] == "--tls12":
    a.pop(0)
    c.maximum_version = ssl.TLSVersion.TLSv1_2
port, mode, out = int(a[0]), a[1], open(a[2], "a")
def readline(s):
    l = b""
    while not l.endswith(b"\n"):
        b = s.recv(1)
        if not b:
            raise EOFError("EOF after %r" % l)
        l += b
    return l
def one(sess):
    s = socket.create_connection(("127.0.0.1", port),
        timeout=20 * int(os.environ.get("SLOW", "1")))
    if mode == "stls":
        readline(s)
        s.sendall(b"STLS\r\n")
        l = readline(s)
        if not l.startswith(b"+OK Begin"):
            raise RuntimeError("STLS: %r" % l)
    t = c.wrap_socket(s, server_hostname="localhost", session=sess)
    if mode == "tls":
        readline(t)
    t.sendall(b"QUIT\r\n")
    while t.recv(4096):
        pass
    r = (t.session_reused, t.session is not None and t.session.has_ticket,
        t.session)
    t.close()
    return r
def note(r):
    out.write("reused=%s ticket=%s\n" % (r[0], r[1]))
    out.flush()
kept = None
for st in a[3:]:
    if st in ("new", "again", "renew"):
        r = one(None if st == "new" else kept)
        note(r)
        if st != "again":
            kept = r[2]
    elif st.startswith("sh:"):
        subprocess.run(st[3:], shell=True, check=True)
    elif st.startswith("par:"):
        n = int(st[4:])
        got = [None] * n
        def run(i):
            got[i] = one(None)
        th = [threading.Thread(target=run, args=(i,)) for i in range(n)]
        for x in th:
            x.start()
        for x in th:
            x.join()
        for r in got:
            note(r)
        for r in got:
            note(one(r[2]))
'

resume() {
	local tls12=()
	if [ "$1" = --tls12 ]; then
		tls12=(--tls12)
		shift
	fi
	timeout 60 python3 -c "$RESUME_PY" "${tls12[@]}" "$1" "$2" \
	    "$T/resume" "${@:3}"
}

# results: the lines of $T/resume joined by blanks.
results() {
	tr '\n' ' ' <"$T/resume" | sed 's/ $//'
}

# keyfile_mode: the key file's permission bits and size.
keyfile_info() {
	stat -c '%a %s' "$KF"
}

implicit() {
	serve --tls-cert="$CERT" --tls-key="$KEY" --implicit-tls=yes \
	    --debug "$@"
}

setup() {
	common_setup
	KF=$T/state/ticket-key
	mkdir -m 700 "$T/state"
	add_user alice pw
}

@test "TLS 1.3, implicit TLS: the next process resumes the session, without reading the certificate (spec 8)" {
	implicit --tls-ticket-key-file="$KF"
	resume "$PORT" tls new again again
	[ "$(results)" = 'reused=False ticket=True reused=True ticket=True reused=True ticket=True' ]
	wait_exits 3
	[ "$(grep -c 'implicit TLS: TLSv1.3/.*, full handshake' "$log")" -eq 1 ]
	[ "$(grep -c 'implicit TLS: TLSv1.3/.*, resumed' "$log")" -eq 2 ]
	# The certificate and key were parsed once, for the full handshake.
	[ "$(grep -c 'loading tls-cert and tls-key' "$log")" -eq 1 ]
	[ "$(keyfile_info)" = '600 80' ]
	[ "$(ls "$T/state")" = ticket-key ]
}

@test "TLS 1.2: a ticket from one process resumes in the next (spec 8)" {
	implicit --tls-ticket-key-file="$KF"
	resume --tls12 "$PORT" tls new again
	[ "$(results)" = 'reused=False ticket=True reused=True ticket=True' ]
	wait_exits 2
	grep -q 'implicit TLS: TLSv1.2/.*, resumed' "$log"
}

@test "STLS on port 110 resumes across processes too (spec 8)" {
	serve --tls-cert="$CERT" --tls-key="$KEY" --debug \
	    --tls-ticket-key-file="$KF"
	resume "$PORT" stls new again
	resume --tls12 "$PORT" stls new again
	[ "$(results)" = 'reused=False ticket=True reused=True ticket=True reused=False ticket=True reused=True ticket=True' ]
	wait_exits 4
	[ "$(grep -c 'STLS: TLSv1\..*, resumed' "$log")" -eq 2 ]
}

@test "without tls-ticket-key-file no ticket is sent and nothing resumes (spec 8)" {
	implicit
	resume "$PORT" tls new again
	resume --tls12 "$PORT" tls new again
	[ "$(results)" = 'reused=False ticket=False reused=False ticket=False reused=False ticket=False reused=False ticket=False' ]
	wait_exits 4
	[ "$(grep -c 'loading tls-cert and tls-key' "$log")" -eq 4 ]
	[ -z "$(ls "$T/state")" ]
}

@test "concurrent first sessions create one key file, and every ticket resumes anywhere (spec 8)" {
	implicit --tls-ticket-key-file="$KF"
	resume "$PORT" tls par:6
	[ "$(grep -c 'reused=False ticket=True' "$T/resume")" -eq 6 ]
	[ "$(grep -c 'reused=True ticket=True' "$T/resume")" -eq 6 ]
	[ "$(keyfile_info)" = '600 80' ]
	# No temporary file is left behind.
	[ "$(ls "$T/state")" = ticket-key ]
}

@test "a key older than 12 h is rotated; the previous key still resumes (grace) and the ticket is renewed (spec 8)" {
	implicit --tls-ticket-key-file="$KF"
	resume "$PORT" tls new "sh:cp $KF $T/key1" \
	    "sh:touch -d '13 hours ago' $KF" renew again
	[ "$(results)" = 'reused=False ticket=True reused=True ticket=True reused=True ticket=True' ]
	# The new key first, the previous one after it.
	[ "$(keyfile_info)" = '600 160' ]
	cmp <(tail -c 80 "$KF") "$T/key1"
	! cmp -s <(head -c 80 "$KF") "$T/key1" || false
	# Rotated once: the renewed session's key is the new one.
	[ "$(ls "$T/state")" = ticket-key ]
}

@test "a key file older than two periods is replaced outright: old tickets no longer resume (spec 8)" {
	implicit --tls-ticket-key-file="$KF"
	resume "$PORT" tls new "sh:cp $KF $T/key1" \
	    "sh:touch -d '25 hours ago' $KF" again
	[ "$(results)" = 'reused=False ticket=True reused=False ticket=True' ]
	[ "$(keyfile_info)" = '600 80' ]
	! cmp -s "$KF" "$T/key1" || false
}

@test "a fresh key file is not rotated (spec 8)" {
	implicit --tls-ticket-key-file="$KF"
	resume "$PORT" tls new "sh:cp $KF $T/key1" \
	    "sh:touch -d '11 hours ago' $KF" again
	[ "$(results)" = 'reused=False ticket=True reused=True ticket=True' ]
	cmp "$KF" "$T/key1"
}

# refused FILE-SETUP...: the key file is refused; TLS works without
# tickets and the log says why.
refused() {
	implicit --tls-ticket-key-file="$KF"
	resume "$PORT" tls new again
	[ "$(results)" = 'reused=False ticket=False reused=False ticket=False' ]
	wait_exits 2
	grep -q "tls-ticket-key-file $KF: $1.*; no TLS session tickets" "$log"
	status=0
	timeout 10 "$HANDLER" --passwd-file="$PASSWD" --check-config \
	    --tls-cert="$CERT" --tls-key="$KEY" --tls-ticket-key-file="$KF" \
	    >"$out" 2>"$T/check.log" || status=$?
	[ "$status" -eq 2 ]
	grep -q "tls-ticket-key-file $KF: $1" "$T/check.log"
}

@test "a symbolic link as the key file is refused, and not followed (spec 8)" {
	head -c 80 /dev/urandom >"$T/elsewhere"
	chmod 600 "$T/elsewhere"
	ln -s "$T/elsewhere" "$KF"
	refused 'is a symbolic link'
	[ "$(stat -c %s "$T/elsewhere")" -eq 80 ]
}

@test "a world-readable key file is refused (spec 8)" {
	head -c 80 /dev/urandom >"$KF"
	chmod 644 "$KF"
	refused 'must be a regular file of this user'
}

@test "a group-readable key file is refused (spec 8)" {
	head -c 80 /dev/urandom >"$KF"
	chmod 640 "$KF"
	refused 'must be a regular file of this user'
}

@test "a key file of the wrong size is refused (spec 8)" {
	head -c 81 /dev/urandom >"$KF"
	chmod 600 "$KF"
	refused 'must hold 1 to 4 keys of 80 octets'
}

@test "an 80-octet key file made by hand (as for nginx) is used as it is (spec 8)" {
	head -c 80 /dev/urandom >"$KF"
	chmod 600 "$KF"
	cp "$KF" "$T/key1"
	implicit --tls-ticket-key-file="$KF"
	resume "$PORT" tls new again
	[ "$(results)" = 'reused=False ticket=True reused=True ticket=True' ]
	cmp "$KF" "$T/key1"
	check_config --tls-cert="$CERT" --tls-key="$KEY" \
	    --tls-ticket-key-file="$KF"
	[ "$status" -eq 0 ]
}

@test "--check-config does not create a missing key file (spec 8)" {
	check_config --tls-cert="$CERT" --tls-key="$KEY" \
	    --tls-ticket-key-file="$KF"
	[ "$status" -eq 0 ]
	[ ! -e "$KF" ]
}

@test "tls-ticket-key-file takes an absolute path or none (spec 8)" {
	crlf QUIT | chat --tls-ticket-key-file=relative/key
	[ "$status" -eq 2 ]
	grep -q 'tls-ticket-key-file.*absolute path or none' "$log"
	crlf QUIT | chat --tls-ticket-key-file=none
	[ "$status" -eq 0 ]
}

@test "a key file of another user is refused by a session, while --check-config as root accepts it (spec 8)" {
	[ "$(id -u)" -eq 0 ] || skip "needs root to give the file away"
	head -c 80 /dev/urandom >"$KF"
	chmod 600 "$KF"
	chown 65534 "$KF"
	status=0
	timeout 10 "$HANDLER" --passwd-file="$PASSWD" --check-config \
	    --tls-cert="$CERT" --tls-key="$KEY" --tls-ticket-key-file="$KF" \
	    >"$out" 2>"$T/check.log" || status=$?
	[ "$status" -eq 0 ]
	implicit --tls-ticket-key-file="$KF"
	resume "$PORT" tls new
	[ "$(results)" = 'reused=False ticket=False' ]
	wait_exits 1
	grep -q "tls-ticket-key-file $KF: must be a regular file of this user" "$log"
}
