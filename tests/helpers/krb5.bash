# A real MIT Kerberos KDC for the GSSAPI tests (spec 4.1), one per test
# file: call krb5_start from setup_file and krb5_stop from teardown_file.
#
#   krb5_start        creates realm $KRB5_REALM under $KRB5_DIR (a fresh
#                     temporary directory), principals alice, bob,
#                     carol, dave, alice/admin
#                     and pop/localhost (keytab $KRB5_KEYTAB), starts
#                     krb5kdc on a free loopback port ($KRB5_KDC_PORT,
#                     PID in $KRB5_KDC_PID) and exports KRB5_CONFIG,
#                     KRB5_KDC_PROFILE and KRB5CCNAME for the test's
#                     clients and handler; the second realm
#                     $KRB5_OTHER_REALM is known to krb5.conf only (its
#                     names never get a ticket from this KDC).
#   krb5_kinit P PW   a ticket for principal P into $KRB5CCNAME
#   krb5_stop         stops the KDC (by its PID) and removes $KRB5_DIR
#
# Everything stays under $KRB5_DIR: no /etc/krb5.conf, no system KDC.
# The handler runs with --hostname=localhost so that its service
# principal is pop/localhost; rdns and DNS canonicalisation are off, so
# clients connecting to "localhost" ask for that same principal.

KRB5_REALM=TEST.EXAMPLE
KRB5_OTHER_REALM=OTHER.EXAMPLE
KRB5_PASSWORD=alice-kerberos-pw		# every user principal's password

# krb5_kdc_conf PORT [N]: writes kdc.conf and krb5.conf for PORT; the
# KDC logs to kdc.N.log.
krb5_kdc_conf() {
	local d=$KRB5_DIR port=$1 n=${2:-0}
	cat >"$d/kdc.conf" <<-EOF
	[kdcdefaults]
	    kdc_listen = 127.0.0.1:$port
	    kdc_tcp_listen = 127.0.0.1:$port
	[realms]
	    $KRB5_REALM = {
	        database_name = $d/principal
	        key_stash_file = $d/stash
	        acl_file = $d/kadm5.acl
	        kdc_listen = 127.0.0.1:$port
	        kdc_tcp_listen = 127.0.0.1:$port
	        max_life = 1h
	        supported_enctypes = aes256-cts-hmac-sha1-96:normal aes128-cts-hmac-sha1-96:normal
	    }
	[logging]
	    kdc = FILE:$d/kdc.$n.log
	    admin_server = FILE:$d/kadmin.log
	    default = FILE:$d/krb5lib.log
	EOF
	cat >"$d/krb5.conf" <<-EOF
	[libdefaults]
	    default_realm = $KRB5_REALM
	    dns_lookup_kdc = false
	    dns_lookup_realm = false
	    dns_canonicalize_hostname = false
	    rdns = false
	    udp_preference_limit = 1
	    default_ccache_name = FILE:$d/ccache
	[realms]
	    $KRB5_REALM = {
	        kdc = 127.0.0.1:$port
	    }
	    $KRB5_OTHER_REALM = {
	        kdc = 127.0.0.1:$port
	    }
	[domain_realm]
	    localhost = $KRB5_REALM
	EOF
	: >"$d/kadm5.acl"
}

# krb5_kdc_ready LOG: the KDC wrote "commencing operation" (read by
# the shell itself: no process per poll).
krb5_kdc_ready() {
	local l
	[ -f "$1" ] || return 1
	while IFS= read -r l; do
		case $l in *'commencing operation'*) return 0 ;; esac
	done <"$1"
	return 1
}

