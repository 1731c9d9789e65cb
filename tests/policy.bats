#!/usr/bin/env bats
# Per-user policy (spec 4.2, 4.3): nologin with its reason and
# allow_nets, checked after the credentials; LOGIN-DELAY and EXPIRE
# enforced through the UID state file (version 3 "@login" and "@retr"
# lines, uidmap.h); CAPA's per-user values; the state file read by older
# and newer versions; --check-user's report.  Times in the past are
# written into the state file (set_times), so nothing sleeps.

load helpers/load
load helpers/mail

M1=1700000001.M1P1.host
M2=1700000002.M1P1.host
M3=1700000003.M1P1.host
DAY=86400

# alice_extra EXTRA: user alice (password pw) with these extra fields and
# an empty Maildir in $MD.
alice_extra() {
	local hash
	hash=$(printf pw | openssl passwd -6 -salt saltsalt -stdin)
	mkdir -p "$MAILROOT/alice"
	printf 'alice:%s:::Alice:%s:/bin/false:%s\n' "$hash" \
	    "$MAILROOT/alice" "$1" >>"$PASSWD"
	MD=$(maildir alice)
	mkdir -p "$MD/new" "$MD/cur" "$MD/tmp"
}

# three: three messages in cur/ of alice's Maildir (6 + 21 + 14 octets)
# with UIDs 1, 2 and 3 in a version 1 state file.
three() {
	putf cur "$M1:2," 'a\nb\n'
	putf cur "$M2:2," 'Subject: x\n\nhello\n'
	putf cur "$M3:2," 'S: y\r\n\r\n.dot\r\n'
	printf '%s\n' 'pop3-handler-uidlist 1 next=4' "1 6 0 0 $M1:2," \
	    "2 21 0 0 $M2:2," "3 14 0 0 $M3:2," >"$MD/$STATE"
}

# v2_from4 A.B.C.D: a PROXY v2 TCP4 header from that source to
# 127.0.0.1:110.
v2_from4() {
	local IFS=. a
	read -r -a a <<<"$1"
	printf '\r\n\r\n\0\r\nQUIT\n\x21\x11\x00\x0c'
	printf "\\x$(printf %02x "${a[0]}")\\x$(printf %02x "${a[1]}")"
	printf "\\x$(printf %02x "${a[2]}")\\x$(printf %02x "${a[3]}")"
	printf '\x7f\x00\x00\x01\x9c\x40\x00\x6e'
}

# v2_mapped: a PROXY v2 TCP6 header from ::ffff:192.0.2.7 (an IPv4
# client on a dual-stack socket) to ::1.
v2_mapped() {
	printf '\r\n\r\n\0\r\nQUIT\n\x21\x21\x00\x24'
	printf '\0\0\0\0\0\0\0\0\0\0\xff\xff\xc0\x00\x02\x07'
	printf '\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\x01'
	printf '\x9c\x40\x00\x6e'
}

# pchat ARGS...: chat through a PROXY header, plaintext allowed.
pchat() {
	chat --proxy-protocol=yes --plaintext-auth=always "$@"
}

STATE=pop3-handler-uidlist

# set_times [login=T] [UID=T]...: rewrites alice's state file as version
# 3 with these "@login" and "@retr" times (Unix seconds), other '@' lines
# dropped; records and header stay as they are.
set_times() {
	python3 - "$MD/$STATE" "$@" <<-'EOF'
	import sys
	path, args = sys.argv[1], sys.argv[2:]
	lines = open(path).read().split("\n")[:-1]
	hdr = lines[0].split(" ")
	ver = int(hdr[1])
	hdr[1] = "3"
	out = [" ".join(hdr)]
	for l in lines[1:]:
	    if l.startswith("@"):
	        continue
	    if ver == 1:
	        f = l.split(" ", 4)
	        l = " ".join(f[:4] + ["-", f[4]])
	    out.append(l)
	for a in args:
	    k, v = a.split("=")
	    out.append("@login " + v if k == "login" else "@retr %s %s" % (k, v))
	open(path, "w").write("\n".join(out) + "\n")
	EOF
}

# retr_of UID: the "@retr" time of UID in the state file, or nothing.
retr_of() {
	sed -n "s/^@retr $1 //p" "$MD/$STATE"
}

