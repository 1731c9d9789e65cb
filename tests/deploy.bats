#!/usr/bin/env bats
# spec 10: the deployment files.  The systemd units' sandbox rating, their
# command lines behind systemd-socket-activate, the xinetd and stunnel
# examples under the real daemons, make install, the man page, the sample
# config; spec 1 --check-user; spec 9 journal fields and quiet fd 1/2.

load helpers/load
load helpers/deploy-lib

UNITS=$TOP/units

setup() {
	common_setup
	T=$BATS_TEST_TMPDIR
}

teardown() {
	bg_stop_all
	no_sanitizer_report
}

# One virtual user with one message of 18 octets (CRLF) in new/.
one_message() {
	add_user alice s3cret
	mkmsg alice new 1700000000.1.host 'Subject: a' '' 'hi'
}

# The transcript deploy-pop.py prints for one_message's mailbox.
expect_pop_transcript() {
	printf '%s\n' "welcome: $GREET" 'stat: 1 18' 'retr: +OK 18 octets' \
	    'Subject: a' '' 'hi' 'quit: +OK Bye' >"$T/exp.txt"
	if ! cmp -s "$T/exp.txt" "$out"; then
		diff "$T/exp.txt" "$out" >&2
		cat "$T/client.err" >&2
		return 1
	fi
}

# xkey KEY VALUE: units/xinetd.pop3 sets KEY to VALUE.
xkey() {
	grep -Eq "^[[:space:]]+$1[[:space:]]*=[[:space:]]*$2\$" \
	    "$UNITS/xinetd.pop3" || { echo "xinetd.pop3: no $1 = $2" >&2; false; }
}

# xset KEY VALUE: a sed command that sets KEY to VALUE.
xset() {
	printf 's|^\\([[:space:]]*%s[[:space:]]*=\\).*|\\1 %s|' "$1" "$2"
}

# A root for systemd-analyze with both services and the root drop-in.
root_variant_tree() {
	local d=$T/root/etc/systemd/system u
	for u in pop3@ pop3s@; do
		mkdir -p "$d/$u.service.d"
		cp "$UNITS/$u.service" "$d/"
		cp "$UNITS/pop3-root.conf" "$d/$u.service.d/root.conf"
	done
}

@test "pop3@.service rates 1.0 or lower in systemd-analyze security (spec 10)" {
	local x
	x=$(exposure "$UNITS/pop3@.service")
	[ -n "$x" ] || { cat "$T/analyze.out" >&2; false; }
	echo "exposure $x" >&2
	le "$x" 1.0
}

@test "pop3s@.service rates 1.0 or lower in systemd-analyze security (spec 10)" {
	local x
	x=$(exposure "$UNITS/pop3s@.service")
	[ -n "$x" ] || { cat "$T/analyze.out" >&2; false; }
	le "$x" 1.0
}

@test "the root drop-in applies and rates 1.5 or lower on both services (spec 10)" {
	local u x base
	root_variant_tree
	for u in pop3@.service pop3s@.service; do
		base=$(exposure "$UNITS/$u")
		x=$(exposure "$u" "$T/root")
		[ -n "$x" ] || { cat "$T/analyze.out" >&2; false; }
		# Applied: the unit runs as root and may change uids.
		grep -q 'Service runs as root user' "$T/analyze.out"
		grep -q '✗ CapabilityBoundingSet=~CAP_SET(UID|GID|PCAP)' \
		    "$T/analyze.out"
		! le "$x" "$base" || false
		le "$x" 1.5
	done
}

@test "the units pass systemd-analyze verify without a warning (spec 10)" {
	local f
	mkdir "$T/u"
	for f in pop3.socket pop3@.service pop3s.socket pop3s@.service \
	    pop3-proxy.socket pop3-proxy@.service; do
		sed "s|/usr/local/sbin/pop3-handler|$HANDLER|" "$UNITS/$f" \
		    >"$T/u/$f"
	done
	run systemd-analyze verify --man=no "$T/u/pop3.socket" \
	    "$T/u/pop3@.service" "$T/u/pop3s.socket" "$T/u/pop3s@.service" \
	    "$T/u/pop3-proxy.socket" "$T/u/pop3-proxy@.service"
	[ "$status" -eq 0 ]
	[ -z "$output" ]
}

