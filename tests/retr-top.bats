#!/usr/bin/env bats
# bats file_tags=quick
# RETR and TOP: the RFC 1939 transform (CRLF, dot-stuffing, the final
# line), exact +OK sizes, TOP line counts and their errors (spec 3, 5).

load helpers/load
load helpers/mail

# retr_is RAW WIRE SIZE: a message whose file is printf RAW is sent by
# RETR 1 as "+OK SIZE octets", then printf WIRE, then ".".
retr_is() {
	setup_alice
	putf cur 1700000001.M1P1.host:2, "$1"
	session 'RETR 1' | chat
	[ "$status" -eq 0 ]
	{
		printf '+OK %s octets\r\n' "$3"
		printf "$2"
		printf '.\r\n+OK Bye\r\n'
	} >"$T/exp"
	expect_after_file 4 "$T/exp"
}

# top_is RAW K WIRE: TOP 1 K of printf RAW sends printf WIRE then ".".
top_is() {
	setup_alice
	putf cur 1700000001.M1P1.host:2, "$1"
	session "TOP 1 $2" | chat
	[ "$status" -eq 0 ]
	{
		printf '+OK Top of message follows\r\n'
		printf "$3"
		printf '.\r\n+OK Bye\r\n'
	} >"$T/exp"
	expect_after_file 4 "$T/exp"
}

MSG='Subject: t\nFrom: a\n\nb1\n.b2\nb3\n'

@test "RETR turns LF line ends into CRLF (spec 3 RETR)" {
	retr_is 'Subject: a\n\nline1\nline2\n' \
	    'Subject: a\r\n\r\nline1\r\nline2\r\n' 28
}

@test "RETR dot-stuffs lines that start with a dot (spec 3 RETR)" {
	retr_is 'S: a\n\n.hidden\n..two\nx.y\n' \
	    'S: a\r\n\r\n..hidden\r\n...two\r\nx.y\r\n' 29
}

@test "RETR dot-stuffs a line that is just a dot (spec 3 RETR)" {
	retr_is 'S: a\n\n.\nmid\n.\n' 'S: a\r\n\r\n..\r\nmid\r\n..\r\n' 19
}

@test "RETR adds CRLF after a last line without newline (spec 3 RETR)" {
	retr_is 'S: a\n\nlast' 'S: a\r\n\r\nlast\r\n' 14
}

@test "RETR dot-stuffs a last lone dot without newline (spec 3 RETR)" {
	retr_is 'S: a\n\n.' 'S: a\r\n\r\n..\r\n' 11
}

@test "RETR passes a bare CR inside a line (maildir.h transform)" {
	retr_is 'S: a\n\nx\ry\n\rz\n' 'S: a\r\n\r\nx\ry\r\n\rz\r\n' 17
}

@test "RETR: a CR that ends the file ends its line (maildir-crlf.c transform)" {
	# maildir.h says a bare CR passes as a byte; maildir.c documents that
	# a CR ending the file ends its line.  This pins maildir.c.
	retr_is 'S: a\n\nx\r' 'S: a\r\n\r\nx\r\n' 11
}

@test "RETR does not double CRLF line ends (spec 3 RETR)" {
	retr_is 'S: a\r\n\r\nbody\r\n.d\r\nmixed\n' \
	    'S: a\r\n\r\nbody\r\n..d\r\nmixed\r\n' 25
}

@test "RETR of an empty file (spec 3 RETR)" {
	retr_is '' '' 0
}

@test "RETR of a header-only message (spec 3 RETR)" {
	retr_is 'Subject: h\nFrom: b\n' 'Subject: h\r\nFrom: b\r\n' 21
}

@test "RETR of a deleted message is an error (spec 3 RETR)" {
	setup_alice
	putf cur 1700000001.M1P1.host:2, 'a\n'
	session 'DELE 1' 'RETR 1' | chat
	expect_after 4 '+OK Message 1 deleted' '-ERR Message 1 is deleted' \
	    '+OK Bye'
}

@test "RETR 0, RETR 2 and RETR without a number are errors (spec 2)" {
	setup_alice
	putf cur 1700000001.M1P1.host:2, 'a\n'
	session 'RETR 0' 'RETR 2' 'RETR' 'RETR 1 1' | chat
	expect_after 4 '-ERR No such message' '-ERR No such message' \
	    '-ERR Missing message number' '-ERR Too many arguments' '+OK Bye'
}

