#!/usr/bin/env python3
r"""tls-talk.py [--tls-max=1.0|1.1|1.2] [--cafile=F] PORT STEP...

The scripted POP3 client of talk() in tests/helpers/tls.bash: connects to
127.0.0.1:PORT and runs the steps in order, before and after a TLS
handshake.  Every byte the server sent lands in the file $out; client
errors in $T/client.err; the negotiated "version cipher" in $T/tlsinfo.
Time limit: 20 s * $SLOW for the whole run.

Steps: "stls" sends STLS, reads lines up to "+OK Begin TLS negotiation"
and does the handshake; "tls" does the handshake now (implicit TLS);
"=0.3" sleeps; "<N" reads N lines; "hello:N" sends the first N octets of
a real ClientHello, "hello-octet:I" its I-th octet (1-based);
"quiet:S" fails (status 7) if any octet arrives within S seconds;
anything else is sent after Python escapes (\r \n \x00).  At the end:
read to EOF.

Exit status: 0; 3 a handshake failed; 4 client timeout; 5 EOF before the
STLS answer; 6 another client error; 7 bytes where "quiet:" wanted none.
"""
import codecs, os, socket, ssl, sys, time
a = sys.argv[1:]
opts = {}
while a and a[0].startswith("--"):
    k, _, v = a.pop(0)[2:].partition("=")
    opts[k] = v
port = int(a.pop(0))
outp, tdir = os.environ["out"], os.environ["T"]
got = []
err = open(os.path.join(tdir, "client.err"), "w")
deadline = time.monotonic() + 20 * int(os.environ.get("SLOW", "1"))
def left():
    return max(deadline - time.monotonic(), 0.01)
def ctx():
    if "cafile" in opts:
        c = ssl.create_default_context(cafile=opts["cafile"])
    else:
        c = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        c.check_hostname = False
        c.verify_mode = ssl.CERT_NONE
    if "tls-max" in opts:
        c.minimum_version = ssl.TLSVersion.MINIMUM_SUPPORTED
        c.maximum_version = {"1.0": ssl.TLSVersion.TLSv1,
            "1.1": ssl.TLSVersion.TLSv1_1,
            "1.2": ssl.TLSVersion.TLSv1_2}[opts["tls-max"]]
        c.set_ciphers("DEFAULT@SECLEVEL=0")
    return c
s = socket.create_connection(("127.0.0.1", port), timeout=10)
def finish(rc):
    with open(outp, "wb") as f:
        f.write(b"".join(got))
    err.close()
    sys.exit(rc)
def readline():
    # byte by byte: nothing after the line is taken from the socket
    line = b""
    while not line.endswith(b"\n"):
        s.settimeout(left())
        b = s.recv(1)
        if not b:
            break
        line += b
    got.append(line)
    return line
hello_cache = []
def client_hello():
    if hello_cache:
        return hello_cache[0]
    inb, outb = ssl.MemoryBIO(), ssl.MemoryBIO()
    o = ctx().wrap_bio(inb, outb, server_hostname="localhost")
    try:
        o.do_handshake()
    except ssl.SSLWantReadError:
        pass
    hello_cache.append(outb.read())
    return hello_cache[0]
def handshake():
    global s
    try:
        s.settimeout(left())
        s = ctx().wrap_socket(s, server_hostname="localhost")
    except (ssl.SSLError, OSError) as e:
        err.write("handshake failed: %r\n" % (e,))
        finish(3)
    with open(os.path.join(tdir, "tlsinfo"), "w") as f:
        f.write("%s %s\n" % (s.version(), s.cipher()[0]))
try:
    for st in a:
        if st == "stls":
            s.sendall(b"STLS\r\n")
            while True:
                l = readline()
                if not l:
                    err.write("EOF before the STLS answer\n")
                    finish(5)
                if l.startswith(b"+OK Begin"):
                    break
                if l.startswith(b"-ERR"):
                    err.write("STLS refused\n")
                    break
            else:
                pass
            if l.startswith(b"+OK Begin"):
                handshake()
        elif st == "tls":
            handshake()
        elif st.startswith("hello:"):
            s.sendall(client_hello()[:int(st[6:])])
        elif st.startswith("hello-octet:"):
            i = int(st[12:]) - 1
            s.sendall(client_hello()[i:i + 1])
        elif st.startswith("quiet:"):
            # nothing may arrive for this long (plaintext side)
            s.settimeout(float(st[6:]))
            try:
                b = s.recv(65536, socket.MSG_PEEK)
            except socket.timeout:
                b = None
            if b is not None:
                err.write("unexpected bytes: %r\n" % (b[:200],))
                if b:
                    got.append(s.recv(65536))
                finish(7)
        elif st.startswith("=") and len(st) > 1:
            time.sleep(float(st[1:]))
        elif st.startswith("<") and st[1:].isdigit():
            for _ in range(int(st[1:])):
                if not readline():
                    break
        else:
            s.sendall(codecs.escape_decode(st.encode())[0])
    while True:
        s.settimeout(left())
        b = s.recv(65536)
        if not b:
            break
        got.append(b)
except socket.timeout:
    err.write("client timeout\n")
    finish(4)
except (ssl.SSLError, OSError) as e:
    err.write("client error: %r\n" % (e,))
    finish(6)
finish(0)