@test "the sockets listen on 110 and 995 with Accept=yes; the services take fd 0/1 (spec 10)" {
	grep -qx 'ListenStream=110' "$UNITS/pop3.socket"
	grep -qx 'ListenStream=995' "$UNITS/pop3s.socket"
	grep -qx 'Accept=yes' "$UNITS/pop3.socket"
	grep -qx 'Accept=yes' "$UNITS/pop3s.socket"
	for u in pop3@ pop3s@; do
		grep -qx 'StandardInput=socket' "$UNITS/$u.service"
		grep -qx 'StandardOutput=socket' "$UNITS/$u.service"
		# Not inherited from StandardOutput: that is the client.
		grep -qx 'StandardError=journal' "$UNITS/$u.service"
		grep -qx 'User=pop3' "$UNITS/$u.service"
		grep -qx 'ReadWritePaths=/srv/mail' "$UNITS/$u.service"
	done
	exec_start "$UNITS/pop3s@.service" | grep -q -- '--implicit-tls=yes'
}

@test "pop3@.service's command line serves a POP3 client behind socket activation (spec 10)" {
	local cmd argv
	one_message
	deploy_conf "$T/pop3.conf"
	cmd=$(exec_start "$UNITS/pop3@.service" | sed \
	    -e "s|/usr/local/sbin/pop3-handler|$HANDLER|" \
	    -e "s|/etc/pop3-handler.conf|$T/pop3.conf|")
	[[ $cmd == "$HANDLER --config=$T/pop3.conf"* ]]
	read -ra argv <<<"$cmd"
	PORT=$(free_port)
	bg_start sa systemd-socket-activate --inetd -a -l "127.0.0.1:$PORT" \
	    "${argv[@]}"
	wait_port "$PORT"
	popclient "$PORT" plain alice s3cret
	[ "$status" -eq 0 ]
	expect_pop_transcript
}

@test "pop3s@.service's command line serves implicit TLS behind socket activation (spec 8, 10)" {
	local cmd argv
	one_message
	mkcert
	deploy_conf "$T/pop3.conf" 'plaintext-auth = never'
	cmd=$(exec_start "$UNITS/pop3s@.service" | sed \
	    -e "s|/usr/local/sbin/pop3-handler|$HANDLER|" \
	    -e "s|/etc/pop3-handler.conf|$T/pop3.conf|" \
	    -e "s|/etc/pop3-handler/tls.crt|$CERT|" \
	    -e "s|/etc/pop3-handler/tls.key|$KEY|")
	[[ $cmd == *"--tls-cert=$CERT"* && $cmd == *"--tls-key=$KEY"* ]]
	read -ra argv <<<"$cmd"
	PORT=$(free_port)
	bg_start sa systemd-socket-activate --inetd -a -l "127.0.0.1:$PORT" \
	    "${argv[@]}"
	wait_port "$PORT"
	popclient "$PORT" ssl alice s3cret
	[ "$status" -eq 0 ]
	expect_pop_transcript
}

