#!/usr/bin/env bats
# UIDL import (spec 6, C0009): the first login of a Maildir without a
# state file keeps the UIDLs of the server it migrates from, for good:
# Dovecot (dovecot-uidlist: default %08Xu%08Xv and explicit 'P' UIDLs),
# Courier (courierpop3dsizelist), or qmail-style base names
# (uidl-import = filename).  New messages get decimal counter UIDs that
# never equal an imported UIDL.  The Dovecot tests run Debian's real
# Dovecot on 127.0.0.1 and compare its UIDL answer with the handler's.

load helpers/load
load helpers/mail
load helpers/dovecot

# dv_world: a world Dovecot's unprivileged processes can read (the bats
# temp dir is private): $DVW with alice's Maildir (uid/gid 65534) and
# the passwd file both servers use.
dv_world() {
	[ "$(id -u)" = 0 ] || skip "Dovecot needs root to switch to the mail user"
	command -v dovecot >/dev/null || skip "dovecot not installed"
	DVW=$(mktemp -d /tmp/pop3-dovecot.XXXXXX)
	chmod 755 "$DVW"
	MAILROOT=$DVW/mail
	PASSWD=$DVW/passwd
	: >"$PASSWD"
	chmod 644 "$PASSWD"
	mkdir -p "$MAILROOT"
	setup_alice 65534 65534
	chmod -R a+rX "$MAILROOT"
}

# dv_start: Dovecot in the foreground on a free port ($DV_PORT).
dv_start() {
	local d=$DVW/dovecot i
	DV_PORT=$(free_port)
	mkdir -p "$d"
	dovecot_conf "$d" "$PASSWD" 65534 65534 "$MAILROOT/%u" "$DV_PORT" \
	    >"$d/dovecot.conf"
	timeout $((60 * SLOW)) dovecot -F -c "$d/dovecot.conf" >"$d/stdout" 2>&1 &
	DV_PID=$!
	for i in $(seq 1 $((100 * SLOW))); do
		wait_tcp "$DV_PORT" && return 0
		sleep 0.05
	done
	cat "$d/stdout" "$d/dovecot.log" >&2
	return 1
}

# dv_stop: stops the Dovecot this test started, by its pid.
dv_stop() {
	local i
	[ -n "${DV_PID:-}" ] || return 0
	kill "$DV_PID" 2>/dev/null || true
	# On a busy machine Dovecot takes a while to stop; a second
	# dv_start before it has would find its master.pid.
	for i in $(seq 1 $((100 * SLOW))); do
		kill -0 "$DV_PID" 2>/dev/null || break
		sleep 0.05
	done
	wait "$DV_PID" 2>/dev/null || true
	DV_PID=
}

# wait_tcp PORT: true when something listens on 127.0.0.1:PORT.
wait_tcp() {
	awk -v a="$(printf '0100007F:%04X' "$1")" \
	    '$2 == a && $4 == "0A" { f = 1 } END { exit !f }' /proc/net/tcp
}

# dv_uidl FILE: logs in to Dovecot as alice and writes its UIDL body
# ("n uidl" lines, CRLF) to FILE.
dv_uidl() {
	timeout 20 python3 - "$DV_PORT" >"$1" <<-'EOF'
	import poplib, sys
	p = poplib.POP3("127.0.0.1", int(sys.argv[1]), timeout=10)
	p.user("alice")
	p.pass_("pw")
	for l in p.uidl()[1]:
	    sys.stdout.write(l.decode() + "\r\n")
	p.quit()
	EOF
}

# h_uidl FILE [ARGS]: the handler's UIDL body for alice, CRLF lines.
h_uidl() {
	local f=$1
	shift
	session UIDL | chat "$@"
	[ "$status" -eq 0 ]
	uidl_body | sed 's/$/\r/' >"$f"
}

teardown() {
	dv_stop
	if [ -n "${DVW:-}" ]; then
		cp "$DVW/dovecot/dovecot.log" "$T/" 2>/dev/null || true
		rm -rf "$DVW"
	fi
	no_sanitizer_report
}

