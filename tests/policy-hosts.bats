#!/usr/bin/env bats
# The per-user policy over real sockets (spec 4.3): two
# listeners standing for two hosts that share one Maildir (as root each
# in its own UTS namespace, helpers/cluster.bash) see each other's last
# login and first retrievals; fetchmail --keep and mpop with keep on,
# against EXPIRE 0, leave nothing behind and fetch nothing twice.

load helpers/load
load helpers/cluster

teardown() {
	cluster_stop
	no_sanitizer_report "$T"/*.log
}

# alice_extra EXTRA: user alice (password pw) with these extra fields.
alice_extra() {
	local hash
	hash=$(printf pw | openssl passwd -6 -salt saltsalt -stdin)
	mkdir -p "$MAILROOT/alice"
	printf 'alice:%s::::%s::%s\n' "$hash" "$MAILROOT/alice" "$1" >>"$PASSWD"
	MD=$(maildir alice)
	mkdir -p "$MD/new" "$MD/cur" "$MD/tmp"
}

# msg N: delivers message N into new/.
msg() {
	printf 'From: n%s@example.org\nSubject: %s\nMessage-ID: <%s@example.org>\n\nbody %s\n' \
	    "$1" "$1" "$1" "$1" >"$MD/new/170000000$1.M1P1.host"
}

@test "two hosts, one Maildir: a retrieval through one expires through the other; LOGIN-DELAY holds across hosts (spec 4.3, 6)" {
	alice_extra 'expire=0'
	msg 1
	msg 2
	msg 3
	host_listen hosta
	host_listen hostb
	popc "$PORT_hosta" 'USER alice' 'PASS pw' UIDL 'RETR 1' QUIT
	grep -q $'^+OK Bye\r$' "$out"
	popc "$PORT_hostb" 'USER alice' 'PASS pw' UIDL 'RETR 1' QUIT
	grep -q $'^+OK Logged in, 2 messages' "$out"
	# The UIDs seen through hosta, kept through hostb.
	grep -q $'^1 2\r$' "$out"
	grep -q $'^2 3\r$' "$out"
	grep -q $'^+OK Bye\r$' "$out"
	[ "$(ls "$MD/cur")" = '1700000003.M1P1.host:2,' ]
	wait_host_exits hosta 1
	wait_host_exits hostb 1
	[ ! -e "$MD/pop3-handler-uidlist.lock" ]
	[ -z "$(ls -A "$MD/tmp")" ]

	: >"$PASSWD"
	alice_extra 'login-delay=3600'
	popc "$PORT_hostb" 'USER alice' 'PASS pw' QUIT
	grep -q $'^+OK Logged in, 1 messages' "$out"
	popc "$PORT_hosta" 'USER alice' 'PASS pw' QUIT
	grep -q $'^-ERR \\[LOGIN-DELAY\\] ' "$out"
	wait_host_exits hosta 2
	grep -q 'login delay: previous login' "$T/hosta.log"
}

# fm_run: one fetchmail --keep poll of alice on $PORT_pop, every message
# to an MDA that stores it as $T/got/N.
fm_run() {
	command -v fetchmail >/dev/null || skip "fetchmail is not installed"
	mkdir -p "$T/got" "$T/fmhome"
	chmod 700 "$T/fmhome"
	cat >"$T/fetchmailrc" <<-EOF
	set no bouncemail
	poll 127.0.0.1 with proto POP3 service $PORT_pop auth password
	    user "alice" there with password "pw" is "root" here
	    mda "$T/mda"
	    keep
	    no rewrite
	    sslproto ''
	EOF
	chmod 600 "$T/fetchmailrc"
	HOME=$T FETCHMAILHOME=$T/fmhome timeout 60 fetchmail --nosyslog \
	    -f "$T/fetchmailrc" --idfile "$T/fmhome/ids" >"$T/client.out" 2>&1 ||
	    [ $? -eq 1 ]		# 1: no new mail
}

# mp_run: one mpop run (keep on, only new) of alice on $PORT_pop.
mp_run() {
	command -v mpop >/dev/null || skip "mpop is not installed"
	mkdir -p "$T/got"
	cat >"$T/mpoprc" <<-EOF
	account default
	host 127.0.0.1
	port $PORT_pop
	user alice
	password pw
	auth user
	tls off
	delivery mda $T/mda
	keep on
	uidls_file $T/mpop-uidls
	EOF
	chmod 600 "$T/mpoprc"
	HOME=$T timeout 60 mpop -C "$T/mpoprc" >"$T/client.out" 2>&1
}

# mda_setup: the MDA the clients pipe each message to.
mda_setup() {
	cat >"$T/mda" <<-EOF
	#!/bin/sh
	n=\$(ls "$T/got" | wc -l)
	cat >"$T/got/\$((n + 1))"
	EOF
	chmod 755 "$T/mda"
}

# keep_client RUN: RUN against EXPIRE 0 twice, one new message between.
keep_client() {
	alice_extra ''
	mda_setup
	msg 1
	msg 2
	host_listen pop --expire=0
	"$1" || { cat "$T/client.out" >&2; return 1; }
	[ "$(ls "$T/got" | wc -l)" -eq 2 ]
	grep -q '^Subject: 1$' "$T/got/1"
	grep -q '^Subject: 2$' "$T/got/2"
	# The client kept them; EXPIRE 0 did not.
	wait_host_exits pop 1
	[ -z "$(ls -A "$MD/cur" "$MD/new" | grep -v ':$' | grep . || true)" ]
	msg 3
	"$1" || { cat "$T/client.out" >&2; return 1; }
	# Nothing fetched twice: only the new message came.
	[ "$(ls "$T/got" | wc -l)" -eq 3 ]
	grep -q '^Subject: 3$' "$T/got/3"
	wait_host_exits pop 2
	[ -z "$(ls -A "$MD/cur" "$MD/new" | grep -v ':$' | grep . || true)" ]
	grep -q 'EXPIRE 0: 1 retrieved messages expired' "$T/pop.log"
}

@test "fetchmail --keep against EXPIRE 0: what it kept is gone after its session; nothing fetched twice (spec 4.3)" {
	keep_client fm_run
}

@test "mpop with keep on against EXPIRE 0: what it kept is gone after its session; nothing fetched twice (spec 4.3)" {
	keep_client mp_run
}