# cur_is NAME...: cur/ holds exactly these files.
cur_is() {
	local want got
	want=$(printf '%s\n' "$@" | sort)
	got=$(ls -A "$MD/cur" | sort)
	[ "$want" = "$got" ] || { echo "cur/: [$got] want [$want]" >&2
		return 1; }
}

# ---- nologin and allow_nets (spec 4.2) --------------------------------

@test "nologin with a reason: -ERR [AUTH] TEXT after the correct password, the ordinary failure after a wrong one (spec 4.2)" {
	alice_extra 'nologin reason=Mailbox_moved_to_imap.example.org'
	{ login alice pw; login alice wrong; crlf QUIT; } | chat
	[ "$status" -eq 0 ]
	expect_bytes "$GREET" "$PWREQ" \
	    '-ERR [AUTH] Mailbox moved to imap.example.org' "$PWREQ" "$FAIL" \
	    '+OK Bye'
	grep -q 'event=login-failed user=alice .*authentication failed: nologin from local$' "$log"
	# Nothing of the user's was touched.
	[ ! -e "$MD/$STATE" ]
}

@test "nologin without a reason: a fixed text, and the failure path counts it (spec 4.2)" {
	alice_extra nologin
	{ login alice pw; crlf QUIT; } | chat --max-auth-failures=1
	[ "$status" -eq 1 ]
	expect_bytes "$GREET" "$PWREQ" '-ERR [AUTH] Account disabled'
}

@test "nologin holds for AUTH PLAIN and AUTH LOGIN too: one check for every mechanism (spec 4.2)" {
	alice_extra 'nologin reason=Closed'
	{ crlf "AUTH PLAIN $(printf '\0alice\0pw' | base64 -w0)" \
	    'AUTH LOGIN' "$(printf alice | base64 -w0)" \
	    "$(printf pw | base64 -w0)" QUIT; } | chat
	[ "$status" -eq 0 ]
	expect_bytes "$GREET" '-ERR [AUTH] Closed' '+ VXNlcm5hbWU6' \
	    '+ UGFzc3dvcmQ6' '-ERR [AUTH] Closed' '+OK Bye'
}

@test "allow_nets over PROXY v2: an allowed source logs in, another fails like a wrong password (spec 4.2, 9)" {
	alice_extra 'allow_nets=198.51.100.0/24,192.0.2.0/28'
	{ v2_from4 192.0.2.7; login alice pw; crlf QUIT; } | pchat
	[ "$status" -eq 0 ]
	expect_bytes "$GREET" "$PWREQ" "$OK0" '+OK Bye'
	grep -q 'event=login user=alice remote=192.0.2.7 ' "$log"
	{ v2_from4 192.0.2.17; login alice pw; login alice wrong; crlf QUIT; } |
	    pchat
	[ "$status" -eq 0 ]
	expect_bytes "$GREET" "$PWREQ" "$FAIL" "$PWREQ" "$FAIL" '+OK Bye'
	grep -q 'authentication failed: not allowed from 192.0.2.17$' "$log"
	grep -q 'authentication failed: bad password from 192.0.2.17$' "$log"
}

@test "allow_nets: from elsewhere a nologin account does not show its reason (spec 4.2)" {
	alice_extra 'nologin reason=Moved allow_nets=10.0.0.0/8'
	{ v2_from4 192.0.2.7; login alice pw; crlf QUIT; } | pchat
	expect_bytes "$GREET" "$PWREQ" "$FAIL" '+OK Bye'
	{ v2_from4 10.1.2.3; login alice pw; crlf QUIT; } | pchat
	expect_bytes "$GREET" "$PWREQ" '-ERR [AUTH] Moved' '+OK Bye'
}

@test "allow_nets: an IPv4 client on a dual-stack socket (::ffff:a.b.c.d) counts as IPv4 (spec 4.2, 9)" {
	alice_extra 'allow_nets=192.0.2.0/24'
	{ v2_mapped; login alice pw; crlf QUIT; } | pchat
	[ "$status" -eq 0 ]
	expect_bytes "$GREET" "$PWREQ" "$OK0" '+OK Bye'
	: >"$PASSWD"
	alice_extra 'allow_nets=10.0.0.0/8,::ffff:0:0/96'
	{ v2_mapped; login alice pw; crlf QUIT; } | pchat
	expect_bytes "$GREET" "$PWREQ" "$OK0" '+OK Bye'
	: >"$PASSWD"
	alice_extra 'allow_nets=10.0.0.0/8'
	{ v2_mapped; login alice pw; crlf QUIT; } | pchat
	expect_bytes "$GREET" "$PWREQ" "$FAIL" '+OK Bye'
	grep -q 'authentication failed: not allowed from ' "$log"
}

