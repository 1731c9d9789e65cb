# Protocol helpers for the session-level bats files (load after load.bash).
#
#   chat_raw ARGS       like chat, but only --log=stderr is added: the test
#                       chooses every other option (config, CLI tests)
#   drive [OPTS] STEP... -- ARGS
#                       runs the handler under a scripted client that can
#                       pause, keep its side open, use a socketpair, or
#                       stop reading; replies in $out, log in $log, exit
#                       status in $status, run time in $elapsed_ms
#   hash6 PW / hash5 PW openssl crypt hashes of PW (taken byte for byte)
#   user_line NAME HASH [UID GID]
#                       appends a raw passwd line for NAME with HASH
#   b64 FMT [ARGS]      base64 (one line) of printf FMT ARGS
#   now_ms              wall clock in milliseconds
#   every_err_has_text  each -ERR line of $out has text after "-ERR "
#   max_line_len        longest line of $out in octets, CRLF included

# "crlf ... | chat" must set $status and $out in this shell, not in a
# pipeline subshell: run the last element of a pipeline here.
shopt -s lastpipe

# chat_raw ARGS...: the handler with only --log=stderr added.
chat_raw() {
	status=0
	timeout $((20 * SLOW)) "$HANDLER" --log=stderr "$@" >"$out" 2>"$log" || status=$?
}

hash6() {
	printf '%s' "$1" | openssl passwd -6 -salt "saltsalt" -stdin
}

hash5() {
	printf '%s' "$1" | openssl passwd -5 -salt "saltsalt" -stdin
}

# user_line NAME HASH [UID GID]: a passwd line whose home is
# $MAILROOT/home-N (N counts lines), so odd names need no directory.
user_line() {
	local n
	n=$(wc -l <"$PASSWD")
	mkdir -p "$MAILROOT/home-$n"
	printf '%s:%s:%s:%s::%s::\n' "$1" "$2" "${3:-}" "${4:-}" \
	    "$MAILROOT/home-$n" >>"$PASSWD"
}

b64() {
	# shellcheck disable=SC2059
	printf "$@" | base64 -w0
}

now_ms() {
	echo $(($(date +%s%N) / 1000000))
}

# every_err_has_text: every line starting "-ERR" is "-ERR <text>" CRLF.
every_err_has_text() {
	local bad
	bad=$(LC_ALL=C grep -a -c -vE $'^(-ERR [^ \r][^\r]*\r|[^-].*|-[^E].*|)$' \
	    "$out" || true)
	if [ "$bad" -ne 0 ]; then
		LC_ALL=C grep -a -n -vE $'^(-ERR [^ \r][^\r]*\r|[^-].*|-[^E].*|)$' \
		    "$out" >&2
		return 1
	fi
}

max_line_len() {
	LC_ALL=C awk 'BEGIN { m = 0 } { if (length($0) + 1 > m) m = length($0) + 1 }
	    END { print m }' "$out"
}

# The scripted client.  Options before the steps:
#   --sock      fd 0 and fd 1 are one end of a socketpair (else two pipes)
#   --hold      after the steps keep the client side open until the
#               handler exits (else close it: EOF)
#   --noread    never read the handler's output
#   --raw       add only --log=stderr (else the chat() defaults)
#   --limit=S   kill the handler after S seconds (default 20)
# Steps: "=0.6" sleeps 0.6 s; "@FILE" sends FILE; anything else is sent
# after Python bytes escapes (\r \n \t \x00).  "--" ends the steps.
PROTO_DRIVER='
import os, socket, subprocess, sys, threading, time, codecs
a = sys.argv[1:]
opts = {"sock": False, "hold": False, "noread": False, "raw": False,
        "limit": 20.0}
while a and a[0].startswith("--") and a[0] != "--":
    k, _, v = a.pop(0)[2:].partition("=")
    opts[k] = float(v) if k == "limit" else True
# A bound against a hang, stretched by the SLOW factor of the suite.
opts["limit"] *= int(os.environ.get("SLOW", "1"))
steps = []
while a and a[0] != "--":
    steps.append(a.pop(0))
if a:
    a.pop(0)
handler, outp, logp, elp, passwd = (os.environ[k] for k in
    ("HANDLER", "out", "log", "P3_ELAPSED", "PASSWD"))
cmd = ["timeout", str(int(opts["limit"]) + 10), handler, "--log=stderr"]
if not opts["raw"]:
    cmd += ["--passwd-file=" + passwd, "--hostname=test.example",
            "--auth-fail-delay=0"]
cmd += a
lg = open(logp, "wb")
t0 = time.monotonic()
if opts["sock"]:
    mine, theirs = socket.socketpair()
    p = subprocess.Popen(cmd, stdin=theirs, stdout=theirs, stderr=lg)
    theirs.close()
    def send(b): mine.sendall(b)
    def close_w(): mine.shutdown(socket.SHUT_WR)
    def recv(): return mine.recv(65536)
else:
    p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=lg)
    def send(b):
        p.stdin.write(b); p.stdin.flush()
    def close_w(): p.stdin.close()
    def recv(): return os.read(p.stdout.fileno(), 65536)
got = []
def reader():
    while True:
        try:
            b = recv()
        except OSError:
            break
        if not b:
            break
        got.append(b)
th = None
if not opts["noread"]:
    th = threading.Thread(target=reader, daemon=True)
    th.start()
for s in steps:
    if s.startswith("=") and len(s) > 1:
        time.sleep(float(s[1:]))
        continue
    if s.startswith("@"):
        b = open(s[1:], "rb").read()
    else:
        b = codecs.escape_decode(s.encode())[0]
    try:
        send(b)
    except OSError:
        break
if not opts["hold"]:
    try:
        close_w()
    except OSError:
        pass
left = opts["limit"] - (time.monotonic() - t0)
try:
    rc = p.wait(timeout=max(left, 0.1))
except subprocess.TimeoutExpired:
    p.kill()
    rc = 124
    p.wait()
el = int((time.monotonic() - t0) * 1000)
if th:
    th.join(5)
with open(outp, "wb") as f:
    f.write(b"".join(got))
with open(elp, "w") as f:
    f.write(str(el) + "\n")
sys.exit(rc if rc >= 0 else 128 - rc)
'

drive() {
	status=0
	P3_ELAPSED=$BATS_TEST_TMPDIR/elapsed HANDLER=$HANDLER out=$out \
	    log=$log PASSWD=$PASSWD timeout $((60 * SLOW)) python3 -c "$PROTO_DRIVER" "$@" \
	    3>&- || status=$?
	elapsed_ms=$(cat "$BATS_TEST_TMPDIR/elapsed" 2>/dev/null || echo -1)
}
