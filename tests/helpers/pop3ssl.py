#!/usr/bin/env python3
"""pop3ssl.py PORT USER PASS [DST]: Python's poplib over implicit TLS
(certificate not verified) to 127.0.0.1:PORT, as pop3ssl in
tests/helpers/tls.bash runs it.

Prints one line each: the greeting; the CAPA tags, sorted, on one line;
then logs in with USER/PASS and, with DST, writes message 1 into DST (its
lines as poplib un-stuffs them, each with CRLF), without DST prints
STAT as "(count, octets)"; a -ERR reply to any of these is printed
instead and ends that part; last, the QUIT reply.
"""
import poplib
import ssl
import sys

port, user, pw = int(sys.argv[1]), sys.argv[2], sys.argv[3]
dst = sys.argv[4] if len(sys.argv) > 4 else None
c = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
c.check_hostname = False
c.verify_mode = ssl.CERT_NONE
p = poplib.POP3_SSL("127.0.0.1", port, context=c, timeout=10)
print(p.getwelcome().decode())
print(" ".join(sorted(p.capa())))
try:
    p.user(user)
    p.pass_(pw)
    if dst is None:
        print(p.stat())
    else:
        resp, lines, octets = p.retr(1)
        with open(dst, "wb") as f:
            f.write(b"".join(l + b"\r\n" for l in lines))
except poplib.error_proto as e:
    print(e.args[0].decode())
print(p.quit().decode())
