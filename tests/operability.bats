#!/usr/bin/env bats
# spec 1, 4, 8, 9, the behaviour an administrator sees: STLS refused where the
# transport is already protected (spec 8), log-retrievals (spec 9), the
# penalty wait at info, locked accounts named, the penalty directory,
# --hash-password on a terminal, ranges in config errors (spec 1).

load helpers/load
load helpers/proto
load helpers/mail

setup_file() {
	local d=$BATS_FILE_TMPDIR
	CERT=$d/cert.pem
	KEY=$d/key.pem
	export CERT KEY
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
	    -nodes -subj /CN=test.example -days 2 -keyout "$KEY" \
	    -out "$CERT" 2>/dev/null
}

CAPA_HEAD=('+OK Capability list follows' TOP UIDL RESP-CODES AUTH-RESP-CODE
    PIPELINING 'EXPIRE NEVER')
CAPA_TAIL=('IMPLEMENTATION pop3-handler' .)
PROTECTED='-ERR The transport is already protected; STLS is not available'

# ---- spec 8: STLS where the transport is already protected -------------

@test "secured = yes with TLS configured: CAPA has no STLS, STLS is -ERR (spec 8)" {
	add_user alice pw
	crlf CAPA STLS QUIT | chat --secured=yes --tls-cert="$CERT" \
	    --tls-key="$KEY"
	[ "$status" -eq 0 ]
	expect_bytes "$GREET" "${CAPA_HEAD[@]}" USER "$SASL_LINE" \
	    "${CAPA_TAIL[@]}" "$PROTECTED" '+OK Bye'
}

@test "secured = yes: STLS after a CAPA is still -ERR, and login works in the clear of the protected transport (spec 8)" {
	add_user alice pw
	{ crlf STLS; login alice pw; crlf QUIT; } | chat --secured=yes \
	    --tls-cert="$CERT" --tls-key="$KEY" --plaintext-auth=never
	[ "$status" -eq 0 ]
	expect_bytes "$GREET" "$PROTECTED" '+OK Password required' \
	    '+OK Logged in, 0 messages (0 octets)' '+OK Bye'
}

# ---- spec 9: log-retrievals ------------------------------------------------

# three_msgs: alice with three messages in new/.
three_msgs() {
	setup_alice
	putf new 1700000001.M1P1.host 'Subject: a\n\none\n'
	putf new 1700000002.M2P2.host 'Subject: b\n\ntwo\n'
	putf new 1700000003.M3P3.host 'Subject: c\n\nthree\n'
}

# uidl_of N: the UIDL of message N from the listing in $out.
uidl_of() {
	tr -d '\r' <"$out" | awk -v n="$1" '$1 == n && NF == 2 { print $2; exit }'
}

@test "log-retrievals = yes: the logout entry lists the UIDLs retrieved and removed (spec 9)" {
	three_msgs
	{ login alice pw; crlf UIDL 'RETR 1' 'RETR 3' 'TOP 2 0' 'DELE 2' QUIT; } |
	    chat --log-retrievals=yes
	[ "$status" -eq 0 ]
	cat "$log" >&2
	local u1 u2 u3
	u1=$(uidl_of 1) u2=$(uidl_of 2) u3=$(uidl_of 3)
	[ -n "$u1" ] && [ -n "$u3" ]
	grep -qx "pop3-handler: event=logout user=alice remote=local mech=user logout: retrieved=2 octets=[0-9]* top=1 deleted=1 removed=1 messages=3 size=[0-9]* retrieved-uidls=$u1,$u3 removed-uidls=$u2" "$log"
}

@test "log-retrievals = no (the default): no UIDLs in the log (spec 9)" {
	three_msgs
	{ login alice pw; crlf UIDL 'RETR 1' 'DELE 2' QUIT; } | chat
	[ "$status" -eq 0 ]
	grep -q 'event=logout .* removed=1 messages=3 size=[0-9]*$' "$log"
	! grep -q 'uidls=' "$log"
}

