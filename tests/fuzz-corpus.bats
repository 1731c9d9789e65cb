#!/usr/bin/env bats
# bats file_tags=quick
# style 3.10: every seed and every crash ever found in fuzz/corpus/<t>/
# replays clean through the gcc ASan/UBSan build of its harness
# (fuzz/fuzz_<t>.c, built with -DFUZZ_REPLAY by `make fuzz-replay`).
# The harnesses check properties as well as "no crash": see each file.

load helpers/load

TARGETS='command proxy passwd extra saslplain config mdname uidmap uidload uidimport crlf ntlm'

setup_file() {
	local t bins=
	for t in $TARGETS; do
		bins="$bins build/fuzz/replay/fuzz_$t"
	done
	# A no-op when they are up to date (the second suite run).
	timeout 600 make -s -C "$TOP" $bins >&2
}

# replay T: runs target T over its corpus; the replay must exit 0 and
# report every corpus file as replayed.
replay() {
	local t=$1 dir n
	dir=$TOP/fuzz/corpus/$t
	n=$(find "$dir" -maxdepth 1 -type f ! -name '.*' | wc -l)
	[ "$n" -gt 0 ]
	status=0
	TMPDIR=$BATS_TEST_TMPDIR timeout 60 \
	    "$TOP/build/fuzz/replay/fuzz_$t" "$dir" >"$out" 2>"$log" ||
	    status=$?
	[ "$status" -eq 0 ] || { cat "$log" >&2; return 1; }
	grep -qx "$TOP/build/fuzz/replay/fuzz_$t: $n inputs replayed" "$log"
}

@test "fuzz corpus: whole sessions from the client's bytes (spec 2, 3, 4)" {
	replay command
	# The harness's temporary passwd file and Maildir are gone.
	[ -z "$(ls -A "$BATS_TEST_TMPDIR" | grep pop3-fuzz)" ]
}

@test "fuzz corpus: PROXY v1 and v2 headers (spec 9)" {
	replay proxy
}

@test "fuzz corpus: passwd-file lines (spec 4)" {
	replay passwd
}

@test "fuzz corpus: passwd extra fields and allow_nets matching (spec 4.2)" {
	replay extra
}

@test "fuzz corpus: SASL PLAIN base64 messages (spec 4)" {
	replay saslplain
}

@test "fuzz corpus: config-file lines and maildir templates (spec 1)" {
	replay config
}

@test "fuzz corpus: Maildir file names, ,W= and UIDL strings (spec 5, 6)" {
	replay mdname
}

@test "fuzz corpus: UID state files (spec 6)" {
	replay uidmap
}

@test "fuzz corpus: UID state files read a chunk at a time and indexed, against the parser (spec 6)" {
	replay uidload
	# The harness's temporary directory is gone.
	[ -z "$(ls -A "$BATS_TEST_TMPDIR" | grep pop3-uidload)" ]
}

@test "fuzz corpus: dovecot-uidlist and courierpop3dsizelist (spec 6, C0009)" {
	replay uidimport
}

@test "fuzz corpus: RFC 1939 transform, sizes equal RETR octets (spec 3, 6)" {
	replay crlf
}

@test "fuzz corpus: NTLM messages, the CHALLENGE, MS-NLMP 4.2.4 (spec 4.1)" {
	replay ntlm
}

@test "fuzz replay fails on an input it cannot read (style 3.10)" {
	status=0
	timeout 60 "$TOP/build/fuzz/replay/fuzz_crlf" \
	    "$BATS_TEST_TMPDIR/no-such-input" 2>"$log" || status=$?
	[ "$status" -eq 1 ]
	grep -q 'cannot use' "$log"
}