@test "units/xinetd.pop3 under the real xinetd serves a POP3 client (spec 10)" {
	command -v xinetd >/dev/null || skip "xinetd is not installed"
	local x=$UNITS/xinetd.pop3
	xkey socket_type stream
	xkey wait no
	xkey user pop3
	xkey group mail
	xkey server /usr/local/sbin/pop3-handler
	xkey server_args --config=/etc/pop3-handler.conf
	xkey bind 0.0.0.0
	xkey port 110
	one_message
	deploy_conf "$T/pop3.conf"
	PORT=$(free_port)
	# A test port is not the one /etc/services knows: UNLISTED.
	sed -e 's/^service pop3$/service pop3-deploy-test/' \
	    -e 's/^{$/{\n\ttype = UNLISTED/' \
	    -e "$(xset port "$PORT")" -e "$(xset bind 127.0.0.1)" \
	    -e "$(xset server "$HANDLER")" \
	    -e "$(xset server_args "--config=$T/pop3.conf")" \
	    -e "$(xset user "$(id -un)")" -e "$(xset group "$(id -gn)")" \
	    "$x" >"$T/xinetd.conf"
	grep -q "^[[:space:]]*port[[:space:]]*= $PORT$" "$T/xinetd.conf"
	bg_start xinetd xinetd -dontfork -pidfile "$T/xinetd.pidfile" \
	    -f "$T/xinetd.conf"
	wait_port "$PORT" || { cat "$T/xinetd.out" >&2; false; }
	popclient "$PORT" plain alice s3cret
	[ "$status" -eq 0 ]
	expect_pop_transcript
	[ ! -e "$(maildir alice)/new/1700000000.1.host" ]
}

@test "units/stunnel-pop3s.conf under the real stunnel4, in connect mode to pop3-proxy@.service's command line, serves POP3S (spec 9, 10)" {
	command -v stunnel4 >/dev/null || skip "stunnel4 is not installed"
	local s=$UNITS/stunnel-pop3s.conf cmd argv hport
	grep -qx 'connect = 127.0.0.1:10110' "$s"
	grep -qx 'protocol = proxy' "$s"
	grep -qx 'ListenStream=127.0.0.1:10110' "$UNITS/pop3-proxy.socket"
	grep -qx '; exec = /usr/local/sbin/pop3-handler' "$s"
	one_message
	mkcert
	# "never": only the --secured=yes of the unit lets a login in.
	deploy_conf "$T/pop3.conf" 'plaintext-auth = never' 'log = stderr'
	cmd=$(exec_start "$UNITS/pop3-proxy@.service" | sed \
	    -e "s|/usr/local/sbin/pop3-handler|$HANDLER|" \
	    -e "s|/etc/pop3-handler.conf|$T/pop3.conf|")
	[[ $cmd == *' --proxy-protocol=yes --secured=yes' ]]
	read -ra argv <<<"$cmd"
	hport=$(free_port)
	bg_start sa systemd-socket-activate --inetd -a -l "127.0.0.1:$hport" \
	    "${argv[@]}"
	PORT=$(free_port)
	sed -e '/^setuid/d' -e '/^setgid/d' \
	    -e "s|^accept = .*|accept = 127.0.0.1:$PORT|" \
	    -e "s|^cert = .*|cert = $CERT|" -e "s|^key = .*|key = $KEY|" \
	    -e "s|^connect = .*|connect = 127.0.0.1:$hport|" \
	    "$s" >"$T/stunnel.conf"
	bg_start stunnel stunnel4 "$T/stunnel.conf"
	wait_port "$PORT" || { cat "$T/stunnel.out" >&2; false; }
	popclient "$PORT" ssl alice s3cret
	[ "$status" -eq 0 ] || cat "$T/stunnel.out" "$T/sa.out" >&2
	expect_pop_transcript
	# the PROXY header arrived: the client's address, not "local"
	grep -q 'event=login user=alice remote=127.0.0.1 ' "$T/sa.out"
}

@test "pop3-proxy@.service is pop3@.service with --proxy-protocol=yes --secured=yes, nothing else (spec 10)" {
	diff <(sed -n '/^\[Unit\]/,$p' "$UNITS/pop3@.service" |
	    grep -v '^Description=\|^ExecStart=') \
	    <(sed -n '/^\[Unit\]/,$p' "$UNITS/pop3-proxy@.service" |
	    grep -v '^Description=\|^ExecStart=')
	[ "$(exec_start "$UNITS/pop3-proxy@.service")" = \
	    "$(exec_start "$UNITS/pop3@.service") --proxy-protocol=yes --secured=yes" ]
}

