#!/usr/bin/env python3
# deploy-pop.py PORT plain|ssl USER PASSWORD: a real client (poplib) for
# deploy.bats.  Logs in on 127.0.0.1:PORT, runs STAT, RETR 1 and QUIT, and
# prints a transcript: "welcome: ...", "stat: N OCTETS", the message lines
# after "retr:", and "quit: ...".  SSL does not verify the certificate.
import os
import poplib
import ssl
import sys

# A bound against a hang, stretched by the SLOW factor of the suite.
timeout = 10 * int(os.environ.get("SLOW", "1"))

port, mode, user, password = sys.argv[1:5]
if mode == "ssl":
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    p = poplib.POP3_SSL("127.0.0.1", int(port), context=ctx, timeout=timeout)
else:
    p = poplib.POP3("127.0.0.1", int(port), timeout=timeout)
print("welcome:", p.getwelcome().decode())
p.user(user)
p.pass_(password)
count, octets = p.stat()
print("stat:", count, octets)
resp, lines, size = p.retr(1)
print("retr:", resp.decode())
for line in lines:
    print(line.decode())
print("quit:", p.quit().decode())