# four: three messages in new/ and one in cur/ with flags.
four() {
	putf new 1700000003.M3P1.host 'Subject: c\n\nthree\n'
	putf new 1700000001.M1P1.host 'Subject: a\n\none\n'
	putf cur '1700000000.M0P1.host:2,S' 'Subject: z\n\nzero\n'
	putf new 1700000002.M2P1.host 'Subject: b\n\ntwo\n'
	chown -R 65534:65534 "$MD"
}

@test "after Dovecot, the handler answers UIDL exactly as Dovecot did (spec 6, C0009)" {
	dv_world
	four
	dv_start
	dv_uidl "$T/dovecot"
	dv_stop
	[ "$(wc -l <"$T/dovecot")" -eq 4 ]
	grep -q '^1 00000001[0-9a-f]\{8\}'$'\r''$' "$T/dovecot"
	[ -f "$MD/dovecot-uidlist" ]
	[ ! -e "$MD/pop3-handler-uidlist" ]
	h_uidl "$T/h1"
	cmp "$T/dovecot" "$T/h1"
	grep -q 'uidlist imported from dovecot-uidlist (4 UIDLs kept)' "$log"
	# Kept for good: a second login, and one after dovecot-uidlist is gone.
	h_uidl "$T/h2"
	cmp "$T/dovecot" "$T/h2"
	rm "$MD/dovecot-uidlist"
	h_uidl "$T/h3"
	cmp "$T/dovecot" "$T/h3"
	head -n 1 "$MD/pop3-handler-uidlist" | grep -qE '^pop3-handler-uidlist 2 next=[0-9]+( cur=[0-9]+)?$'
}

@test "an explicit POP3 UIDL in dovecot-uidlist (P field) is kept, as Dovecot shows it (spec 6, C0009)" {
	dv_world
	four
	dv_start
	dv_uidl "$T/before"
	dv_stop
	# A migrated UIDL on UID 2 and 3, as a migration tool writes them.
	sed -i -e 's/^2 /2 PUID7-1234567890 /' \
	    -e 's/^3 /3 Pold+server.uidl.3 /' "$MD/dovecot-uidlist"
	rm -f "$MD"/dovecot.index*
	dv_start
	dv_uidl "$T/dovecot"
	dv_stop
	grep -q '^2 UID7-1234567890'$'\r''$' "$T/dovecot"
	grep -q '^3 old+server.uidl.3'$'\r''$' "$T/dovecot"
	h_uidl "$T/h1"
	cmp "$T/dovecot" "$T/h1"
}

@test "new messages after an import get counter UIDs above every numeric imported UIDL (spec 6 collision rule)" {
	setup_alice
	putf new 1700000001.M1P1.host 'a\n'
	putf new 1700000002.M2P1.host 'b\n'
	putf new 1700000003.M3P1.host 'c\n'
	printf '%s\n' '3 V1700000000 N4 G0123' '1 P7 :1700000001.M1P1.host' \
	    '2 P42 :1700000002.M2P1.host' '3 :1700000003.M3P1.host' \
	    >"$MD/dovecot-uidlist"
	h_uidl "$T/h1"
	d3=$(printf '%08x%08x' 3 1700000000)
	printf '%s\r\n' '1 7' '2 42' "3 $d3" >"$T/want"
	cmp "$T/want" "$T/h1"
	# The counter starts above 42: a new message can never show 7 or 42.
	putf new 1700000009.M9P1.host 'new\n'
	h_uidl "$T/h2"
	printf '%s\r\n' '1 7' '2 42' "3 $d3" '4 43' >"$T/want"
	cmp "$T/want" "$T/h2"
}

