#!/usr/bin/env python3
# An NTLM client for tests/auth-ntlm.bats (MS-NLMP, MS-OXPOP3 framing).
# Runs the handler ($HANDLER, with chat()'s defaults: $PASSWD, --log=stderr,
# --hostname=test.example, --auth-fail-delay=0, then the ARGS after --) on
# pipes, sends "AUTH NTLM", a NEGOTIATE, reads the CHALLENGE, checks its
# structure, answers with an AUTHENTICATE and then the lines of --then.
# The raw server bytes go to $out, the log to $log; the exit status is the
# handler's.  The CHALLENGE's fields go to $out.type2 as "key value" lines.
#
#   --key HEX       the NT hash the client holds (--hash-password output)
#   --user U, --domain D (default "alice", "")
#   --mode v2|v1|lm  NTLMv2 (default), a 24-octet NTLMv1 response, or an
#                   LM response only
#   --ir            the NEGOTIATE as the initial response on the AUTH line
#   --user-hex HEX  the UserName field as raw octets (UTF-16LE or not)
#   --mic, --bad-mic  MsvAvFlags with the MIC bit, Version and a MIC over
#                   the three messages (MS-NLMP 3.1.5.1.2), or a wrong one
#   --then LINE     a line sent after the exchange (repeatable)
import argparse, base64, hmac, os, struct, subprocess, sys, time

SIG = b'NTLMSSP\0'
ap = argparse.ArgumentParser()
ap.add_argument('--key', default='00' * 16)
ap.add_argument('--user', default='alice')
ap.add_argument('--domain', default='')
ap.add_argument('--mode', default='v2')
ap.add_argument('--ir', action='store_true')
ap.add_argument('--user-hex')
ap.add_argument('--mic', action='store_true')
ap.add_argument('--bad-mic', action='store_true')
ap.add_argument('--then', action='append', default=[])
ap.add_argument('args', nargs='*')
o = ap.parse_args()

cmd = ['timeout', '20', os.environ['HANDLER'],
       '--passwd-file=' + os.environ['PASSWD'], '--log=stderr',
       '--hostname=test.example', '--auth-fail-delay=0'] + o.args
log = open(os.environ['log'], 'wb')
p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                     stderr=log)
got = []


def readline():
    line = p.stdout.readline()
    got.append(line)
    return line


def send(s):
    p.stdin.write(s.encode() + b'\r\n')
    p.stdin.flush()


def finish(rc_extra=None):
    # The handler may have closed already (max-auth-failures): what it
    # said is in got either way.
    try:
        for t in o.then:
            send(t)
        p.stdin.close()
    except BrokenPipeError:
        pass
    got.append(p.stdout.read())
    rc = p.wait()
    open(os.environ['out'], 'wb').write(b''.join(got))
    sys.exit(rc if rc_extra is None else rc_extra)


def hm(key, data):
    return hmac.new(key, data, 'md5').digest()


readline()                                      # greeting
flags1 = 0x00088207 | 0x8000                    # like curl and Windows
neg = SIG + struct.pack('<II', 1, flags1) + bytes(16)
if o.ir:
    send('AUTH NTLM ' + base64.b64encode(neg).decode())
else:
    send('AUTH NTLM')
    if readline() != b'+ \r\n':
        finish()
    send(base64.b64encode(neg).decode())
line = readline()
if not line.startswith(b'+ ') or not line.endswith(b'\r\n'):
    finish()
t2 = base64.b64decode(line[2:-2], validate=True)
assert t2[:8] == SIG and struct.unpack('<I', t2[8:12])[0] == 2, t2[:12]
tn_len, _, tn_off = struct.unpack('<HHI', t2[12:20])
flags2 = struct.unpack('<I', t2[20:24])[0]
chal = t2[24:32]
ti_len, _, ti_off = struct.unpack('<HHI', t2[40:48])
assert tn_off + tn_len <= len(t2) and ti_off + ti_len == len(t2)
ti = t2[ti_off:ti_off + ti_len]
info = {'flags': '%08x' % flags2,
        'target': t2[tn_off:tn_off + tn_len].decode('utf-16le'),
        'length': str(len(line))}
at = 0
while True:
    av_id, av_len = struct.unpack('<HH', ti[at:at + 4])
    val = ti[at + 4:at + 4 + av_len]
    if av_id == 0:
        assert at + 4 == len(ti)
        break
    if av_id == 7:
        ft = struct.unpack('<Q', val)[0]
        info['av7'] = str(ft // 10000000 - 11644473600 - int(time.time()))
    else:
        info['av%d' % av_id] = val.decode('utf-16le')
    at += 4 + av_len
with open(os.environ['out'] + '.type2', 'w') as f:
    for k, v in info.items():
        f.write('%s %s\n' % (k, v))

key = bytes.fromhex(o.key)
user16 = (bytes.fromhex(o.user_hex) if o.user_hex is not None
          else o.user.encode('utf-16le'))
dom16 = o.domain.encode('utf-16le')
owf = hm(key, o.user.upper().encode('utf-16le') + dom16)
cch = os.urandom(8)
mic = o.mic or o.bad_mic
avs = ti
if mic:         # MsvAvFlags (6) = 2 before the EOL
    avs = ti[:-4] + struct.pack('<HHI', 6, 4, 2) + ti[-4:]
if o.mode == 'v2':
    blob = (b'\x01\x01' + bytes(6) + struct.pack('<Q', int(time.time() +
            11644473600) * 10000000) + cch + bytes(4) + avs + bytes(4))
    nt = hm(owf, chal + blob) + blob
    lm = hm(owf, chal + cch) + cch
elif o.mode == 'v1':
    # The shape of an NTLMv1 response: 24 octets (DES is not needed to
    # show that the length alone is refused).
    nt = hm(key, chal) + bytes(8)
    lm = bytes(24)
else:
    nt = b''
    lm = hm(key, chal) + bytes(8)
fields = [lm, nt, dom16, user16, 'WS'.encode('utf-16le'), b'']
off, hdr, payload = 88 if mic else 64, b'', b''
for fld in fields:
    hdr += struct.pack('<HHI', len(fld), len(fld), off)
    payload += fld
    off += len(fld)
t3 = SIG + struct.pack('<I', 3) + hdr + struct.pack('<I', flags2)
if mic:
    t3 += bytes(24) + payload   # Version, then the MIC zeroed
    sbk = hm(owf, nt[:16])     # SessionBaseKey = ExportedSessionKey
    m = hm(sbk, neg + t2 + t3)
    if o.bad_mic:
        m = bytes([m[0] ^ 1]) + m[1:]
    t3 = t3[:72] + m + t3[88:]
else:
    t3 += payload
send(base64.b64encode(t3).decode())
readline()
finish()
