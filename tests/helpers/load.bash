# Shared helpers for the bats suite.  Every test gets a fresh world under
# $BATS_TEST_TMPDIR: a passwd file, Maildirs, and the handler's transcript.
#
#   HANDLER     the binary under test (default ./pop3-handler)
#   PASSWD      the passwd file built by add_user
#   chat ARGS   runs the handler with stdin from the caller; raw bytes of
#               its replies land in $out, its log in $log, status in $status
#   GREET PWREQ FAIL OK0 REFUSED
#               the greeting for --hostname=test.example and the replies
#               most tests expect: "+OK Password required", a failed
#               login, a login to an empty Maildir, plaintext refused
#   check_config ARGS   --check-config with the test's passwd file:
#               stdout in $out, stderr in $log, status in $status
#   priv_mailroot NAME  $MAILROOT in a 0755 /tmp directory ($PRIVROOT)
#   free_port   a TCP port on 127.0.0.1 that was free a moment ago
#   wait_port PORT      waits (bounded) until 127.0.0.1:PORT listens
#   end_pids PID...     SIGTERM to processes this test started, then reaps
#   no_sanitizer_report [FILE...]
#               fails when ASan/UBSan wrote into one of the files ($log);
#               every teardown here and in the other helpers runs it
#
# Every function below has its own comment; the other helpers (proto,
# mail, tls, ...) load after this one and name what they add at the top.

# `crlf ... | chat` runs chat in this shell, so $status/$out are set.
shopt -s lastpipe

TOP=$(cd "$BATS_TEST_DIRNAME/.." && pwd)
HANDLER=${HANDLER:-$TOP/pop3-handler}

# The greeting chat's --hostname gives, and the replies most tests expect.
GREET='+OK test.example POP3 server ready'
PWREQ='+OK Password required'
FAIL='-ERR [AUTH] Authentication failed'
OK0='+OK Logged in, 0 messages (0 octets)'
REFUSED='-ERR [AUTH] Plaintext authentication is disallowed on this connection; use STLS'