# ---- CAPA (spec 4.3) ---------------------------------------------------

@test "CAPA: the settings before login, the user's values with USER after it where they differ (spec 4.3)" {
	alice_extra 'expire=30 login-delay=0'
	{ crlf CAPA; login alice pw; crlf CAPA QUIT; } |
	    chat --expire=5 --login-delay=60
	[ "$status" -eq 0 ]
	[ "$(grep -c $'^EXPIRE 5\r$' "$out")" -eq 1 ]
	[ "$(grep -c $'^LOGIN-DELAY 60\r$' "$out")" -eq 1 ]
	[ "$(grep -c $'^EXPIRE 30 USER\r$' "$out")" -eq 1 ]
	# LOGIN-DELAY 0 is not announced.
	[ "$(grep -c '^LOGIN-DELAY' "$out")" -eq 1 ]
}

@test "CAPA: the same value as the setting has no USER tag; expire=never is EXPIRE NEVER (spec 4.3)" {
	alice_extra 'expire=never login-delay=60'
	{ login alice pw; crlf CAPA QUIT; } | chat --expire=5 --login-delay=60
	[ "$status" -eq 0 ]
	grep -q $'^EXPIRE NEVER\r$' "$out"
	grep -q $'^LOGIN-DELAY 60\r$' "$out"
}

# ---- LOGIN-DELAY (spec 4.3) --------------------------------------------

@test "LOGIN-DELAY: a login sooner than the delay fails after the credentials with [LOGIN-DELAY] and closes; it stores nothing (spec 4.3)" {
	alice_extra ''
	three
	{ login alice pw; crlf QUIT; } | chat --login-delay=3600
	[ "$status" -eq 0 ]
	grep -q '^@login [0-9]*$' "$MD/$STATE"
	cp "$MD/$STATE" "$T/state.before"
	mv "$MD/cur/$M3:2," "$MD/new/$M3"
	# A wrong password is the ordinary failure, not a LOGIN-DELAY.
	{ login alice wrong; login alice pw; crlf STAT QUIT; } |
	    chat --login-delay=3600
	[ "$status" -eq 1 ]
	line_is 3 "$FAIL"
	[[ "$(line 5)" =~ ^-ERR\ \[LOGIN-DELAY\]\ Too\ soon\ after\ the\ last\ login\;\ wait\ ([0-9]+)\ seconds$ ]]
	local wait=${BASH_REMATCH[1]}
	[ "$(wc -l <"$out")" -eq 5 ]
	# The wait is the delay less the time since the first login, which a
	# slow (sanitizer, busy) machine stretches: the two must add up.
	[[ "$(grep 'event=login-failed user=alice ' "$log")" =~ login\ delay:\ previous\ login\ ([0-9]+)\ s\ ago,\ LOGIN-DELAY\ 3600\ from\ local$ ]]
	local ago=${BASH_REMATCH[1]}
	(( wait + ago >= 3599 && wait + ago <= 3600 && ago <= 60 * SLOW ))
	# Refused before anything changed: state file, new/ and cur/.
	cmp "$T/state.before" "$MD/$STATE"
	[ -e "$MD/new/$M3" ]
}

@test "LOGIN-DELAY: once the last login is older than the delay, the login works and stores its time (spec 4.3)" {
	alice_extra 'login-delay=3600'
	three
	{ login alice pw; crlf QUIT; } | chat
	[ "$status" -eq 0 ]
	set_times login=$(($(date +%s) - 3601))
	{ login alice pw; crlf STAT QUIT; } | chat
	[ "$status" -eq 0 ]
	line_is 3 '+OK Logged in, 3 messages (41 octets)'
	t=$(sed -n 's/^@login //p' "$MD/$STATE")
	[ "$t" -ge "$(($(date +%s) - 60))" ]
	{ login alice pw; crlf QUIT; } | chat
	[ "$status" -eq 1 ]
	[[ "$(line 3)" == '-ERR [LOGIN-DELAY] '* ]]
}

