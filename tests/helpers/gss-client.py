#!/usr/bin/env python3
# A GSSAPI (RFC 4752) client for tests/auth-gssapi.bats.  GNU SASL's own
# command-line client ("gsasl --client --mechanism=GSSAPI") makes the
# Kerberos tokens from the caller's ticket cache ($KRB5CCNAME); this
# script carries them to the handler and back, so the transcript holds
# exactly the bytes the handler wrote.
#
# Runs the handler ($HANDLER with chat()'s defaults: $PASSWD, --log=stderr,
# --hostname=localhost, --auth-fail-delay=0, then the ARGS after --) on
# a socketpair, sends "AUTH GSSAPI", relays the exchange, then the lines
# of --then.  The raw server bytes go to $out, the log to $log; the exit
# status is the handler's.
#
#   --authzid Z      the authorisation identity the client asks for
#   --record FILE    saves the client's first token (base64) in FILE
#   --replay FILE    sends FILE's token instead of a fresh one, and stops
#                    after the server's answer to it
#   --then LINE      a command with a one-line answer, sent after the
#                    exchange (repeatable)
import argparse, os, socket, subprocess, sys

ap = argparse.ArgumentParser()
ap.add_argument('--authzid')
ap.add_argument('--record')
ap.add_argument('--replay')
ap.add_argument('--then', action='append', default=[])
ap.add_argument('args', nargs='*')
o = ap.parse_args()

a, b = socket.socketpair()
a.settimeout(30)
log = open(os.environ['log'], 'wb')
h = subprocess.Popen(['timeout', '30', os.environ['HANDLER'],
    '--passwd-file=' + os.environ['PASSWD'], '--log=stderr',
    '--hostname=localhost', '--auth-fail-delay=0'] + o.args,
    stdin=b, stdout=b, stderr=log)
b.close()
raw = open(os.environ['out'], 'wb')
buf = b''


def getline():
    global buf
    while b'\n' not in buf:
        d = a.recv(65536)
        if not d:
            raise EOFError('handler closed the connection')
        buf += d
    line, buf = buf.split(b'\n', 1)
    raw.write(line + b'\n')
    raw.flush()
    return line.rstrip(b'\r').decode('ascii', 'replace')


def send(line):
    a.sendall(line.encode('ascii') + b'\r\n')


def finish():
    a.close()
    raw.close()
    sys.exit(h.wait())


g = None
if o.replay is None:
    cmd = ['gsasl', '--client', '--mechanism=GSSAPI', '--service=pop',
           '--hostname=localhost', '--quiet']
    if o.authzid is not None:
        cmd.append('--authorization-id=' + o.authzid)
    g = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=open(os.environ['out'] + '.gsasl', 'wb'),
                         text=True, bufsize=1)


def client_line():
    """The next base64 line gsasl prints; None when it has ended."""
    while True:
        line = g.stdout.readline()
        if line == '':
            return None
        line = line.strip()
        if line != 'GSSAPI':	# --quiet still names the mechanism
            return line


try:
    getline()				# greeting
    send('AUTH GSSAPI')
    r = getline()
    if r != '+ ':
        finish()
    if o.replay is not None:
        send(open(o.replay).read().strip())
        getline()
        send('QUIT')
        getline()
        finish()
    tok = client_line()
    if tok is None:
        send('*')			# no ticket: the client gives up
        getline()
        send('QUIT')
        getline()
        finish()
    if o.record:
        open(o.record, 'w').write(tok + '\n')
    send(tok)
    while True:
        r = getline()
        if not r.startswith('+ '):
            break
        g.stdin.write(r[2:] + '\n')
        g.stdin.flush()
        tok = client_line()
        send(tok if tok is not None else '*')
    if g is not None:
        g.stdin.close()
        g.wait()
    for t in o.then:
        send(t)
        getline()
    finish()
except (EOFError, socket.timeout, BrokenPipeError) as e:
    print('gss-client: %s' % e, file=sys.stderr)
    finish()