@test "make install honours PREFIX and DESTDIR and rewrites the unit paths (spec 10)" {
	local d=$T/dest f
	make -C "$TOP" -s install DESTDIR="$d" PREFIX=/usr >"$T/make.out" 2>&1 ||
	    { cat "$T/make.out" >&2; false; }
	[ -x "$d/usr/sbin/pop3-handler" ]
	"$d/usr/sbin/pop3-handler" --version | grep -qx 'pop3-handler 0.1.0'
	for f in usr/share/man/man8/pop3-handler.8 \
	    usr/lib/systemd/system/pop3.socket \
	    usr/lib/systemd/system/pop3@.service \
	    usr/lib/systemd/system/pop3s.socket \
	    usr/lib/systemd/system/pop3s@.service \
	    usr/lib/systemd/system/pop3-proxy.socket \
	    usr/lib/systemd/system/pop3-proxy@.service \
	    usr/share/doc/pop3-handler/pop3-handler.conf \
	    usr/share/doc/pop3-handler/xinetd.pop3 \
	    usr/share/doc/pop3-handler/stunnel-pop3s.conf \
	    usr/share/doc/pop3-handler/pop3-root.conf; do
		[ -f "$d/$f" ] || { echo "missing $f" >&2; false; }
		[ "$(stat -c %a "$d/$f")" = 644 ]
	done
	[ "$(stat -c %a "$d/usr/sbin/pop3-handler")" = 755 ]
	# Nothing in /etc is written; the paths follow SBINDIR.
	[ ! -e "$d/etc" ]
	! grep -rq /usr/local "$d" || false
	exec_start "$d/usr/lib/systemd/system/pop3@.service" |
	    grep -q '^/usr/sbin/pop3-handler --config=/etc/pop3-handler.conf$'
	grep -q '^; exec = /usr/sbin/pop3-handler$' \
	    "$d/usr/share/doc/pop3-handler/stunnel-pop3s.conf"
	exec_start "$d/usr/lib/systemd/system/pop3-proxy@.service" |
	    grep -q '^/usr/sbin/pop3-handler --config=/etc/pop3-handler.conf --proxy-protocol=yes --secured=yes$'
	# the man page names the installed paths, no make variable
	! grep -q '\$(PREFIX)\|\$(SBINDIR)' "$d/usr/share/man/man8/pop3-handler.8" || false
	grep -q '^\.I /usr/sbin/pop3-handler$' \
	    "$d/usr/share/man/man8/pop3-handler.8"
	grep -q '^\.IR /usr/lib/systemd/system/ {' \
	    "$d/usr/share/man/man8/pop3-handler.8"
	le "$(exposure "$d/usr/lib/systemd/system/pop3@.service")" 1.0
}

@test "make install defaults to /usr/local and make uninstall removes it all (spec 10)" {
	local d=$T/dest
	make -C "$TOP" -s install DESTDIR="$d" >"$T/make.out" 2>&1 ||
	    { cat "$T/make.out" >&2; false; }
	[ -x "$d/usr/local/sbin/pop3-handler" ]
	[ -f "$d/usr/local/lib/systemd/system/pop3@.service" ]
	[ -f "$d/usr/local/share/man/man8/pop3-handler.8" ]
	[ -f "$d/usr/local/share/doc/pop3-handler/pop3-handler.conf" ]
	make -C "$TOP" -s uninstall DESTDIR="$d" >"$T/make.out" 2>&1 ||
	    { cat "$T/make.out" >&2; false; }
	[ -z "$(find "$d" -type f)" ]
	[ ! -e "$d/usr/local/share/doc/pop3-handler" ]
}

@test "the man page is quiet under groff -ww -z -man (spec 10)" {
	run groff -ww -z -man "$TOP/pop3-handler.8"
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	if command -v mandoc >/dev/null; then
		run mandoc -T lint -W warning "$TOP/pop3-handler.8"
		[ -z "$output" ]
	fi
}

