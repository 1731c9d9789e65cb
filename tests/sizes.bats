#!/usr/bin/env bats
# bats file_tags=quick
# Exact sizes: what STAT/LIST report is what a client holds after
# un-stuffing RETR; ,W=<n> and the state file's cache spare reading the
# message (spec 3 RETR, 6 exact sizes).

load helpers/load
load helpers/mail

# size_ok RAW: one message (printf RAW); LIST, RETR's +OK and the octets
# poplib holds agree and equal the CRLF form of the file.
size_ok() {
	setup_alice
	putf cur 1700000001.M1P1.host:2, "$1"
	run pop_check
	[ "$status" -eq 0 ] || { echo "$output" >&2; return 1; }
	[ "$output" = 1 ]
}

@test "LIST size equals RETR octets: LF message (spec 3 RETR, 2.1.5)" {
	size_ok 'Subject: a\n\nline1\nline2\n'
}

@test "LIST size equals RETR octets: dot-stuffed lines (spec 3 RETR)" {
	size_ok 'S: a\n\n.hidden\n..two\n.\nx.y\n'
}

@test "LIST size equals RETR octets: no final newline (spec 3 RETR)" {
	size_ok 'S: a\n\nlast'
}

@test "LIST size equals RETR octets: lone dot without newline (spec 3 RETR)" {
	size_ok 'S: a\n\n.'
}

@test "LIST size equals RETR octets: bare CRs (spec 3 RETR)" {
	size_ok 'S: a\n\nx\ry\n\rz\n\r\r\nend\n'
}

@test "LIST size equals RETR octets: CRLF and mixed line ends (spec 3 RETR)" {
	size_ok 'S: a\r\n\r\nbody\r\n.d\r\nmixed\n\r\n'
}

@test "LIST size equals RETR octets: empty message (spec 3 RETR)" {
	size_ok ''
}

@test "LIST size equals RETR octets: header-only message (spec 3 RETR)" {
	size_ok 'Subject: h\nFrom: b\n'
}

@test "LIST size equals RETR octets: many messages at once (spec 3 STAT/LIST)" {
	setup_alice
	local i
	for i in 1 2 3 4 5 6 7 8 9; do
		putf new "170000000$i.M1P1.host" 'S: %s\n\n.%s\nx\ry\r\n%s' \
		    "$i" "$(head -c $((i * 37)) /dev/zero | tr '\0' a)" "$i"
	done
	run pop_check
	[ "$status" -eq 0 ] || { echo "$output" >&2; return 1; }
	[ "$output" = 9 ]
}

@test "a ,W=<n> field in the name is the size; the file is not read (spec 6)" {
	setup_alice
	putf cur '1700000001.M1P1.host,S=5,W=999:2,' 'a\nb\n'
	session STAT 'LIST 1' | chat --debug
	expect_after 4 '+OK 1 999' '+OK 1 999' '+OK Bye'
	nogrep -aq 'sizing .* by reading' "$log"
}

@test "a ,W=<n> field of a message in new/ is used after the move (spec 6)" {
	setup_alice
	putf new '1700000001.M1P1.host,S=5,W=777' 'a\nb\n'
	session 'LIST 1' | chat --debug
	expect_after 4 '+OK 1 777' '+OK Bye'
	nogrep -aq 'sizing .* by reading' "$log"
}

@test "a malformed or overflowing ,W= is not trusted (spec 6, hostile names)" {
	setup_alice
	putf cur '1700000001.M1P1.host,W=abc:2,' 'a\nb\n'
	putf cur '1700000002.M1P1.host,W=18446744073709551616:2,' 'a\n'
	putf cur '1700000003.M1P1.host,W=12x:2,' 'a\n'
	session LIST | chat
	expect_after 4 '+OK 3 messages (12 octets)' '1 6' '2 3' '3 3' '.' \
	    '+OK Bye'
}

@test "without ,W= the first login sizes each message by reading it (spec 6)" {
	setup_alice
	putf cur 1700000001.M1P1.host:2, 'a\nb\n'
	putf new 1700000002.M1P1.host 'c\n'
	session STAT | chat --debug
	expect_after 4 '+OK 2 9' '+OK Bye'
	grep -q 'sizing 1700000001\.M1P1\.host.* by reading' "$log"
	grep -q 'sizing 1700000002\.M1P1\.host.* by reading' "$log"
}

@test "a second login to an unchanged Maildir reads no message (spec 6)" {
	setup_alice
	putf cur 1700000001.M1P1.host:2, 'a\nb\n'
	putf new 1700000002.M1P1.host 'c\n'
	session STAT | chat --debug
	grep -q 'sizing .* by reading' "$log"
	session STAT | chat --debug
	expect_after 4 '+OK 2 9' '+OK Bye'
	nogrep -aq 'sizing .* by reading' "$log"
}

@test "a flag change (rename) between logins does not force reading (spec 6)" {
	setup_alice
	putf cur 1700000001.M1P1.host:2, 'a\nb\n'
	session STAT | chat --debug
	mv "$MD/cur/1700000001.M1P1.host:2," "$MD/cur/1700000001.M1P1.host:2,S"
	session STAT | chat --debug
	expect_after 4 '+OK 1 6' '+OK Bye'
	nogrep -aq 'sizing .* by reading' "$log"
}

