#!/usr/bin/env bats
# spec 4 and 4.2: Dovecot's eight passwd fields and the extra fields;
# spec 4.1: AUTH LOGIN, application passwords and auth-mechanisms.

load helpers/load
load helpers/proto

# add_user_extra NAME PASSWORD EXTRA: add_user's line with extra fields.
add_user_extra() {
	local hash
	hash=$(printf '%s' "$2" | openssl passwd -6 -salt "saltsalt" -stdin)
	mkdir -p "$MAILROOT/$1"
	printf '%s:%s:::Gecos:%s:/bin/false:%s\n' "$1" "$hash" \
	    "$MAILROOT/$1" "$3" >>"$PASSWD"
}

# apphash PASSWORD: a crypt hash for an app-password item.
apphash() {
	printf '%s' "$1" | openssl passwd -5 -salt "appsalt" -stdin
}

@test "a Dovecot line with userdb_* extra fields (a colon in a value) logs in (spec 4.2)" {
	add_user_extra alice s3cret \
	    'userdb_quota_rule=*:storage=1G userdb_mail=maildir:~/Maildir nodelay'
	{ login alice s3cret; crlf QUIT; } | chat
	[ "$status" -eq 0 ]
	expect_bytes "$GREET" '+OK Password required' "$OK0" '+OK Bye'
}

@test "a malformed known extra field makes the line malformed, logged by number (spec 4.2)" {
	add_user alice s3cret
	add_user_extra bob hunter2 'ntlm=not-hex'
	{ login bob hunter2; crlf QUIT; } | chat
	expect_bytes "$GREET" '+OK Password required' "$FAIL" '+OK Bye'
	grep -q 'line 2: ntlm needs 32 hex digits; line skipped' "$log"
	run "$HANDLER" --check-config --passwd-file="$PASSWD" --log=stderr
	[ "$status" -eq 2 ]
	[[ "$output" == *'line 2: ntlm needs 32 hex digits'* ]]
}

@test "--check-config accepts every known extra field and a {SCRAM-SHA-256} hash field (spec 4.2)" {
	local s256='{SCRAM-SHA-256}4096,c2FsdHNhbHRzYWx0,'
	s256+='AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=,'
	s256+='AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA='
	add_user_extra alice s3cret "nologin reason=Closed_for_now allow_nets=192.0.2.0/24,::1/128,2001:db8::/32 app-password=phone,$(apphash x) ntlm=8846F7EAEE8FB117AD06BDD830B7586C login-delay=300 expire=30 scram-sha-1=4096,c2FsdA==,AAAAAAAAAAAAAAAAAAAAAAAAAAA=,AAAAAAAAAAAAAAAAAAAAAAAAAAA="
	printf 'carol:%s::::%s::\n' "$s256" "$MAILROOT/carol" >>"$PASSWD"
	run "$HANDLER" --check-config --passwd-file="$PASSWD" --log=stderr
	[ "$status" -eq 0 ]
}

@test "bad values of known extra fields are each reported (spec 4.2)" {
	local h
	h=$(apphash x)
	add_user_extra a1 x 'allow_nets=10.0.0.0/33'
	add_user_extra a2 x 'app-password=bad/label,'"$h"
	add_user_extra a3 x 'app-password=nolabelhash'
	add_user_extra a4 x 'login-delay=-1'
	add_user_extra a5 x 'expire=sometimes'
	add_user_extra a6 x 'scram-sha-256=10,c2FsdA==,AA==,AA=='
	add_user_extra a7 x '=value'
	add_user_extra a8 x 'reason'
	run "$HANDLER" --check-config --passwd-file="$PASSWD" --log=stderr
	[ "$status" -eq 2 ]
	[[ "$output" == *'line 1: allow_nets: not a list of networks'* ]]
	[[ "$output" == *'line 2: app-password label holds'* ]]
	[[ "$output" == *'line 3: app-password needs LABEL,HASH'* ]]
	[[ "$output" == *'line 4: login-delay: not a number'* ]]
	[[ "$output" == *'line 5: expire: not never or a number'* ]]
	[[ "$output" == *'line 6: SCRAM iteration count'* ]]
	[[ "$output" == *'line 7: extra field without a key'* ]]
	[[ "$output" == *'line 8: extra field needs a value'* ]]
}

@test "an application password logs in with USER/PASS, the log names its label (spec 4.2)" {
	add_user_extra alice s3cret "app-password=phone,$(apphash app-secret-1)"
	{ login alice app-secret-1; crlf QUIT; } | chat
	[ "$status" -eq 0 ]
	expect_bytes "$GREET" '+OK Password required' "$OK0" '+OK Bye'
	grep -q 'cred=phone' "$log"
	! grep -q 'app-secret-1' "$log" || false
	# The account password still works and names no label.
	{ login alice s3cret; crlf QUIT; } | chat
	expect_bytes "$GREET" '+OK Password required' "$OK0" '+OK Bye'
	! grep -q 'cred=' "$log" || false
}

