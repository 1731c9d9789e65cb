#!/usr/bin/env python3
# deploy-journal.py SOCKET OUT SECONDS: a stand-in for journald for
# deploy.bats.  Binds an AF_UNIX datagram socket at SOCKET, decodes every
# datagram of the native journal protocol (KEY=VALUE lines, the binary
# form KEY\n<le64 length><value>\n, and a memfd passed with SCM_RIGHTS
# for large entries) and appends each entry to OUT as one line of fields
# separated by TAB, with TAB, LF and backslash in values escaped as \t \n
# \\.  Stops after SECONDS, or at an entry holding POP3_TEST_STOP.
import array
import os
import socket
import struct
import sys
import time


def decode(data):
    fields = []
    i = 0
    while i < len(data):
        nl = data.find(b"\n", i)
        if nl < 0:
            raise ValueError("entry does not end in LF")
        line = data[i:nl]
        eq = line.find(b"=")
        if eq >= 0:
            fields.append((line[:eq], line[eq + 1:]))
            i = nl + 1
            continue
        # Binary form: the name, LF, a little-endian 64-bit length, the
        # value, LF.
        (n,) = struct.unpack_from("<Q", data, nl + 1)
        start = nl + 9
        fields.append((line, data[start:start + n]))
        if data[start + n:start + n + 1] != b"\n":
            raise ValueError("binary field does not end in LF")
        i = start + n + 1
    return fields


def esc(b):
    s = b.decode("utf-8", "backslashreplace")
    return s.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")


path, out, seconds = sys.argv[1], sys.argv[2], float(sys.argv[3])
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(path)
os.chmod(path, 0o666)
deadline = time.monotonic() + seconds
with open(out, "a") as f:
    while time.monotonic() < deadline:
        s.settimeout(max(0.05, deadline - time.monotonic()))
        try:
            data, anc, _, _ = s.recvmsg(1 << 20, socket.CMSG_SPACE(16))
        except socket.timeout:
            break
        for level, typ, cdata in anc:
            if level == socket.SOL_SOCKET and typ == socket.SCM_RIGHTS:
                fds = array.array("i")
                fds.frombytes(cdata[:len(cdata) - len(cdata) % 4])
                for fd in fds:
                    os.lseek(fd, 0, 0)
                    chunks = []
                    while True:
                        c = os.read(fd, 65536)
                        if not c:
                            break
                        chunks.append(c)
                    os.close(fd)
                    data = b"".join(chunks)
        try:
            fields = decode(data)
        except (ValueError, struct.error) as e:
            fields = [(b"DECODE_ERROR", str(e).encode())]
        f.write("\t".join(esc(k) + "=" + esc(v) for k, v in fields) + "\n")
        f.flush()
        if any(k == b"POP3_TEST_STOP" for k, _ in fields):
            break
