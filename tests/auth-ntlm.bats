#!/usr/bin/env bats
# SPEC 4.1 AUTH NTLM (MS-NLMP, MS-OXPOP3 framing), SPEC 4.2 ntlm=, and
# --hash-password --scheme=ntlm.  tests/helpers/ntlm-client.py is the
# scripted client: it checks the CHALLENGE and computes NTLMv2 itself.

load helpers/load
load helpers/proto
load helpers/mail

GREET='+OK test.example POP3 server ready'
FAIL='-ERR [AUTH] Authentication failed'
OK0='+OK Logged in, 0 messages (0 octets)'
MALFORMED='-ERR Malformed authentication data'
UNSUPP='-ERR Unsupported authentication mechanism'
CANCEL='-ERR Authentication cancelled'
MECHS=--auth-mechanisms='plain ntlm'

# ntkey PW: the ntlm= item --hash-password --scheme=ntlm prints, hex only.
ntkey() {
	printf '%s\n' "$1" | timeout 20 "$HANDLER" --hash-password \
	    --scheme=ntlm | sed 's/^ntlm=//'
}

# ntlm_user NAME PW [EXTRA]: a passwd line with a $6$ hash and ntlm= for
# PW; home $MAILROOT/NAME with an empty Maildir.
ntlm_user() {
	mkdir -p "$MAILROOT/$1/Maildir/new" "$MAILROOT/$1/Maildir/cur" \
	    "$MAILROOT/$1/Maildir/tmp"
	printf '%s:%s::::%s::ntlm=%s%s\n' "$1" "$(hash6 "$2")" \
	    "$MAILROOT/$1" "$(ntkey "$2")" "${3:+ $3}" >>"$PASSWD"
}

# ntlm ARGS... [-- HANDLER-ARGS]: one exchange by the scripted client.
ntlm() {
	status=0
	HANDLER=$HANDLER PASSWD=$PASSWD out=$out log=$log timeout 60 \
	    python3 "$TOP/tests/helpers/ntlm-client.py" "$@" || status=$?
}

# type2 KEY: a field of the last CHALLENGE the client saw.
type2() {
	sed -n "s/^$1 //p" "$out.type2"
}

setup() {
	common_setup
	ntlm_user alice s3cret
	ALICE=$(ntkey s3cret)
}

@test "--hash-password --scheme=ntlm: the NT hash of MS-NLMP 4.2.4 (SPEC 4.1)" {
	printf 'Password\n' | "$HANDLER" --hash-password --scheme=ntlm \
	    >"$out" 2>"$log"
	expect_file <(printf 'ntlm=a4f49c406510bdcab6824ee7c30fd852\n')
}

@test "--hash-password --scheme=ntlm hashes UTF-16LE, surrogate pairs too (SPEC 4.1)" {
	local pw=$'h\xc3\xa9llo \xf0\x9f\x98\x80'
	printf '%s\n' "$pw" | "$HANDLER" --hash-password --scheme=ntlm >"$out"
	printf 'ntlm=%s\n' "$(printf '%s' "$pw" | iconv -f UTF-8 -t UTF-16LE |
	    openssl dgst -md4 -provider legacy -provider default |
	    sed 's/.*= //')" >"$T/want"
	expect_file "$T/want"
}

@test "--hash-password --scheme=ntlm refuses a password that is not UTF-8 (SPEC 4.1)" {
	status=0
	printf 'a\xffb\n' | "$HANDLER" --hash-password --scheme=ntlm \
	    >"$out" 2>"$log" || status=$?
	[ "$status" -eq 2 ]
	[ ! -s "$out" ]
	grep -q 'not valid UTF-8' "$log"
}

@test "--hash-password --scheme=yescrypt is the default's \$y\$ (SPEC 4.1)" {
	printf 'pw\n' | "$HANDLER" --hash-password --scheme=yescrypt >"$out"
	grep -qE '^\$y\$[^:]+$' "$out"
}

@test "--hash-password --scheme=unknown: exit 2 and a message (SPEC 1, 4.1)" {
	status=0
	printf 'pw\n' | "$HANDLER" --hash-password --scheme=md5 \
	    >"$out" 2>"$log" || status=$?
	[ "$status" -eq 2 ]
	[ ! -s "$out" ]
	grep -q 'scheme=md5: unknown scheme' "$log"
}

@test "--scheme without --hash-password: exit 2 (SPEC 1)" {
	status=0
	"$HANDLER" --passwd-file="$PASSWD" --scheme=ntlm </dev/null \
	    >"$out" 2>"$log" || status=$?
	[ "$status" -eq 2 ]
	grep -q 'scheme is for --hash-password' "$log"
}