@test "a UIDL RFC 1939 forbids, or a duplicate, is not imported (spec 6)" {
	setup_alice
	putf new 1700000001.M1P1.host 'a\n'
	putf new 1700000002.M2P1.host 'b\n'
	putf new 1700000003.M3P1.host 'c\n'
	long=$(printf 'x%.0s' $(seq 1 71))
	printf '%s\n' '3 V12 N4' "1 P$long :1700000001.M1P1.host" \
	    '2 PSAME :1700000002.M2P1.host' '3 PSAME :1700000003.M3P1.host' \
	    >"$MD/dovecot-uidlist"
	h_uidl "$T/h1"
	# 1: too long, gets a counter; 3: duplicate of 2, gets a counter.
	sed -n 1p "$T/h1" | grep -q '^1 SAME'$'\r''$'
	sed -n 2p "$T/h1" | grep -qE '^2 [1-9][0-9]*'$'\r''$'
	sed -n 3p "$T/h1" | grep -qE '^3 [1-9][0-9]*'$'\r''$'
	grep -q 'dovecot-uidlist: 2 records not imported' "$log"
}

@test "dovecot-uidlist version 1 gives %08Xu%08Xv UIDLs in UID order (spec 6, C0009)" {
	setup_alice
	putf new 1700000001.M1P1.host 'a\n'
	putf cur '1600000000.M2P1.host:2,S' 'b\n'
	printf '%s\n' '1 305419896 3' '1 1700000001.M1P1.host' \
	    '2 1600000000.M2P1.host:2,' >"$MD/dovecot-uidlist"
	h_uidl "$T/h1"
	printf '%s\r\n' '1 0000000112345678' '2 0000000212345678' >"$T/want"
	cmp "$T/want" "$T/h1"
}

@test "Courier's courierpop3dsizelist: UID<n>-<uidv> UIDLs, Courier's order (spec 6, C0009)" {
	setup_alice
	putf cur '1700000002.M2P1.host:2,S' 'two\n'
	putf cur '1700000001.M1P1.host:2,' 'one\n'
	putf cur "1700000003.M3P1.a+b'c:2," 'three\n'
	putf cur '1700000004.M4P1.host:2,' 'four\n'
	# Courier pop3d's format: "/<version> <nextuid> <uidv>", then
	# "<file> <size> <n>:<uidv>[:<utf8>]"; n 0 is a version-0 UIDL (the
	# name with unsafe octets as +XX); message 4 is not listed yet.
	printf '%s\n' '/3 4 1699990000' \
	    '1700000002.M2P1.host:2,S 5 2:1699990000:0' \
	    '1700000001.M1P1.host:2, 5 1:1699990000:0' \
	    "1700000003.M3P1.a+b'c:2, 7 0:0:0" >"$MD/courierpop3dsizelist"
	h_uidl "$T/h1"
	printf '%s\r\n' '1 UID1-1699990000' '2 UID2-1699990000' \
	    '3 1700000003.M3P1.a+2Bb+27c' >"$T/want"
	sed -n 1,3p "$T/h1" >"$T/got"
	cmp "$T/want" "$T/got"
	sed -n 4p "$T/h1" | grep -qE '^4 [1-9][0-9]*'$'\r''$'
	grep -q 'uidlist imported from courierpop3dsizelist (3 UIDLs kept)' "$log"
	h_uidl "$T/h2"
	cmp "$T/h1" "$T/h2"
}

@test "Courier version 2 lines (no utf8 field) and a header without uidv (spec 6, C0009)" {
	setup_alice
	putf cur '1700000001.M1P1.host:2,' 'one\n'
	printf '%s\n' '/2 2' '1700000001.M1P1.host 5 1:0' \
	    >"$MD/courierpop3dsizelist"
	h_uidl "$T/h1"
	printf '%s\r\n' '1 UID1' >"$T/want"
	cmp "$T/want" "$T/h1"
}

@test "uidl-import = filename keeps qmail-style base names; later arrivals get counters (spec 6)" {
	setup_alice
	putf cur '1700000001.123.qmail:2,S' 'one\n'
	putf new 1700000002.124.qmail 'two\n'
	h_uidl "$T/h1" --uidl-import=filename
	printf '%s\r\n' '1 1700000001.123.qmail' '2 1700000002.124.qmail' \
	    >"$T/want"
	cmp "$T/want" "$T/h1"
	putf new 1700000003.125.qmail 'three\n'
	h_uidl "$T/h2" --uidl-import=filename
	sed -n 1,2p "$T/h2" >"$T/got"
	cmp "$T/want" "$T/got"
	sed -n 3p "$T/h2" | grep -qE '^3 [1-9][0-9]*'$'\r''$'
	# Kept for good, whatever the setting says later.
	h_uidl "$T/h3" --uidl-import=none
	cmp "$T/h2" "$T/h3"
}

