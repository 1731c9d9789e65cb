#!/usr/bin/env bats
# bats file_tags=quick
# uidl = filename: the unique base name (before ':') in delivery order,
# or a stable digest for a name outside 1-70 octets of 0x21-0x7E
# (spec 5, 6; RFC 1939 UIDL).

load helpers/load
load helpers/mail

# uidl_ok: every UIDL in $out is n, space, 1..70 octets of 0x21-0x7E;
# prints the "n uid" lines.
uidl_ok() {
	python3 - "$out" <<-'EOF'
	import re, sys
	lines = open(sys.argv[1], 'rb').read().split(b'\r\n')
	i = lines.index(b'+OK Unique-ID listing follows') + 1
	n = 1
	while lines[i] != b'.':
	    m = re.fullmatch(rb'([0-9]+) ([\x21-\x7e]{1,70})', lines[i])
	    assert m and int(m.group(1)) == n, lines[i]
	    sys.stdout.buffer.write(lines[i] + b'\n')
	    i += 1
	    n += 1
	EOF
}

@test "UIDL gives the base name before ':' in delivery order (spec 6 filename)" {
	setup_alice
	putf new 1700000000.M2P1.host 'b\n'
	putf cur '999999999.M1P1.host:2,S' 'a\n'
	putf new 1700000000.M1P1.host 'c\n'
	putf cur 1700000001.M1P1.host 'd\n'
	session UIDL | chat --uidl=filename
	[ "$status" -eq 0 ]
	expect_after 4 '+OK Unique-ID listing follows' \
	    '1 999999999.M1P1.host' '2 1700000000.M1P1.host' \
	    '3 1700000000.M2P1.host' '4 1700000001.M1P1.host' '.' '+OK Bye'
}

@test "UIDL n gives the base name (spec 6 filename)" {
	setup_alice
	putf cur '1700000001.M1P1.host,S=2,W=3:2,FS' 'a\n'
	session 'UIDL 1' | chat --uidl=filename
	expect_after 4 '+OK 1 1700000001.M1P1.host,S=2,W=3' '+OK Bye'
}

@test "UIDL skips a deleted message (spec 6 filename)" {
	setup_alice
	putf cur 1700000001.M1P1.host:2, 'a\n'
	putf cur 1700000002.M1P1.host:2, 'b\n'
	session 'DELE 1' UIDL 'UIDL 1' | chat --uidl=filename
	expect_after 4 '+OK Message 1 deleted' \
	    '+OK Unique-ID listing follows' '2 1700000002.M1P1.host' '.' \
	    '-ERR Message 1 is deleted' '+OK Bye'
}

@test "a 70-octet base name is sent as it is (spec 6 filename)" {
	setup_alice
	local name
	name=1700000001.$(head -c 59 /dev/zero | tr '\0' x)
	[ ${#name} -eq 70 ]
	putf cur "$name:2," 'a\n'
	session UIDL | chat --uidl=filename
	expect_after 4 '+OK Unique-ID listing follows' "1 $name" '.' '+OK Bye'
}

@test "a 71-octet base name is replaced by a valid digest (spec 6 filename)" {
	setup_alice
	local name
	name=1700000001.$(head -c 60 /dev/zero | tr '\0' x)
	putf cur "$name:2," 'a\n'
	session UIDL | chat --uidl=filename
	uidl_ok >"$T/u1"
	[ "$(wc -l <"$T/u1")" -eq 1 ]
	[ "$(cut -d' ' -f2 "$T/u1")" != "$name" ]
}

@test "a name with a space or 8-bit octets gets a valid digest (spec 6 filename)" {
	setup_alice
	putf cur '1700000001.M1P1.h st:2,' 'a\n'
	putf cur $'1700000002.M1P1.h\xc3\xb4st:2,' 'b\n'
	putf cur $'1700000003.M1P1.h\tst:2,' 'c\n'
	putf cur 1700000004.M1P1.host:2, 'd\n'
	session UIDL | chat --uidl=filename
	[ "$status" -eq 0 ]
	uidl_ok >"$T/u1"
	[ "$(wc -l <"$T/u1")" -eq 4 ]
	[ "$(sed -n 4p "$T/u1")" = '4 1700000004.M1P1.host' ]
	[ "$(cut -d' ' -f2 "$T/u1" | sort -u | wc -l)" -eq 4 ]
}

@test "digests are stable across sessions (spec 6 filename, RFC 1939 UIDL)" {
	setup_alice
	putf cur "1700000001.$(head -c 100 /dev/zero | tr '\0' y):2," 'a\n'
	putf cur '1700000002.M1P1.h st:2,' 'b\n'
	session UIDL | chat --uidl=filename
	uidl_ok >"$T/u1"
	session UIDL | chat --uidl=filename
	uidl_ok >"$T/u2"
	[ "$(wc -l <"$T/u1")" -eq 2 ]
	cmp "$T/u1" "$T/u2"
}

@test "two long names with one 70-octet prefix get different UIDLs (spec 6 filename)" {
	setup_alice
	local p
	p=1700000001.$(head -c 80 /dev/zero | tr '\0' z)
	putf cur "${p}A:2," 'a\n'
	putf cur "${p}B:2," 'b\n'
	session UIDL | chat --uidl=filename
	uidl_ok >"$T/u1"
	[ "$(wc -l <"$T/u1")" -eq 2 ]
	[ "$(cut -d' ' -f2 "$T/u1" | sort -u | wc -l)" -eq 2 ]
}