@test "the man page documents every setting and the departures by clause id (spec 10)" {
	local m=$TOP/pop3-handler.8 name id
	for name in $("$HANDLER" --help | sed -n 's/^  --\([a-z-]*\)=.*/\1/p'); do
		grep -q -- "\\\\-\\\\-$name=" "$m" ||
		    { echo "not in the man page: $name" >&2; false; }
	done
	for id in 2.1.1 2.1.2 2.1.3 C0001 V0001 V0002 V0003 C0004 C0005 \
	    V0004 V0005 V0006 V0007 C0007 C0008 C0009 V0008 V0009 V0010 \
	    V0011 V0012 E0006 E0007; do
		grep -q "$id" "$m" || { echo "no clause $id" >&2; false; }
	done
	grep -q check-user "$m"
}

@test "the sample config names every setting, and its defaults pass --check-config (spec 1, 10)" {
	local c=$TOP/pop3-handler.conf name
	for name in $("$HANDLER" --help | sed -n 's/^  --\([a-z-]*\)=.*/\1/p'); do
		grep -Eq "^#?$name = " "$c" ||
		    { echo "not in the sample: $name" >&2; false; }
	done
	add_user alice s3cret
	# Uncomment every default; the TLS files and passwd-file are local.
	sed -e 's/^#\([a-z-]* = \)/\1/' -e '/^tls-/d' \
	    -e "s|^passwd-file = .*|passwd-file = $PASSWD|" "$c" >"$T/c.conf"
	! grep -q '^#[a-z-]* = ' "$T/c.conf" || false
	run "$HANDLER" --config="$T/c.conf" --check-config
	[ "$status" -eq 0 ]
}

@test "--check-user reports a good user and exits 0, changing nothing (spec 1)" {
	add_user alice s3cret
	mkmsg alice new 1700000000.1.host 'Subject: a' '' 'hi'
	mkmsg alice cur '1700000001.2.host,S=15,W=17:2,S' 'Subject: b' '' \
	    'body'
	status=0
	timeout 20 "$HANDLER" --passwd-file="$PASSWD" --check-user=alice \
	    >"$out" 2>"$log" || status=$?
	[ "$status" -eq 0 ]
	grep -qx 'account: enabled (sha512crypt hash)' "$out"
	grep -qx "maildir: $(maildir alice)" "$out"
	grep -qx 'messages: 2 (1 in cur/, 1 in new/)' "$out"
	grep -qx 'octets: 35' "$out"
	grep -qx 'sizes-cached: 1 of 2 (1 from ,W= names, 0 in the state file)' "$out"
	grep -q '^uid-state: missing' "$out"
	[ "$(tail -n 1 "$out")" = 'result: a login would work' ]
	! grep -q saltsalt "$out" || false
	# Read-only: new/ was not moved, no state file was written.
	[ -f "$(maildir alice)/new/1700000000.1.host" ]
	[ ! -e "$(maildir alice)/pop3-handler-uidlist" ]
}

@test "--check-user agrees with a login and then sees every size cached (spec 1, 6)" {
	add_user alice s3cret
	mkmsg alice new 1700000000.1.host 'Subject: a' '' 'hi'
	crlf 'USER alice' 'PASS s3cret' 'STAT' 'QUIT' | chat
	[ "$status" -eq 0 ]
	line_is 4 '+OK 1 18'
	timeout 20 "$HANDLER" --passwd-file="$PASSWD" --check-user=alice \
	    >"$out" 2>"$log"
	grep -qx 'messages: 1 (1 in cur/, 0 in new/)' "$out"
	grep -qx 'octets: 18' "$out"
	grep -qx 'sizes-cached: 1 of 1 (0 from ,W= names, 1 in the state file)' "$out"
	grep -q '^uid-state: ok (1 entries, next UID [0-9]*)$' "$out"
	grep -qx 'uid-lock: free' "$out"
}

