#!/usr/bin/env bats
# spec 8, doc/design.md 7: a session on port 110 that never sends STLS pays nothing for
# TLS (libssl is not even mapped), while CAPA still offers STLS and STLS
# works; when OpenSSL cannot be loaded at STLS the client gets
# -ERR [SYS/TEMP] and the session goes on in plaintext.

load helpers/load
load helpers/tls

setup_file() {
	tls_setup_file
}

# The client: runs the handler on one end of a socketpair, sends CAPA,
# then writes which libraries the handler has mapped ($T/maps-before),
# optionally does STLS and a CAPA inside TLS ($T/maps-after), then QUIT.
# Every octet received lands in $out.
LAZY_PY='
import os, socket, ssl, subprocess, sys
stls = sys.argv[1] == "stls"
tdir, outp = os.environ["T"], os.environ["out"]
a, b = socket.socketpair()
p = subprocess.Popen(sys.argv[2:], stdin=b, stdout=b,
    stderr=open(os.environ["log"], "ab"))
b.close()
a.settimeout(20 * int(os.environ.get("SLOW", "1")))
got = []
def readline(s):
    l = b""
    while not l.endswith(b"\n"):
        x = s.recv(1)
        if not x:
            break
        l += x
    got.append(l)
    return l
def maps(name):
    libs = set()
    for l in open("/proc/%d/maps" % p.pid):
        f = l.split()
        if len(f) >= 6:
            libs.add(os.path.basename(f[5]))
    with open(os.path.join(tdir, name), "w") as f:
        f.write("\n".join(sorted(libs)) + "\n")
readline(a)
a.sendall(b"CAPA\r\n")
while readline(a) not in (b".\r\n", b""):
    pass
maps("maps-before")
s = a
if stls:
    a.sendall(b"STLS\r\n")
    readline(a)
    c = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    c.check_hostname = False
    c.verify_mode = ssl.CERT_NONE
    s = c.wrap_socket(a, server_hostname="localhost")
    s.sendall(b"CAPA\r\n")
    while readline(s) not in (b".\r\n", b""):
        pass
    maps("maps-after")
s.sendall(b"QUIT\r\n")
while True:
    x = s.recv(4096)
    if not x:
        break
    got.append(x)
open(outp, "wb").write(b"".join(got))
sys.exit(p.wait())
'

# lazy stls|plain ARGS...: the handler with the test's defaults and ARGS.
lazy() {
	status=0
	out=$out log=$log T=$T timeout 30 python3 -c "$LAZY_PY" "$1" \
	    "$HANDLER" --passwd-file="$PASSWD" --log=stderr \
	    --hostname=test.example --auth-fail-delay=0 "${@:2}" || status=$?
}

@test "a session that never sends STLS does not map libssl or libcrypto, yet CAPA offers STLS (spec 8)" {
	add_user alice pw
	lazy plain --tls-cert="$CERT" --tls-key="$KEY"
	[ "$status" -eq 0 ]
	capa_lines USER STLS
	expect_bytes "$GREET" "${CAPA[@]}" '+OK Bye'
	grep -q '^libc\.so' "$T/maps-before"
	! grep -qE '^lib(ssl|crypto)\.so' "$T/maps-before" || false
}

@test "the same session with STLS: libssl is mapped from the STLS on, and TLS works (spec 8)" {
	add_user alice pw
	lazy stls --tls-cert="$CERT" --tls-key="$KEY"
	[ "$status" -eq 0 ]
	capa_lines USER STLS
	local before=("${CAPA[@]}")
	capa_lines USER TLS
	expect_bytes "$GREET" "${before[@]}" "$BEGIN_TLS" "${CAPA[@]}" \
	    '+OK Bye'
	! grep -qE '^lib(ssl|crypto)\.so' "$T/maps-before" || false
	grep -qE '^libssl\.so' "$T/maps-after"
	grep -qE '^libcrypto\.so' "$T/maps-after"
}

@test "STLS when OpenSSL cannot be loaded: -ERR [SYS/TEMP], logged, the session goes on (spec 8)" {
	add_user alice pw
	mkdir "$T/badlib"
	printf 'not a library\n' >"$T/badlib/libssl.so.3"
	crlf STLS CAPA 'USER alice' QUIT |
	    LD_LIBRARY_PATH=$T/badlib chat --tls-cert="$CERT" --tls-key="$KEY"
	[ "$status" -eq 0 ]
	capa_lines USER STLS
	expect_bytes "$GREET" '-ERR [SYS/TEMP] TLS is not available' \
	    "${CAPA[@]}" '+OK Password required' '+OK Bye'
	grep -q 'STLS: cannot load libssl\.so\.3' "$log"
}

@test "implicit TLS when OpenSSL cannot be loaded: no octet, logged, exit 1 (spec 8)" {
	add_user alice pw
	mkdir "$T/badlib"
	printf 'not a library\n' >"$T/badlib/libssl.so.3"
	crlf QUIT | LD_LIBRARY_PATH=$T/badlib chat --tls-cert="$CERT" \
	    --tls-key="$KEY" --implicit-tls=yes
	[ "$status" -eq 1 ]
	[ ! -s "$out" ]
	grep -q 'implicit TLS: cannot load libssl\.so\.3' "$log"
}

@test "--check-config still parses the certificate and key (spec 8)" {
	add_user alice pw
	check_config --tls-cert="$CERT" --tls-key="$OTHERKEY"
	[ "$status" -eq 2 ]
	grep -qiE 'tls-key.*mismatch' "$log"
	# A session with the same pair starts (the pair is parsed only at
	# the handshake), and says nothing of TLS until STLS.
	crlf QUIT | chat --tls-cert="$CERT" --tls-key="$OTHERKEY"
	[ "$status" -eq 0 ]
	expect_bytes "$GREET" '+OK Bye'
}