# CAPA's SASL line and AUTH's list with the default auth-mechanisms
# (spec 4.1): where plaintext is allowed, and where it is not (without
# the handler's own TLS; SASL_NOPLAIN is a list of zero or one lines);
# SASL_TLS_LINE under the handler's own TLS, where -PLUS is usable.
SASL_LINE='SASL PLAIN LOGIN SCRAM-SHA-256'
SASL_NOPLAIN=('SASL SCRAM-SHA-256')
SASL_TLS_LINE='SASL PLAIN LOGIN SCRAM-SHA-256 SCRAM-SHA-256-PLUS'
AUTH_LIST=(PLAIN LOGIN SCRAM-SHA-256)
case $HANDLER in /*) ;; *) HANDLER=$TOP/$HANDLER ;; esac
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0:exitcode=99}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1:exitcode=98}

# SLOW: the factor by which time limits stretch on a busy machine.
# TEST_SLOW when set; else 1 + the 1-minute load average per CPU, rounded
# up, at most 10.  Limits are "N * SLOW"; waits stay event-driven.
if [ -z "${SLOW:-}" ]; then
	SLOW=${TEST_SLOW:-$(awk -v n="$(nproc 2>/dev/null || echo 1)" '
	    { f = 1 + $1 / n; i = int(f); if (i < f) i++; if (i > 10) i = 10
	      print i }' /proc/loadavg 2>/dev/null || echo 1)}
	case $SLOW in ''|*[!0-9]*|0) SLOW=1 ;; esac
	export SLOW
fi

common_setup() {
	T=$BATS_TEST_TMPDIR
	PASSWD=$T/passwd
	: >"$PASSWD"
	out=$T/out
	log=$T/log
	MAILROOT=$T/mail
	mkdir -p "$MAILROOT"
}

setup() {
	common_setup
}

# add_user NAME PASSWORD [UID GID]: a passwd line with a $6$ hash; the
# Maildir is $MAILROOT/NAME/Maildir (home field $MAILROOT/NAME).
add_user() {
	local name=$1 pw=$2 uid=${3:-} gid=${4:-} hash
	hash=$(printf '%s' "$pw" | openssl passwd -6 -salt "saltsalt" -stdin)
	mkdir -p "$MAILROOT/$name"
	printf '%s:%s:%s:%s::%s::\n' "$name" "$hash" "$uid" "$gid" \
	    "$MAILROOT/$name" >>"$PASSWD"
}

# maildir NAME: prints the Maildir path of a user added by add_user.
maildir() {
	printf '%s/%s/Maildir' "$MAILROOT" "$1"
}

# mkmsg USER SUBDIR FILENAME LINE...: writes a message with LF endings
# into USER's Maildir SUBDIR (new or cur) under FILENAME.
mkmsg() {
	local user=$1 sub=$2 name=$3 md
	shift 3
	md=$(maildir "$user")
	mkdir -p "$md/new" "$md/cur" "$md/tmp"
	printf '%s\n' "$@" >"$md/$sub/$name"
}

# mkraw USER SUBDIR FILENAME: writes stdin as the message, byte for byte.
mkraw() {
	local md
	md=$(maildir "$1")
	mkdir -p "$md/new" "$md/cur" "$md/tmp"
	cat >"$md/$2/$3"
}

# chat ARGS...: runs the handler with the test's passwd file and the
# caller's stdin; replies in $out, log in $log, exit status in $status.
chat() {
	status=0
	timeout $((20 * SLOW)) "$HANDLER" --passwd-file="$PASSWD" --log=stderr \
	    --hostname=test.example --auth-fail-delay=0 "$@" \
	    >"$out" 2>"$log" || status=$?
}

# check_config ARGS...: the handler's --check-config with the test's
# passwd file; stdout in $out, stderr in $log, exit status in $status.
check_config() {
	status=0
	timeout $((10 * SLOW)) "$HANDLER" --passwd-file="$PASSWD" \
	    --check-config "$@" >"$out" 2>"$log" || status=$?
}

# to_crlf FILE: the message as a client holds it after RETR (LF and
# CRLF become CRLF, a bare CR passes, a last line without newline gets
# CRLF).
to_crlf() {
	python3 -c '
import sys
d = open(sys.argv[1], "rb").read()
o = d.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
if o and not o.endswith(b"\r\n"):
    o += b"\r\n"
sys.stdout.buffer.write(o)
' "$1"
}

# crlf LINE...: each argument followed by CRLF.
crlf() {
	printf '%s\r\n' "$@"
}

# expect_bytes LINE...: $out must be exactly these lines, each with CRLF.
expect_bytes() {
	crlf "$@" >"$BATS_TEST_TMPDIR/exp"
	expect_file "$BATS_TEST_TMPDIR/exp"
}

# expect_file FILE: $out must equal FILE byte for byte.
expect_file() {
	if ! cmp -s "$1" "$out"; then
		diff <(od -An -c "$1") <(od -An -c "$out") | head -40 >&2
		return 1
	fi
}

# line N: prints reply line N of $out without its CRLF.
line() {
	sed -n "${1}p" "$out" | tr -d '\r'
}

# line_is N TEXT: reply line N is exactly TEXT followed by CRLF.
line_is() {
	local got
	got=$(sed -n "${1}p" "$out" | od -An -c | tr -s ' ')
	local want
	want=$(printf '%s\r\n' "$2" | od -An -c | tr -s ' ')
	if [ "$got" != "$want" ]; then
		echo "line $1: got [$(line "$1")] want [$2]" >&2
		return 1
	fi
}

# no_sanitizer_report [FILE...]: fails, naming the file, when ASan or
# UBSan wrote a report into one of the FILEs that exist ($log when no
# FILE is given); files that do not exist are passed over.
no_sanitizer_report() {
	local f
	[ $# -gt 0 ] || set -- "${log:-}"
	for f in "$@"; do
		[ -f "$f" ] || continue
		if grep -qE 'ERROR: (Address|Leak)Sanitizer|runtime error:' \
		    "$f"; then
			echo "sanitizer report in $f" >&2
			return 1
		fi
	done
}

# priv_mailroot NAME: $PRIVROOT, a new 0755 directory /tmp/pop3-NAME.*
# outside bats' 0700 tree, becomes $MAILROOT, so that the uids the
# handler switches to can reach the Maildirs; remove it in teardown
# with: [ -z "${PRIVROOT:-}" ] || rm -rf "$PRIVROOT".
priv_mailroot() {
	PRIVROOT=$(mktemp -d "/tmp/pop3-$1.XXXXXX")
	chmod 755 "$PRIVROOT"
	MAILROOT=$PRIVROOT
}

# free_port: a TCP port on 127.0.0.1 that was free a moment ago.
free_port() {
	python3 -c '
import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()'
}

# wait_port PORT: waits (at most 5 s * SLOW) until a socket listens on
# 127.0.0.1:PORT (read from /proc/net/tcp: no connection, no iproute2).
wait_port() {
	local i hex
	hex=$(printf '0100007F:%04X' "$1")
	for i in $(seq 1 $((100 * SLOW))); do
		awk -v a="$hex" '$2 == a && $4 == "0A" { f = 1 } END { exit !f }' \
		    /proc/net/tcp && return 0
		sleep 0.05
	done
	echo "nothing listens on 127.0.0.1:$1 after $((5 * SLOW)) s" >&2
	return 1
}

# end_pids PID...: ends processes this test started, by PID: SIGTERM to
# each (those already gone are passed over), then reaps the ones that
# are children of this shell.
end_pids() {
	local p
	for p in "$@"; do
		kill "$p" 2>/dev/null || true
	done
	for p in "$@"; do
		wait "$p" 2>/dev/null || true
	done
}

# login USER PASS: the CRLF lines of a USER/PASS login.
login() {
	crlf "USER $1" "PASS $2"
}

teardown() {
	no_sanitizer_report
}