@test "log-retrievals: a session without QUIT lists what it retrieved, nothing removed (spec 5, 9)" {
	three_msgs
	{ login alice pw; crlf UIDL 'RETR 2' 'DELE 1'; } |
	    chat --log-retrievals=yes
	[ "$status" -eq 1 ]
	grep -qx "pop3-handler: event=logout user=alice remote=local mech=user session ended without QUIT: retrieved=1 marked=1, nothing removed retrieved-uidls=$(uidl_of 2)" "$log"
}

@test "log-retrievals: long lists continue in further entries, every UIDL once, no line over 1000 octets (spec 9)" {
	setup_alice
	local i n=60 base
	base=$(printf 'x%.0s' $(seq 1 50))
	for i in $(seq 1 $n); do
		printf 'm\n' >"$MD/new/17000000$(printf %02d "$i").$base.host"
	done
	{
		login alice pw
		crlf UIDL
		for i in $(seq 1 $n); do crlf "RETR $i" "DELE $i"; done
		crlf QUIT
	} | chat --log-retrievals=yes --uidl=filename
	[ "$status" -eq 0 ]
	cat "$log" >&2
	grep -c 'event=logout' "$log" >&2
	[ "$(grep -c 'event=logout' "$log")" -ge 3 ]
	grep -q 'event=logout .* logout: retrieved=60 .* retrieved-uidls=' "$log"
	grep -q 'event=logout .* continued: .*removed-uidls=' "$log"
	awk '{ if (length($0) > 1000) bad = 1 } END { exit bad }' "$log"
	# every UIDL exactly once in each list
	local got
	got=$(grep 'event=logout' "$log" | grep -o 'retrieved-uidls=[^ ]*' |
	    sed 's/^retrieved-uidls=//' | tr ',' '\n' | sort)
	[ "$(printf '%s\n' "$got" | wc -l)" -eq $n ]
	[ "$got" = "$(tr -d '\r' <"$out" | awk 'NF == 2 && $1 ~ /^[0-9]+$/ && $2 ~ /host/ { print $2 }' | sort)" ]
	[ "$(grep 'event=logout' "$log" | grep -o 'removed-uidls=[^ ]*' |
	    sed 's/^removed-uidls=//' | tr ',' '\n' | sort -u | wc -l)" -eq $n ]
}

# ---- smaller ones ------------------------------------------------------------

@test "the penalty wait is logged at info, without --debug (spec 4, 9)" {
	add_user alice pw
	local pen=$T/penalty i
	for i in 1 2; do
		{
			printf 'PROXY TCP4 192.0.2.5 192.0.2.1 40000 110\r\n'
			crlf 'USER alice' 'PASS wrong' QUIT
		} | chat --proxy-protocol=yes --plaintext-auth=always \
		    --penalty-file="$pen" --auth-fail-delay=1
	done
	cat "$log" >&2
	grep -qx 'pop3-handler: penalty: waiting 1 s before the check' "$log"
}

@test "a locked account is logged as locked, not bad password (spec 4, 9)" {
	local h
	h=$(printf pw | openssl passwd -6 -salt saltsalt -stdin)
	mkdir -p "$MAILROOT/alice" "$MAILROOT/bob"
	printf 'alice:!%s::::%s::\n' "$h" "$MAILROOT/alice" >>"$PASSWD"
	printf 'bob:*::::%s::\n' "$MAILROOT/bob" >>"$PASSWD"
	{ login alice pw; login bob pw; crlf QUIT; } | chat
	cat "$log" >&2
	grep -q 'event=login-failed user=alice .*authentication failed: locked from local$' "$log"
	grep -q 'event=login-failed user=bob .*authentication failed: locked from local$' "$log"
	! grep -q 'bad password' "$log"
}

@test "the penalty file's missing directory is created 0700 at the first failure (spec 4)" {
	add_user alice pw
	local pen=$T/state/penalty
	{
		printf 'PROXY TCP4 192.0.2.5 192.0.2.1 40000 110\r\n'
		crlf 'USER alice' 'PASS wrong' QUIT
	} | chat --proxy-protocol=yes --plaintext-auth=always \
	    --penalty-file="$pen"
	cat "$log" >&2
	[ "$(stat -c %a "$T/state")" = 700 ]
	[ -f "$pen" ]
	! grep -q 'penalty file .* unusable' "$log"
}