@test "uidl-import = none ignores dovecot-uidlist; default auto imports it (spec 6)" {
	setup_alice
	putf new 1700000001.M1P1.host 'a\n'
	printf '%s\n' '3 V1 N2' '1 PKEEP :1700000001.M1P1.host' \
	    >"$MD/dovecot-uidlist"
	h_uidl "$T/h1" --uidl-import=none
	printf '%s\r\n' '1 1' >"$T/want"
	cmp "$T/want" "$T/h1"
	rm "$MD/pop3-handler-uidlist"
	h_uidl "$T/h2"
	printf '%s\r\n' '1 KEEP' >"$T/want"
	cmp "$T/want" "$T/h2"
}

@test "a state file with a state already is never re-imported (spec 6)" {
	setup_alice
	putf new 1700000001.M1P1.host 'a\n'
	h_uidl "$T/h1"
	printf '%s\n' '3 V1 N2' '1 PLATE :1700000001.M1P1.host' \
	    >"$MD/dovecot-uidlist"
	h_uidl "$T/h2"
	cmp "$T/h1" "$T/h2"
	head -n 1 "$MD/pop3-handler-uidlist" | grep -q '^pop3-handler-uidlist 1 '
}

@test "a version 2 state file with a bad UIDL field is corrupt and rebuilt (spec 6)" {
	setup_alice
	putf new 1700000001.M1P1.host 'a\n'
	printf '%s\n' 'pop3-handler-uidlist 2 next=5' \
	    '3 2 0 0 *bad 1700000001.M1P1.host' >"$MD/pop3-handler-uidlist"
	h_uidl "$T/h1"
	grep -q 'uidlist rebuilt (bad UIDL)' "$log"
	sed -n 1p "$T/h1" | grep -qE '^1 [1-9][0-9]{6,}'$'\r''$'
}

# dup_state STATE: cur/ holds a:2, and b:2,; STATE is the state file.
dup_state() {
	setup_alice
	putf cur 'a:2,' 'Subject: a\n\none\n'
	putf cur 'b:2,' 'Subject: b\n\ntwo\n'
	printf "$1" >"$MD/pop3-handler-uidlist"
}

# dup_check: the UIDL answer has two decimal UIDLs, distinct, above every
# UID and UIDL the corrupt file showed (5, 6), and the rebuild is logged.
dup_check() {
	[ "$status" -eq 0 ]
	uidl_body >"$T/u"
	[ "$(wc -l <"$T/u")" -eq 2 ]
	[ -z "$(awk '$2 !~ /^[1-9][0-9]*$/ || $2 + 0 <= 6' "$T/u")" ]
	[ -z "$(awk '{ print $2 }' "$T/u" | sort | uniq -d)" ]
	grep -q 'uidlist rebuilt (duplicate UIDL)' "$log"
}

@test "a version 2 state file where a kept UIDL equals a counter UID is corrupt, rebuilt without reusing a UID (spec 6)" {
	dup_state 'pop3-handler-uidlist 2 next=7\n5 0 0 0 - a\n6 0 0 0 +5 b\n'
	session UIDL | chat
	dup_check
}

@test "a version 2 state file keeping one UIDL twice is corrupt, rebuilt without reusing a UID (spec 6)" {
	dup_state 'pop3-handler-uidlist 2 next=7\n5 0 0 0 +6 a\n6 0 0 0 +6 b\n'
	session UIDL | chat
	dup_check
}

