#!/usr/bin/env bats
# bats file_tags=quick
# The README's session transcript is real bytes (spec 2, 3, 6): the C:
# lines of its "A session" block, sent to the handler with the Maildir
# `make demo` serves (the Date and Message-ID the transcript shows), get
# exactly its S: lines back.  A change to CAPA, a reply text or the
# sizes makes this fail until the README shows the new bytes.

load helpers/load

# transcript: the fenced block under "## A session" in README.md.
transcript() {
	awk '/^## A session/ { s = 1; next }
	    s && /^```/ { if (in_block) exit; in_block = 1; next }
	    in_block' "$TOP/README.md"
}

# demo_message N SUBJECT BODY...: message N of tests/helpers/demo, with
# the header values of the transcript's RETR 2.
demo_message() {
	local n=$1 subject=$2
	shift 2
	mkmsg demo new "$((1796181162 + n)).M${n}P1.demo" \
	    'From: Alice <alice@example.org>' 'To: Demo <demo@example.org>' \
	    "Subject: $subject" 'Date: Wed, 02 Dec 2026 03:12:42 +0000' \
	    "Message-ID: <1796181162.$n@example.org>" '' "$@"
}

@test "README's session transcript is what the handler sends (spec 2, 3, 6)" {
	transcript >"$T/transcript"
	# Enough of a session to be worth checking.
	grep -qx 'C: CAPA' "$T/transcript"
	grep -q '^C: RETR ' "$T/transcript"
	grep -qx 'C: QUIT' "$T/transcript"
	add_user demo demo
	demo_message 1 'Welcome' 'This is the first demo message.'
	demo_message 2 'Dot stuffing' 'A line with a single dot follows:' \
	    '.' 'and the server stuffs it on the wire.'
	demo_message 3 'Third' 'Line one.' 'Line two.' 'Line three.'
	sed -n 's/^C: //p' "$T/transcript" | sed 's/$/\r/' >"$T/in"
	sed -n -e 's/^S: \{0,1\}//p' "$T/transcript" | sed 's/$/\r/' \
	    >"$T/expected"
	[ -s "$T/in" ] && [ -s "$T/expected" ]
	# The demo serves the loopback peer the defaults; the transcript
	# was taken on a host named vm.
	chat --hostname=vm <"$T/in"
	[ "$status" -eq 0 ]
	expect_file "$T/expected"
}