@test "--check-config says when the penalty file's directory is missing (spec 1)" {
	add_user alice pw
	chat_raw --passwd-file="$PASSWD" --penalty-file="$T/nodir/penalty" \
	    --check-config </dev/null
	[ "$status" -eq 0 ]
	cat "$log" >&2
	grep -q "penalty-file $T/nodir/penalty: directory $T/nodir: No such file or directory" "$log"
	chat_raw --passwd-file="$PASSWD" --penalty-file="$T/penalty" \
	    --check-config </dev/null
	! grep -q 'penalty-file' "$log"
}

@test "timeout-auth out of range names the range (spec 1)" {
	chat_raw --passwd-file="$PASSWD" --timeout-auth=86401 </dev/null
	[ "$status" -eq 2 ]
	grep -qx 'pop3-handler: --timeout-auth=86401: out of range (1..86400)' "$log"
	chat_raw --passwd-file="$PASSWD" --max-auth-failures=0 </dev/null
	grep -qx 'pop3-handler: --max-auth-failures=0: out of range (1..100)' "$log"
}

# hash_tty INPUT...: --hash-password on a pseudo-terminal, each INPUT
# typed after the next prompt; the terminal's bytes in $T/tty, the
# status in $status.
HASH_TTY='
import os, pty, sys, time
handler, tty = sys.argv[1], sys.argv[2]
pid, fd = pty.fork()
if pid == 0:
    os.execv(handler, [handler, "--hash-password"])
got = b""
def read_until(pat, limit=15):
    # pat None: read to EOF
    global got
    end = time.monotonic() + limit
    while (pat is None or pat not in got) and time.monotonic() < end:
        try:
            b = os.read(fd, 4096)
        except OSError:
            break
        if not b:
            break
        got += b
    return pat is None or pat in got
for i, inp in enumerate(sys.argv[3:]):
    if not read_until(b"assword: " * 1 if i == 0 else b"Retype password: "):
        break
    os.write(fd, inp.encode() + b"\n")
read_until(None, 60)
_, st = os.waitpid(pid, 0)
open(tty, "wb").write(got)
sys.exit(os.waitstatus_to_exitcode(st))
'

hash_tty() {
	status=0
	timeout 60 python3 -c "$HASH_TTY" "$HANDLER" "$T/tty" "$@" || status=$?
	od -c "$T/tty" | head -20 >&2
}

@test "--hash-password on a terminal: no echo, asked twice, a \$y\$ hash (spec 1)" {
	hash_tty 'S3cret!pw' 'S3cret!pw'
	[ "$status" -eq 0 ]
	grep -q 'Password: ' "$T/tty"
	grep -q 'Retype password: ' "$T/tty"
	! grep -q 'S3cret' "$T/tty"
	local h
	h=$(tr -d '\r' <"$T/tty" | grep -o '^\$y\$.*')
	[ -n "$h" ]
	# the hash verifies the password typed
	mkdir -p "$MAILROOT/alice"
	printf 'alice:%s::::%s::\n' "$h" "$MAILROOT/alice" >"$PASSWD"
	{ login alice 'S3cret!pw'; crlf QUIT; } | chat
	line_is 3 '+OK Logged in, 0 messages (0 octets)'
}

@test "--hash-password on a terminal: two different answers: error, exit 2, no hash (spec 1)" {
	hash_tty 'one-password' 'another-one'
	[ "$status" -eq 2 ]
	grep -q 'the passwords do not match' "$T/tty"
	! grep -q '\$y\$' "$T/tty"
}

@test "--hash-password from a pipe: the first line, no prompt (spec 1)" {
	local h
	h=$("$HANDLER" --hash-password <<<'pw' 2>"$T/err")
	[ ! -s "$T/err" ]
	[[ $h == '$y$'* ]]
}