@test "LOGIN-DELAY: the first login of a Maildir without a state file is stored too (spec 4.3)" {
	alice_extra ''
	rm -rf "$MD"
	[ ! -e "$MD" ]
	{ login alice pw; crlf QUIT; } | chat --login-delay=3600
	[ "$status" -eq 0 ]
	{ login alice pw; crlf QUIT; } | chat --login-delay=3600
	[ "$status" -eq 1 ]
	[[ "$(line 3)" == '-ERR [LOGIN-DELAY] '* ]]
}

@test "LOGIN-DELAY: per-user login-delay=0 lifts the setting; no @login is written (spec 4.3)" {
	alice_extra 'login-delay=0'
	three
	{ login alice pw; crlf QUIT; } | chat --login-delay=3600
	{ login alice pw; crlf QUIT; } | chat --login-delay=3600
	[ "$status" -eq 0 ]
	! grep -q '^@' "$MD/$STATE"
	head -1 "$MD/$STATE" | grep -q '^pop3-handler-uidlist 1 '
}

@test "LOGIN-DELAY: of two sessions at once the second is refused while the first is still open (spec 4.3)" {
	alice_extra 'login-delay=3600'
	three
	sess_start a
	sess_send a 'USER alice' 'PASS pw'
	sess_wait a 3
	{ login alice pw; crlf QUIT; } | chat
	[ "$status" -eq 1 ]
	[[ "$(line 3)" == '-ERR [LOGIN-DELAY] '* ]]
	sess_send a 'STAT' QUIT
	sess_end a
	[ "$status" -eq 0 ]
	expect_bytes "$GREET" "$PWREQ" '+OK Logged in, 3 messages (41 octets)' \
	    '+OK 3 41' '+OK Bye'
}

# ---- EXPIRE (spec 4.3) -------------------------------------------------

@test "EXPIRE 0: every message retrieved in the session is removed at QUIT, the others stay (spec 4.3)" {
	alice_extra ''
	three
	{ login alice pw; crlf 'RETR 2' QUIT; } | chat --expire=0
	[ "$status" -eq 0 ]
	line_is 7 'hello'
	cur_is "$M1:2," "$M3:2,"
	grep -q 'EXPIRE 0: 1 retrieved messages expired' "$log"
	grep -q 'removed=1 ' "$log"
}

@test "EXPIRE 0: TOP of the whole body is a retrieval, TOP of part of it is not (spec 4.3)" {
	alice_extra 'expire=0'
	three
	putf cur "1700000004.M1P1.host:2," 'S: z\n\nl1\nl2\nl3\n'
	{ login alice pw; crlf 'TOP 2 0' 'TOP 4 2' 'TOP 3 5' QUIT; } | chat
	[ "$status" -eq 0 ]
	cur_is "$M1:2," "$M2:2," "1700000004.M1P1.host:2,"
	{ login alice pw; crlf 'TOP 3 3' QUIT; } | chat
	cur_is "$M1:2," "$M2:2,"
}

@test "EXPIRE 0: a session without QUIT removes and records nothing (spec 4.3, V0006)" {
	alice_extra 'expire=0'
	three
	{ login alice pw; crlf 'RETR 1' 'RETR 2'; } | chat
	[ "$status" -eq 1 ]
	cur_is "$M1:2," "$M2:2," "$M3:2,"
	! grep -q '^@retr' "$MD/$STATE"
	{ login alice pw; crlf QUIT; } | chat
	cur_is "$M1:2," "$M2:2," "$M3:2,"
}