@test "an application password works with AUTH PLAIN and AUTH LOGIN (spec 4.1, 4.2)" {
	add_user_extra alice s3cret "app-password=laptop,$(apphash lap-pw)"
	crlf "AUTH PLAIN $(b64 '\0alice\0lap-pw')" QUIT | chat
	expect_bytes "$GREET" "$OK0" '+OK Bye'
	grep -q 'cred=laptop' "$log"
	crlf 'AUTH LOGIN' "$(b64 alice)" "$(b64 lap-pw)" QUIT | chat
	expect_bytes "$GREET" '+ VXNlcm5hbWU6' '+ UGFzc3dvcmQ6' "$OK0" '+OK Bye'
	grep -q 'cred=laptop' "$log"
}

@test "a removed application password fails at once; a locked account ignores them (spec 4, 4.2)" {
	add_user_extra alice s3cret "app-password=phone,$(apphash app-pw)"
	{ login alice app-pw; crlf QUIT; } | chat
	expect_bytes "$GREET" '+OK Password required' "$OK0" '+OK Bye'
	: >"$PASSWD"
	add_user_extra alice s3cret ''
	{ login alice app-pw; crlf QUIT; } | chat
	expect_bytes "$GREET" '+OK Password required' "$FAIL" '+OK Bye'
	printf 'bob:!:::::/bin/false:app-password=phone,%s\n' "$(apphash app-pw)" \
	    >>"$PASSWD"
	mkdir -p "$MAILROOT/bob"
	{ login bob app-pw; crlf QUIT; } | chat
	expect_bytes "$GREET" '+OK Password required' "$FAIL" '+OK Bye'
}

@test "AUTH LOGIN: Username: and Password: challenges, then login; mech=login in the log (spec 4.1)" {
	add_user alice s3cret
	crlf 'AUTH LOGIN' "$(b64 alice)" "$(b64 s3cret)" QUIT | chat
	[ "$status" -eq 0 ]
	expect_bytes "$GREET" '+ VXNlcm5hbWU6' '+ UGFzc3dvcmQ6' "$OK0" '+OK Bye'
	grep -q 'event=login user=alice .*mech=login' "$log"
}

@test "AUTH LOGIN with the name as initial response, a wrong password, a cancel (spec 4.1)" {
	add_user alice s3cret
	crlf "AUTH LOGIN $(b64 alice)" "$(b64 wrong)" 'AUTH LOGIN' '*' \
	    'auth login' "$(b64 alice)" '*' QUIT | chat
	[ "$status" -eq 0 ]
	expect_bytes "$GREET" '+ UGFzc3dvcmQ6' "$FAIL" '+ VXNlcm5hbWU6' \
	    '-ERR Authentication cancelled' '+ VXNlcm5hbWU6' '+ UGFzc3dvcmQ6' \
	    '-ERR Authentication cancelled' '+OK Bye'
}

@test "AUTH LOGIN with bad base64 is malformed; where plaintext is refused it is refused (spec 4.1)" {
	add_user alice s3cret
	crlf 'AUTH LOGIN' 'not base64!' QUIT | chat
	expect_bytes "$GREET" '+ VXNlcm5hbWU6' '-ERR Malformed authentication data' \
	    '+OK Bye'
	crlf 'AUTH LOGIN' QUIT | chat --plaintext-auth=never
	expect_bytes "$GREET" \
	    '-ERR [AUTH] Plaintext authentication is disallowed on this connection; use STLS' \
	    '+OK Bye'
}

@test "auth-mechanisms=plain: CAPA and AUTH list PLAIN only, AUTH LOGIN is unsupported (spec 4.1)" {
	add_user alice s3cret
	crlf CAPA AUTH 'AUTH LOGIN' QUIT | chat --auth-mechanisms=plain
	[ "$status" -eq 0 ]
	grep -q $'^SASL PLAIN\r$' "$out"
	grep -q $'^-ERR Unsupported authentication mechanism\r$' "$out"
	[ "$(grep -c $'^LOGIN\r$' "$out")" -eq 0 ]
	run "$HANDLER" --check-config --passwd-file="$PASSWD" \
	    --auth-mechanisms='plain cram-md5' --log=stderr
	[ "$status" -eq 2 ]
	[[ "$output" == *'auth-mechanisms'*'unknown mechanism'* ]]
}