@test "--check-user of an unknown or invalid user exits 1 (spec 1, 4)" {
	add_user alice s3cret
	status=0
	timeout 20 "$HANDLER" --passwd-file="$PASSWD" --check-user=bob \
	    >"$out" 2>"$log" || status=$?
	[ "$status" -eq 1 ]
	grep -qx 'account: no such user' "$out"
	[ "$(tail -n 1 "$out")" = 'result: a login would fail' ]
	status=0
	timeout 20 "$HANDLER" --passwd-file="$PASSWD" --check-user=../alice \
	    >"$out" 2>"$log" || status=$?
	[ "$status" -eq 1 ]
	grep -qx 'account: not a valid user name (spec 4)' "$out"
}

@test "--check-user of a locked user exits 1 and shows no hash (spec 1, 4)" {
	local h
	h=$(printf '%s' s3cret | openssl passwd -6 -salt saltsalt -stdin)
	mkdir -p "$MAILROOT/bob"
	printf 'bob:!%s:::Bob:%s::\n' "$h" "$MAILROOT/bob" >>"$PASSWD"
	status=0
	timeout 20 "$HANDLER" --passwd-file="$PASSWD" --check-user=bob \
	    >"$out" 2>"$log" || status=$?
	[ "$status" -eq 1 ]
	grep -q '^account: locked' "$out"
	grep -q '^problem: a locked account never authenticates$' "$out"
	[ "$(tail -n 1 "$out")" = 'result: a login would fail' ]
	! grep -qF -- "$h" "$out" || false
	! grep -q saltsalt "$out"
}

@test "--check-user with an unreadable passwd file exits 2 (spec 1)" {
	status=0
	timeout 20 "$HANDLER" --passwd-file="$T/none" --check-user=alice \
	    >"$out" 2>"$log" || status=$?
	[ "$status" -eq 2 ]
	grep -q '^problem: cannot read the passwd file' "$out"
}