@test "Courier version-0 UIDLs of 69 and 70 octets are kept; one that escaping makes 71 is not (spec 6, RFC 1939)" {
	setup_alice
	local n70 n69 n71
	n70=1700000001.M1P1.$(printf 'x%.0s' $(seq 1 54))
	n69=1700000002.M2P1.$(printf 'y%.0s' $(seq 1 53))
	n71=1700000003.M3P1.$(printf 'z%.0s' $(seq 1 52))+
	[ "${#n70}" -eq 70 ] && [ "${#n69}" -eq 69 ] && [ "${#n71}" -eq 69 ]
	putf cur "$n70:2," 'one\n'
	putf cur "$n69:2," 'two\n'
	putf cur "$n71:2," 'three\n'
	printf '%s\n' '/3 4 1699990000' "$n70:2, 4 0:0:0" "$n69:2, 4 0:0:0" \
	    "$n71:2, 6 0:0:0" >"$MD/courierpop3dsizelist"
	h_uidl "$T/h1"
	printf '%s\r\n' "1 $n70" "2 $n69" >"$T/want"
	sed -n 1,2p "$T/h1" >"$T/got"
	cmp "$T/want" "$T/got"
	# "+" is written "+2B": 71 octets, no UIDL; a counter UID instead.
	sed -n 3p "$T/h1" | grep -qE '^3 [1-9][0-9]*'$'\r''$'
	grep -q 'uidlist imported from courierpop3dsizelist (2 UIDLs kept)' "$log"
}

@test "a symlinked dovecot-uidlist is not followed (spec 6)" {
	setup_alice
	putf new 1700000001.M1P1.host 'a\n'
	printf '%s\n' '3 V1 N2' '1 PLINKED :1700000001.M1P1.host' >"$T/elsewhere"
	ln -s "$T/elsewhere" "$MD/dovecot-uidlist"
	h_uidl "$T/h1"
	printf '%s\r\n' '1 1' >"$T/want"
	cmp "$T/want" "$T/h1"
	grep -q 'dovecot-uidlist is a symlink: not imported' "$log"
}

@test "an unreadable dovecot-uidlist fails the login instead of new UIDLs for good (spec 6)" {
	[ "$(id -u)" = 0 ] || skip "needs root to drop to an unprivileged user"
	DVW=$(mktemp -d /tmp/pop3-dovecot.XXXXXX)
	chmod 755 "$DVW"
	MAILROOT=$DVW/mail PASSWD=$DVW/passwd
	: >"$PASSWD"
	mkdir -p "$MAILROOT"
	setup_alice 65534 65534
	putf new 1700000001.M1P1.host 'a\n'
	chown -R 65534:65534 "$MAILROOT"
	printf '%s\n' '3 V1 N2' '1 PX :1700000001.M1P1.host' >"$MD/dovecot-uidlist"
	chown 0:0 "$MD/dovecot-uidlist"
	chmod 600 "$MD/dovecot-uidlist"
	session UIDL | chat
	[ "$status" -eq 1 ]
	line_is 3 '-ERR [SYS/TEMP] Unable to open maildrop'
	[ ! -e "$MD/pop3-handler-uidlist" ]
}

@test "--check-user lists the UIDLs clients will see, before the first login, changing nothing (spec 1, 6)" {
	setup_alice
	putf new 1700000001.M1P1.host 'a\n'
	putf new 1700000002.M2P1.host 'b\n'
	printf '%s\n' '3 V1 N2' '1 PKEEP :1700000001.M1P1.host' \
	    >"$MD/dovecot-uidlist"
	timeout 20 "$HANDLER" --passwd-file="$PASSWD" --check-user=alice \
	    >"$out" 2>"$log"
	grep -qx 'uid-import: 1 UIDLs from dovecot-uidlist (the first login keeps them for good)' "$out"
	grep -qx 'uidl-list: 1 KEEP' "$out"
	grep -qx 'uidl-list: 2 2' "$out"
	[ "$(tail -n 1 "$out")" = 'result: a login would work' ]
	[ ! -e "$MD/pop3-handler-uidlist" ]
	[ -f "$MD/new/1700000002.M2P1.host" ]
	# The login then shows exactly that.
	grep '^uidl-list: ' "$out" | sed 's/^uidl-list: //; s/$/\r/' >"$T/want"
	h_uidl "$T/h1"
	cmp "$T/want" "$T/h1"
}