@test "EXPIRE N: messages first retrieved more than N days ago are removed at QUIT without DELE; younger ones stay (spec 4.3)" {
	alice_extra ''
	three
	{ login alice pw; crlf UIDL QUIT; } | chat --expire=30
	[ "$status" -eq 0 ]
	now=$(date +%s)
	set_times 1=$((now - 31 * DAY)) 2=$((now - 29 * DAY))
	{ login alice pw; crlf 'RETR 3' QUIT; } | chat --expire=30
	[ "$status" -eq 0 ]
	cur_is "$M2:2," "$M3:2,"
	grep -q 'EXPIRE 30: 1 retrieved messages expired' "$log"
	# The first retrieval is kept, never moved by a later one.
	[ "$(retr_of 2)" -eq $((now - 29 * DAY)) ]
	[ "$(retr_of 3)" -ge "$now" ]
	t3=$(retr_of 3)
	set_times 2=$((now - 31 * DAY)) 3=$t3
	{ login alice pw; crlf 'RETR 2' 'RETR 1' QUIT; } | chat --expire=30
	cur_is "$M3:2,"
	[ "$(retr_of 3)" -eq "$t3" ]
}

@test "EXPIRE: expired and DELE'd messages go in one UPDATE; per-user expire=never keeps everything (spec 4.3, 5)" {
	alice_extra ''
	three
	{ login alice pw; crlf 'RETR 1' 'DELE 3' QUIT; } | chat --expire=0
	[ "$status" -eq 0 ]
	cur_is "$M2:2,"
	grep -q 'deleted=1 removed=2 ' "$log"
	: >"$PASSWD"
	alice_extra 'expire=never'
	{ login alice pw; crlf 'RETR 1' CAPA QUIT; } | chat --expire=0
	cur_is "$M2:2,"
	grep -q $'^EXPIRE NEVER\r$' "$out"
}

@test "EXPIRE 0: two sessions of one user at once each remove what they retrieved, nothing else (spec 4.3, 2.1.3)" {
	alice_extra 'expire=0'
	three
	putf cur "1700000004.M1P1.host:2," 'S: z\n\nfour\n'
	sess_start a
	sess_send a 'USER alice' 'PASS pw'
	sess_wait a 3
	sess_start b
	sess_send b 'USER alice' 'PASS pw' 'RETR 2'
	sess_wait b 7
	sess_send a 'RETR 4'
	sess_wait a 7
	sess_send b QUIT
	sess_end b
	[ "$status" -eq 0 ]
	cur_is "$M1:2," "$M3:2," "1700000004.M1P1.host:2,"
	sess_send a QUIT
	sess_end a
	[ "$status" -eq 0 ]
	cur_is "$M1:2," "$M3:2,"
}

# ---- the state file across versions (uidmap.h) -------------------------

@test "a version 1 state file of today's format is read: UIDs kept, version 3 written only for the times (uidmap.h)" {
	alice_extra ''
	three
	# As the version before this one writes it: header, 5-field records.
	printf '%s\n' 'pop3-handler-uidlist 1 next=12' \
	    "5 6 0 0 $M1:2," "9 21 0 0 $M2:2," "11 14 0 0 $M3:2," >"$MD/$STATE"
	{ login alice pw; crlf UIDL QUIT; } | chat
	[ "$status" -eq 0 ]
	expect_after 4 '+OK Unique-ID listing follows' '1 5' '2 9' '3 11' '.' \
	    '+OK Bye'
	# No policy: the file stays version 1.
	head -1 "$MD/$STATE" | grep -q '^pop3-handler-uidlist 1 next=12'
	{ login alice pw; crlf 'RETR 1' QUIT; } | chat --expire=30
	head -1 "$MD/$STATE" | grep -q '^pop3-handler-uidlist 3 next=12'
	grep -q "^9 21 [0-9]* [0-9]* - $M2:2,\$" "$MD/$STATE"
	grep -q '^@retr 5 [0-9]*$' "$MD/$STATE"
	{ login alice pw; crlf UIDL QUIT; } | chat
	expect_after 4 '+OK Unique-ID listing follows' '1 5' '2 9' '3 11' '.' \
	    '+OK Bye'
	! grep -q rebuilt "$log"
}