@test "RETR of a 50 MB message: exact bytes, stuffing and size (spec 3 RETR, 5 streaming)" {
	if is_san; then
		skip "50 MB through a sanitizer build is too slow for the suite"
	fi
	setup_alice
	# A block of odd length so line ends and dots fall on every offset
	# of the handler's read chunks; the file ends without a newline.
	python3 -c '
import sys
blk = b"".join([
    b"plain line of text\n", b".dot first\n", b".\n", b"crlf line\r\n",
    b"bare\rcr\n", b"..two\n", b"\n", b"x" * 997 + b"\n", b"\r\n",
    b".\r\n", b"tail"])
hdr = b"Subject: big\nFrom: a@b\n\n"
n = 50 * 1024 * 1024
out = bytearray(hdr)
while len(out) < n:
    out += blk
sys.stdout.buffer.write(bytes(out[:n]))
' >"$MD/cur/1700000001.M1P1.host:2,"
	[ "$(stat -c %s "$MD/cur/1700000001.M1P1.host:2,")" -eq 52428800 ]
	to_crlf "$MD/cur/1700000001.M1P1.host:2," >"$T/want"
	session 'RETR 1' | /usr/bin/time -f '%M' -o "$T/rss" timeout 60 \
	    "$HANDLER" --passwd-file="$PASSWD" --log=stderr \
	    --hostname=test.example --auth-fail-delay=0 >"$out" 2>"$log"
	python3 - "$out" "$T/want" <<-'EOF'
	import sys
	o = open(sys.argv[1], 'rb').read()
	want = open(sys.argv[2], 'rb').read()
	pos = 0
	for _ in range(3):
	    pos = o.index(b'\r\n', pos) + 2
	e = o.index(b'\r\n', pos)
	head = o[pos:e]
	tail = b'.\r\n+OK Bye\r\n'
	assert o.endswith(tail), o[-40:]
	body = o[e + 2:len(o) - len(tail)]
	assert body.endswith(b'\r\n'), body[-20:]
	lines = body[:-2].split(b'\r\n')
	assert b'.' not in lines, 'unstuffed lone dot'
	un = b'\r\n'.join(l[1:] if l.startswith(b'.') else l
	    for l in lines) + b'\r\n'
	if un != want:
	    i = next((i for i in range(min(len(un), len(want)))
	        if un[i] != want[i]), min(len(un), len(want)))
	    sys.exit('differs at %d: got %r want %r' % (i, un[i-10:i+20],
	        want[i-10:i+20]))
	if head != b'+OK %d octets' % len(want):
	    sys.exit('size line %r, want %d' % (head, len(want)))
	EOF
	# Streaming in fixed-size chunks: memory does not grow with the
	# message (peak RSS in KiB well under the 50 MB message).
	[ "$(cat "$T/rss")" -lt 20000 ]
}

@test "TOP n 0 gives the header and the blank line (spec 3 TOP, V0007)" {
	top_is "$MSG" 0 'Subject: t\r\nFrom: a\r\n\r\n'
}

@test "TOP n 2 gives two body lines, dot-stuffed (spec 3 TOP, V0007)" {
	top_is "$MSG" 2 'Subject: t\r\nFrom: a\r\n\r\nb1\r\n..b2\r\n'
}

@test "TOP n k larger than the body gives the whole message (spec 3 TOP)" {
	top_is "$MSG" 1000 'Subject: t\r\nFrom: a\r\n\r\nb1\r\n..b2\r\nb3\r\n'
}

@test "TOP finds the blank line of a CRLF message (spec 3 TOP)" {
	top_is 'S: a\r\nT: b\r\n\r\nb1\r\nb2\r\n' 1 'S: a\r\nT: b\r\n\r\nb1\r\n'
}

@test "TOP of a header-only message gives the header (spec 3 TOP)" {
	top_is 'Subject: h\nFrom: b\n' 0 'Subject: h\r\nFrom: b\r\n'
}

@test "TOP n k past a body without final newline adds CRLF (spec 3 TOP)" {
	top_is 'S: a\n\nb1\nb2' 5 'S: a\r\n\r\nb1\r\nb2\r\n'
}

@test "TOP of an empty message (spec 3 TOP)" {
	top_is '' 3 ''
}

# top_error COMMAND REPLY: alice with one message; COMMAND after the
# login gets exactly REPLY, and QUIT its +OK Bye.
top_error() {
	setup_alice
	putf cur 1700000001.M1P1.host:2, "$MSG"
	session "$1" | chat
	expect_after 4 "$2" '+OK Bye'
}

@test "TOP without a line count is an error (spec 3 TOP)" {
	top_error 'TOP 1' '-ERR Missing line count'
}

@test "TOP n x is not a number (spec 3 TOP)" {
	top_error 'TOP 1 x' '-ERR Invalid line count: not a number'
}

@test "TOP n -1 is not a number (spec 3 TOP)" {
	top_error 'TOP 1 -1' '-ERR Invalid line count: not a number'
}

@test "TOP n 2x has trailing characters (spec 3 TOP)" {
	top_error 'TOP 1 2x' '-ERR Invalid line count: trailing characters'
}

@test "TOP n with a line count overflowing 64 bits is too large (spec 3 TOP)" {
	top_error 'TOP 1 999999999999999999999999999999' '-ERR Invalid line count: too large'
}

@test "TOP without arguments or with three is an error (spec 2)" {
	setup_alice
	putf cur 1700000001.M1P1.host:2, "$MSG"
	session 'TOP' 'TOP 1 2 3' 'TOP 0 1' 'TOP x 1' | chat
	expect_after 4 '-ERR Missing message number' '-ERR Too many arguments' \
	    '-ERR No such message' '-ERR Invalid message number: not a number' \
	    '+OK Bye'
}

@test "TOP of a deleted message is an error (spec 3 TOP)" {
	setup_alice
	putf cur 1700000001.M1P1.host:2, "$MSG"
	session 'DELE 1' 'TOP 1 0' | chat
	expect_after 4 '+OK Message 1 deleted' '-ERR Message 1 is deleted' \
	    '+OK Bye'
}