@test "the cached size is what RETR sends on a second login (spec 6)" {
	setup_alice
	putf cur 1700000001.M1P1.host:2, 'S: a\n\n.x\nlast'
	session STAT | chat
	run pop_check
	[ "$status" -eq 0 ] || { echo "$output" >&2; return 1; }
}

# traced_login: one login with LIST under strace; the message files and
# directories it touched go to $T/trace.
traced_login() {
	session LIST >"$T/in"
	ASAN_OPTIONS=detect_leaks=0:exitcode=99 timeout 20 \
	    strace -f -y -o "$T/trace" \
	    -e trace=openat,newfstatat,statx,getdents64 "$HANDLER" \
	    --passwd-file="$PASSWD" --log=stderr --hostname=test.example \
	    --auth-fail-delay=0 <"$T/in" >"$out" 2>"$log"
}

@test "a second login to an unchanged Maildir neither opens nor stats a message, nor lists cur/ (spec 6)" {
	command -v strace >/dev/null || skip "no strace"
	setup_alice
	putf cur 1700000001.M1P1.host:2,S 'a\nb\n'
	putf new 1700000002.M1P1.host 'c\n'
	putf new 1700000003.M1P1.host,W=9 'dd\n'
	session STAT | chat
	expect_after 4 '+OK 3 18' '+OK Bye'
	traced_login
	expect_after 4 '+OK 3 messages (18 octets)' '1 6' '2 3' '3 9' '.' \
	    '+OK Bye'
	nogrep -q '1700000' "$T/trace"
	nogrep -qE 'getdents64\([0-9]+<[^>]*/cur>' "$T/trace"
}

@test "a file renamed with other flags and new content is sized again (spec 6)" {
	setup_alice
	putf new 1700000001.M1P1.host 'a\nb\n'
	session LIST | chat
	expect_after 4 '+OK 1 messages (6 octets)' '1 6' '.' '+OK Bye'
	# Same base name, other flags, other content (and size).
	rm "$MD/cur/1700000001.M1P1.host:2,"
	putf cur 1700000001.M1P1.host:2,S 'a longer one\n'
	session LIST UIDL | chat --debug
	expect_after 4 '+OK 1 messages (14 octets)' '1 14' '.' \
	    '+OK Unique-ID listing follows' '1 1' '.' '+OK Bye'
	grep -q 'sizing 1700000001\.M1P1\.host by reading' "$log"
}

@test "after a login, a file put straight into cur/ or removed from it is seen by the next login (spec 5)" {
	setup_alice
	putf new 1700000001.M1P1.host 'one\n'
	putf new 1700000002.M1P1.host 'two\n'
	session STAT | chat
	session STAT | chat
	expect_after 4 '+OK 2 10' '+OK Bye'
	putf cur 1700000003.M1P1.host:2, 'three\n'
	session LIST UIDL | chat
	expect_after 4 '+OK 3 messages (17 octets)' '1 5' '2 5' '3 7' '.' \
	    '+OK Unique-ID listing follows' '1 1' '2 2' '3 3' '.' '+OK Bye'
	session STAT | chat
	rm "$MD/cur/1700000001.M1P1.host:2,"
	session LIST UIDL | chat
	expect_after 4 '+OK 2 messages (12 octets)' '1 5' '2 7' '.' \
	    '+OK Unique-ID listing follows' '1 2' '2 3' '.' '+OK Bye'
}

# evict FILE...: drops FILE's pages from the page cache (fsync, then
# POSIX_FADV_DONTNEED); skips the test where they stay (tmpfs, or no
# fincore to tell).
evict() {
	command -v fincore >/dev/null || skip "fincore is not installed"
	python3 -c 'import os, sys
for p in sys.argv[1:]:
    fd = os.open(p, os.O_RDONLY)
    os.fsync(fd)
    os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    os.close(fd)' "$@"
	fincore -n -b -o RES "$@" >"$T/fincore"
	[ -s "$T/fincore" ] && awk '$1 != 0 { exit 1 }' "$T/fincore" &&
	    return 0
	skip "the page cache keeps these files here"
}

@test "a message not in memory is sized after the others, to the same size (spec 6)" {
	setup_alice
	putf cur 1700000001.M1P1.host:2, 'a\nb\n'
	putf cur 1700000002.M1P1.host:2, 'S: x\n\n.y\r\nz'
	putf new 1700000003.M1P1.host 'c\n'
	evict "$MD/cur/1700000002.M1P1.host:2,"
	session STAT LIST | chat --debug
	expect_after 4 '+OK 3 24' '+OK 3 messages (24 octets)' '1 6' '2 15' \
	    '3 3' '.' '+OK Bye'
	grep -q '1700000002\.M1P1\.host is not in memory: sized later' "$log"
	nogrep -q '170000000[13]\.M1P1\.host is not in memory' "$log"
	run pop_check
	[ "$status" -eq 0 ] || { echo "$output" >&2; return 1; }
}