@test "with LOGIN-DELAY and EXPIRE off, the next login writes the file back without its times: version 1 again (uidmap.h)" {
	alice_extra ''
	three
	{ login alice pw; crlf 'RETR 1' QUIT; } | chat --expire=30 --login-delay=60
	head -1 "$MD/$STATE" | grep -q '^pop3-handler-uidlist 3 '
	grep -q '^@login ' "$MD/$STATE"
	# Delay off, expire still on: only the @login goes.
	{ login alice pw; crlf QUIT; } | chat --expire=30
	head -1 "$MD/$STATE" | grep -q '^pop3-handler-uidlist 3 '
	! grep -q '^@login ' "$MD/$STATE"
	grep -q '^@retr 1 ' "$MD/$STATE"
	{ login alice pw; crlf UIDL QUIT; } | chat
	[ "$status" -eq 0 ]
	expect_after 4 '+OK Unique-ID listing follows' '1 1' '2 2' '3 3' '.' \
	    '+OK Bye'
	head -1 "$MD/$STATE" | grep -q '^pop3-handler-uidlist 1 next=4'
	! grep -q '^@' "$MD/$STATE"
	grep -q "^2 21 [0-9]* [0-9]* $M2:2,\$" "$MD/$STATE"
}

@test "forward tolerance: a later version's header items and unknown or bad '@' lines are ignored, not a rebuild (uidmap.h)" {
	alice_extra ''
	three
	now=$(date +%s)
	printf '%s\n' 'pop3-handler-uidlist 4 next=12 future=yes' \
	    "5 6 0 0 - $M1:2," '@quota 1 2 3' "9 21 0 0 +kept-9 $M2:2," \
	    "11 14 0 0 - $M3:2," '@login notanumber' '@retr 7 1' \
	    "@retr 5 $((now - 2 * DAY))" '@' >"$MD/$STATE"
	{ login alice pw; crlf UIDL QUIT; } | chat --expire=1
	[ "$status" -eq 0 ]
	expect_after 4 '+OK Unique-ID listing follows' '1 5' '2 kept-9' \
	    '3 11' '.' '+OK Bye'
	! grep -q rebuilt "$log"
	cur_is "$M2:2," "$M3:2,"
}

@test "a version 3 file with a NUL octet in an '@' line is corrupt and rebuilt above the old UIDs (spec 6)" {
	alice_extra ''
	three
	printf 'pop3-handler-uidlist 3 next=12\n5 6 0 0 - %s:2,\n@login 1\0\n' \
	    "$M1" >"$MD/$STATE"
	{ login alice pw; crlf QUIT; } | chat
	[ "$status" -eq 0 ]
	grep -q 'uidlist rebuilt (NUL octet)' "$log"
}

# ---- --check-user (spec 1) ---------------------------------------------

@test "--check-user shows nologin, networks, the delay with the next allowed login, and what the next QUIT would expire (spec 4.2, 4.3)" {
	alice_extra 'nologin reason=Moved_away allow_nets=192.0.2.0/24,2001:db8::/32 login-delay=3600 expire=30'
	three
	{ login alice pw; crlf QUIT; } | chat --expire=30
	now=$(date +%s)
	: >"$PASSWD"
	alice_extra 'nologin reason=Moved_away allow_nets=192.0.2.0/24,2001:db8::/32 login-delay=3600 expire=30'
	printf '%s\n' 'pop3-handler-uidlist 3 next=4' "1 6 0 0 - $M1:2," \
	    "2 21 0 0 - $M2:2," "3 14 0 0 - $M3:2," "@login $((now - 600))" \
	    "@retr 1 $((now - 31 * DAY))" "@retr 2 $((now - DAY))" >"$MD/$STATE"
	run "$HANDLER" --passwd-file="$PASSWD" --log=stderr --check-user=alice
	[ "$status" -eq 1 ]
	[[ "$output" == *'nologin: yes (reply: -ERR [AUTH] Moved away)'* ]]
	[[ "$output" == *'allow-nets: 192.0.2.0/24 2001:db8::/32'* ]]
	[[ "$output" == *'login-delay: 3600 s (per user)'* ]]
	# However long the machine took since $now: the two add up to 3600.
	[[ "$output" =~ last-login:\ [0-9-]+\ [0-9:]+\ UTC\ \(([0-9]+)\ s\ ago\)\;\ next\ login\ allowed\ in\ ([0-9]+)\ s ]]
	[ "${BASH_REMATCH[1]}" -ge 600 ]
	[ $((BASH_REMATCH[1] + BASH_REMATCH[2])) -eq 3600 ]
	[[ "$output" == *'expire: 30 days (per user)'* ]]
	[[ "$output" == *'expire-next-quit: 1 of 3 messages (2 retrieved)'* ]]
}