# The journal tests run the handler in a private mount namespace where
# /run/systemd/journal is a directory of the test with a stand-in journald
# (deploy-journal.py) bound at socket.
journal_ns_ok() {
	command -v unshare >/dev/null || { skip_reason="no unshare"; return 1; }
	case $T in /run/*)
		skip_reason="the test directory is under /run"; return 1 ;;
	esac
	if ! unshare -m sh -c 'mount -t tmpfs tmpfs /run' 2>/dev/null; then
		skip_reason="unshare -m with a tmpfs mount is not permitted here"
		return 1
	fi
}

start_journal() {
	mkdir -p "$T/j"
	: >"$T/journal"
	bg_start journald python3 "$DEPLOY_PY/deploy-journal.py" \
	    "$T/j/socket" "$T/journal" 30
	for _ in $(seq $((50 * SLOW))); do
		[ -S "$T/j/socket" ] && return 0
		sleep 0.1
	done
	return 1
}

stop_journal() {
	local pid
	python3 -c 'import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.sendto(b"POP3_TEST_STOP=1\n", sys.argv[1])' "$T/j/socket"
	pid=$(cat "$T/journald.pid")
	for _ in $(seq $((50 * SLOW))); do
		kill -0 "$pid" 2>/dev/null || return 0
		sleep 0.1
	done
	return 1
}

# in_journal_ns ARGS...: the handler with stdin from the caller, inside
# the namespace; replies in $out, fd 2 in $log, status in $status.
in_journal_ns() {
	status=0
	timeout 20 unshare -m sh -c 'mount -t tmpfs tmpfs /run &&
	    mkdir -p /run/systemd/journal &&
	    mount --bind "$0" /run/systemd/journal && exec "$@"' "$T/j" \
	    "$HANDLER" --passwd-file="$PASSWD" --hostname=test.example \
	    --auth-fail-delay=0 "$@" >"$out" 2>"$log" || status=$?
}

# entry EVENT: the first journal entry with POP3_EVENT=EVENT, fields on
# lines of their own.
entry() {
	grep -P "(^|\t)POP3_EVENT=$1(\t|$)" "$T/journal" | head -n 1 |
	    tr '\t' '\n'
}

@test "journal entries carry POP3_EVENT, POP3_USER, POP3_REMOTE and the logout counters (spec 9)" {
	journal_ns_ok || skip "$skip_reason"
	add_user alice s3cret
	mkmsg alice new 1700000000.1.host 'Subject: a' '' 'hi'
	mkmsg alice new 1700000001.2.host 'Subject: b' '' 'hello' 'world'
	start_journal
	{
		printf 'PROXY TCP4 192.0.2.7 192.0.2.1 40000 110\r\n'
		crlf 'USER alice' 'PASS Wr0ngPw' 'USER alice' 'PASS s3cret' \
		    'RETR 1' 'TOP 2 0' 'DELE 2' 'QUIT'
	} | in_journal_ns --log=journal --proxy-protocol=yes \
	    --plaintext-auth=always
	[ "$status" -eq 0 ]
	[ ! -s "$log" ]
	stop_journal
	cat "$T/journal" >&2
	! grep -q DECODE_ERROR "$T/journal" || false
	entry login-failed | grep -qx 'POP3_REMOTE=192.0.2.7'
	entry login >"$T/e"
	grep -qx 'POP3_USER=alice' "$T/e"
	grep -qx 'POP3_REMOTE=192.0.2.7' "$T/e"
	grep -qx 'SYSLOG_IDENTIFIER=pop3-handler' "$T/e"
	grep -q '^MESSAGE=' "$T/e"
	entry logout >"$T/e"
	grep -qx 'POP3_USER=alice' "$T/e"
	grep -qx 'POP3_REMOTE=192.0.2.7' "$T/e"
	# One RETR of 18 octets, one TOP, one DELE, a snapshot of 2 (46).
	grep -q '^MESSAGE=.*retrieved=1 ' "$T/e"
	grep -q '^MESSAGE=.*octets=18 ' "$T/e"
	grep -q '^MESSAGE=.*top=1 ' "$T/e"
	grep -q '^MESSAGE=.*deleted=1 ' "$T/e"
	grep -q '^MESSAGE=.*messages=2 ' "$T/e"
	grep -q '^MESSAGE=.*size=46' "$T/e"
	! grep -q -e s3cret -e Wr0ngPw "$T/journal"
}

@test "log=auto writes to the journal when its socket exists, and nothing to fd 2 (spec 9)" {
	journal_ns_ok || skip "$skip_reason"
	add_user alice s3cret
	start_journal
	crlf 'USER alice' 'PASS s3cret' 'QUIT' | in_journal_ns
	[ "$status" -eq 0 ]
	[ ! -s "$log" ]
	stop_journal
	entry login | grep -qx 'POP3_USER=alice'
	entry login | grep -qx 'POP3_REMOTE=local'
	entry logout | grep -qx 'POP3_EVENT=logout'
}

@test "log=auto and log=syslog write nothing but replies to fd 1 and nothing to fd 2 (spec 9)" {
	local mode
	one_message
	for mode in --log=auto --log=syslog; do
		status=0
		crlf 'USER alice' 'PASS Wr0ngPw' 'USER alice' 'PASS s3cret' \
		    'QUIT' | timeout 20 "$HANDLER" --passwd-file="$PASSWD" \
		    --hostname=test.example --auth-fail-delay=0 $mode \
		    >"$out" 2>"$log" || status=$?
		[ "$status" -eq 0 ]
		[ ! -s "$log" ] || { cat "$log" >&2; false; }
		expect_bytes "$GREET" '+OK Password required' \
		    '-ERR [AUTH] Authentication failed' \
		    '+OK Password required' \
		    '+OK Logged in, 1 messages (18 octets)' '+OK Bye'
	done
}
