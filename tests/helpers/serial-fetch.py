#!/usr/bin/env python3
"""serial-fetch.py HANDLER PASSWD MAILDIR LOG [ARGS...]: a client that
fetches like fetchmail: it logs in as alice/pw over a socketpair, then for
each message sends RETR and waits for the whole answer before the next
command (so the handler reads ahead while it waits).  Every answer must
be, byte for byte, "+OK <LIST size> octets", the RFC 1939 transform of
the message file (LF and CRLF to CRLF, dot-stuffed, a last line
completed) and ".".  The message files are found by their X-Seq header.
With SERIAL_DELE=1 in the environment, DELE follows each RETR and QUIT
must then remove them.
Prints the number of messages checked; exits 1 on the first difference."""
import os
import re
import socket
import subprocess
import sys

handler, passwd, md, log = sys.argv[1:5]
a, b = socket.socketpair()
proc = subprocess.Popen(['timeout', '60', handler, '--passwd-file=' + passwd,
                         '--log=stderr', '--hostname=test.example',
                         '--auth-fail-delay=0'] + sys.argv[5:],
                        stdin=b, stdout=b, stderr=open(log, 'wb'))
b.close()
buf = b''


def more():
    global buf
    d = a.recv(1 << 20)
    if not d:
        sys.exit('connection closed early')
    buf += d


def line():
    global buf
    while b'\r\n' not in buf:
        more()
    ln, buf = buf.split(b'\r\n', 1)
    return ln


def body():
    global buf
    while b'\r\n.\r\n' not in buf:
        more()
    end = buf.index(b'\r\n.\r\n') + 5
    got, buf = buf[:end], buf[end:]
    return got


def send(cmd):
    a.sendall(cmd.encode() + b'\r\n')


def wire(d):
    o = d.replace(b'\r\n', b'\n').replace(b'\n', b'\r\n')
    if o.endswith(b'\r') and not o.endswith(b'\r\n'):
        o += b'\n'     # a CR that ends the file ends the last line
    elif o and not o.endswith(b'\r\n'):
        o += b'\r\n'
    lines = o.split(b'\r\n')
    o = b'\r\n'.join((b'.' + x if x.startswith(b'.') else x) for x in lines)
    return o + b'.\r\n'


files = {}
for sub in ('cur', 'new'):
    for f in os.listdir(os.path.join(md, sub)):
        d = open(os.path.join(md, sub, f), 'rb').read()
        m = re.match(rb'X-Seq: (\d+)\n', d)
        if m:
            files[int(m.group(1))] = d

line()
send('USER alice')
line()
send('PASS pw')
assert line().startswith(b'+OK Logged in'), 'login failed'
send('LIST')
assert line().startswith(b'+OK')
sizes = {}
while True:
    ln = line()
    if ln == b'.':
        break
    n, s = ln.split()
    sizes[int(n)] = int(s)
checked = 0
for n in sorted(sizes):
    send('RETR %d' % n)
    st = line()
    if st != b'+OK %d octets' % sizes[n]:
        sys.exit('RETR %d: %r, LIST said %d' % (n, st, sizes[n]))
    got = body()
    seq = int(re.match(rb'X-Seq: (\d+)\r\n', got).group(1))
    exp = wire(files[seq])
    if got != exp:
        i = next(k for k in range(min(len(got), len(exp)))
                 if got[k] != exp[k]) if got[:len(exp)] != exp[:len(got)] \
            else min(len(got), len(exp))
        sys.exit('RETR %d (X-Seq %d): differs at octet %d of %d/%d: '
                 'got %r want %r' % (n, seq, i, len(got), len(exp),
                                     got[i - 10:i + 10], exp[i - 10:i + 10]))
    if len(got) - 3 - got.count(b'\r\n..') != sizes[n]:
        sys.exit('RETR %d: octets after un-stuffing differ from LIST' % n)
    checked += 1
    if os.environ.get('SERIAL_DELE') == '1':
        send('DELE %d' % n)
        if line() != b'+OK Message %d deleted' % n:
            sys.exit('DELE %d failed' % n)
send('QUIT')
assert line() == b'+OK Bye'
assert proc.wait() == 0, 'handler exit status'
print(checked)