krb5_start() {
	command -v krb5kdc >/dev/null && command -v kdb5_util >/dev/null &&
	    command -v kadmin.local >/dev/null && command -v kinit >/dev/null ||
	    skip "MIT Kerberos (krb5-kdc, krb5-admin-server, krb5-user) is not installed"
	KRB5_DIR=$(mktemp -d "${BATS_FILE_TMPDIR:-/tmp}/krb5.XXXXXX")
	export KRB5_CONFIG=$KRB5_DIR/krb5.conf
	export KRB5_KDC_PROFILE=$KRB5_DIR/kdc.conf
	export KRB5CCNAME=FILE:$KRB5_DIR/ccache
	# The test's handler must not pick up a keytab or trace by accident.
	unset KRB5_KTNAME KRB5_CLIENT_KTNAME KRB5_TRACE KRB5RCACHEDIR \
	    KRB5RCACHENAME KRB5RCACHETYPE
	KRB5_KEYTAB=$KRB5_DIR/pop.keytab
	krb5_kdc_conf 88	# the database needs no port
	kdb5_util create -s -r "$KRB5_REALM" -P master-key-pw \
	    >"$KRB5_DIR/setup.log" 2>&1 || {
		cat "$KRB5_DIR/setup.log" >&2
		return 1
	}
	kadmin.local -r "$KRB5_REALM" >>"$KRB5_DIR/setup.log" 2>&1 <<-EOF || {
	addprinc -pw $KRB5_PASSWORD alice
	addprinc -pw $KRB5_PASSWORD bob
	addprinc -pw $KRB5_PASSWORD carol
	addprinc -pw $KRB5_PASSWORD dave
	addprinc -pw $KRB5_PASSWORD alice/admin
	addprinc -randkey pop/localhost
	ktadd -k $KRB5_KEYTAB pop/localhost
	EOF
		cat "$KRB5_DIR/setup.log" >&2
		return 1
	}
	# A port free a moment ago may be taken by the time krb5kdc binds
	# it; krb5kdc then carries on without that socket, so the listener
	# is checked to be ours, else another port is tried.
	local try i
	for try in 1 2 3 4 5; do
		# Below the kernel's ephemeral range, so that no client
		# socket takes it meanwhile; no python (its start-up alone
		# takes seconds on a loaded machine).
		KRB5_KDC_PORT=$((20000 + RANDOM % 12000))
		if ss -Hltn "sport = :$KRB5_KDC_PORT" | grep -q .; then
			continue
		fi
		krb5_kdc_conf "$KRB5_KDC_PORT" "$try"
		krb5kdc -n -r "$KRB5_REALM" -P "$KRB5_DIR/kdc.pid" \
		    >"$KRB5_DIR/kdc.out" 2>&1 3>&- &
		KRB5_KDC_PID=$!
		# Bounded: 2000 x 10 ms at most, ended by the KDC's own
		# "commencing operation" log line or by its exit.
		for i in $(seq 1 2000); do
			kill -0 "$KRB5_KDC_PID" 2>/dev/null || break
			if krb5_kdc_ready "$KRB5_DIR/kdc.$try.log"; then
				if ss -Hltnp "sport = :$KRB5_KDC_PORT" |
				    grep -q "pid=$KRB5_KDC_PID,"; then
					export KRB5_KDC_PORT KRB5_KDC_PID \
					    KRB5_DIR KRB5_KEYTAB
					return 0
				fi
				break
			fi
			sleep 0.01
		done
		kill "$KRB5_KDC_PID" 2>/dev/null || true
		wait "$KRB5_KDC_PID" 2>/dev/null || true
		KRB5_KDC_PID=
	done
	echo "krb5kdc did not start" >&2
	cat "$KRB5_DIR"/kdc.out "$KRB5_DIR"/kdc.*.log >&2 2>/dev/null
	return 1
}

# krb5_kinit PRINCIPAL [PASSWORD]: a fresh ticket into $KRB5CCNAME.
krb5_kinit() {
	printf '%s\n' "${2:-$KRB5_PASSWORD}" |
	    timeout 20 kinit "$1" >"$KRB5_DIR/kinit.out" 2>&1 || {
		cat "$KRB5_DIR/kinit.out" >&2
		return 1
	}
}

krb5_stop() {
	if [ -n "${KRB5_KDC_PID:-}" ]; then
		kill "$KRB5_KDC_PID" 2>/dev/null || true
		wait "$KRB5_KDC_PID" 2>/dev/null || true
		KRB5_KDC_PID=
	fi
	if [ -n "${KRB5_DIR:-}" ] && [ -d "$KRB5_DIR" ]; then
		rm -rf "$KRB5_DIR"
	fi
}
