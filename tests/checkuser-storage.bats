#!/usr/bin/env bats
# --check-user and a login read one Maildir with one set of storage
# functions: the octets --check-user reports are what STAT shows a
# client, for every way a size is found (a ",W=" field, the state
# file's cache, reading the file), and the names where a copied ",W="
# parser would disagree (spec 1 --check-user, spec 6 exact sizes).

load helpers/load
load helpers/mail

# The message every test stores: 5 lines of LF, 17 octets in CRLF form,
# so a ",W=" size is told from a size found by reading.
BODY='S: x\n\na\nb\nc\n'

# check_octets: the "octets:" figure of --check-user for alice.
check_octets() {
	timeout $((20 * SLOW)) "$HANDLER" --passwd-file="$PASSWD" \
	    --check-user=alice >"$T/check" 2>"$T/check.log" || true
	sed -n 's/^octets: \([0-9]*\).*/\1/p' "$T/check"
}

# login_octets: the total of STAT over the wire.
login_octets() {
	session STAT | chat
	[ "$status" -eq 0 ] || { cat "$out" "$log" >&2; return 1; }
	line 4 | sed -n 's/^+OK [0-9]* \([0-9]*\)$/\1/p'
}

# same_size SUB NAME...: each NAME in alice's SUB/ (a fresh Maildir);
# --check-user before the first login, the login, and --check-user
# after it (with a state file now) all give one figure.
same_size() {
	local sub=$1 name before got after
	shift
	if [ -z "${MD:-}" ]; then
		setup_alice
	else
		rm -rf "$MD"
		mkdir -p "$MD/new" "$MD/cur" "$MD/tmp"
	fi
	for name in "$@"; do
		putf "$sub" "$name" "$BODY"
	done
	before=$(check_octets)
	got=$(login_octets)
	after=$(check_octets)
	echo "check-user before: [$before] login: [$got] after: [$after]" >&2
	[ -n "$got" ]
	[ "$before" = "$got" ]
	[ "$after" = "$got" ]
}

@test "--check-user and a login agree: the last of two ,W= fields when the first is not a number (spec 6)" {
	same_size cur '1700000001.M1P1.host,W=abc,W=12:2,'
	same_size new '1700000001.M1P1.host,W=abc,W=12'
}

@test "--check-user and a login agree: an empty ,W= field before a good one (spec 6)" {
	same_size cur '1700000001.M1P1.host,W=,W=7:2,'
	same_size new '1700000001.M1P1.host,W=,W=7'
}

@test "--check-user and a login agree: one ,W= field, and one with ,S= before it (spec 6)" {
	same_size cur '1700000001.M1P1.host,W=40:2,S'
	same_size new '1700000001.M1P1.host,S=3,W=41'
}

@test "--check-user and a login agree: no ,W= field, an overflowing one, a ,W= after the flags (spec 6)" {
	same_size cur '1700000001.M1P1.host:2,'
	same_size new '1700000001.M1P1.host,W=99999999999999999999'
	same_size cur '1700000001.M1P1.host:2,W=9'
}

@test "--check-user and a login agree on a Maildir of every kind at once (spec 6)" {
	same_size cur '1700000001.M1P1.host,W=abc,W=12:2,' \
	    '1700000002.M1P1.host,W=,W=7:2,' '1700000003.M1P1.host:2,S' \
	    '1700000004.M1P1.host,S=3,W=41:2,' \
	    '1700000005.M1P1.host,W=99999999999999999999:2,'
}
