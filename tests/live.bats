#!/usr/bin/env bats
# The shipped units under a real systemd (spec 10).  One container for
# the file: systemd-nspawn boots systemd as PID 1 on the host's /usr
# (read-only) with an empty /etc on tmpfs (--volatile=yes) and its own
# network.  `make install` is staged on the host and bound at /usr/local;
# doc/deploy.md 2-4 then run inside, word for word: the
# account, the config, the passwd file, the certificate, `systemctl
# enable --now pop3.socket pop3s.socket`.  Real clients fetch on 110 and
# 995, the journal is read back, the running service's sandbox is
# inspected, and the root drop-in serves a system user.  Commands run in
# the container through nsenter on its PID 1.  The host's /etc/pam.d is
# bound in for runuser; nspawn's own seccomp filter (systemd 252) lacks
# the Landlock calls, so they are added to it.  Skipped, with the
# reason, where the container cannot boot.

load helpers/load

PW='the password'

setup_file() {
	L=$BATS_FILE_TMPDIR
	export L
	: >"$L/skip"
	local why
	if why=$(live_unsupported); then
		echo "$why" >"$L/skip"
		return 0
	fi
	live_stage
	live_boot
	# A container that could not boot left its reason in $L/skip.
	[ -s "$L/skip" ] || live_deploy
}

teardown_file() {
	local pid
	[ -s "$L/nspawn.pid" ] || return 0
	pid=$(cat "$L/nspawn.pid")
	# SIGTERM: nspawn asks the container's systemd to power off.
	kill "$pid" 2>/dev/null || return 0
	wait_gone "$pid" $((30 * SLOW)) || kill -KILL "$pid" 2>/dev/null || true
}

setup() {
	common_setup
	[ ! -s "$L/skip" ] || skip "$(cat "$L/skip")"
	LEADER=$(cat "$L/leader")
}

teardown() {
	:
}

# live_unsupported: prints why this machine cannot run the container.
live_unsupported() {
	[ "$(id -u)" -eq 0 ] || { echo "needs root for systemd-nspawn"; return 0; }
	command -v systemd-nspawn >/dev/null ||
	    { echo "no systemd-nspawn (Debian: systemd-container)"; return 0; }
	[ -x /usr/lib/systemd/systemd ] ||
	    { echo "no /usr/lib/systemd/systemd to boot"; return 0; }
	# The units run the installed plain build; the sanitizer pass of
	# make check would only boot the same container again.
	[ "$HANDLER" = "$TOP/pop3-handler" ] ||
	    { echo "runs the installed plain build, not $HANDLER"; return 0; }
	return 1
}

# wait_gone PID SECONDS: waits until PID has exited.
wait_gone() {
	local end=$((SECONDS + $2))
	while kill -0 "$1" 2>/dev/null; do
		[ "$SECONDS" -lt "$end" ] || return 1
		sleep 0.2
	done
}

# live_stage: make install into $L/stage (PREFIX=/usr/local), the test
# certificate, a message, and the fault-injection build for the probe.
live_stage() {
	make -s -C "$TOP" install DESTDIR="$L/stage" PREFIX=/usr/local \
	    >"$L/install.log" 2>&1 || { cat "$L/install.log" >&2; return 1; }
	mkdir -p "$L/share"
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
	    -nodes -days 2 -subj /CN=localhost \
	    -addext subjectAltName=DNS:localhost,IP:127.0.0.1 \
	    -keyout "$L/share/privkey.pem" -out "$L/share/fullchain.pem" \
	    2>/dev/null
	# Dot-stuffing, a bare CR, CRLF and LF lines, no final newline.
	printf 'From: a@example.org\nSubject: live\n\n.leading dot\n..two\nbare\rcr\r\ncrlf line\n.\nlast' \
	    >"$L/share/msg"
	to_crlf "$L/share/msg" >"$L/share/msg.crlf"
	if [ -x "$TOP/build-fault/pop3-handler" ]; then
		cp "$TOP/build-fault/pop3-handler" "$L/share/pop3-handler-fault"
	fi
}

# live_boot: the container in the background; its PID 1 in $L/leader
# once systemd reports running (or degraded: the host's own services
# have no /etc here).  A container that exits during boot is a skip.
live_boot() {
	local npid leader="" state="" end=$((SECONDS + 120 * SLOW))
	systemd-nspawn -D / --volatile=yes -b --register=no --keep-unit \
	    --private-network -M "pop3live$$" \
	    --bind-ro="$L/stage/usr/local:/usr/local" --bind="$L/share:/live" \
	    --bind-ro=/etc/pam.d --bind-ro=/etc/security \
	    --system-call-filter='landlock_create_ruleset landlock_add_rule landlock_restrict_self' \
	    -- systemd.firstboot=off systemd.unit=basic.target \
	    </dev/null >"$L/nspawn.log" 2>&1 3>&- &
	npid=$!
	echo "$npid" >"$L/nspawn.pid"
	while :; do
		if ! kill -0 "$npid" 2>/dev/null; then
			printf 'systemd-nspawn cannot boot here: %s\n' \
			    "$(grep -v '^$' "$L/nspawn.log" | tail -n 3 | tr '\n' ' ')" \
			    >"$L/skip"
			: >"$L/nspawn.pid"
			return 0
		fi
		[ -n "$leader" ] || leader=$(pgrep -P "$npid" -x systemd || true)
		if [ -n "$leader" ]; then
			state=$(timeout $((10 * SLOW)) nsenter -t "$leader" -a \
			    systemctl is-system-running 2>/dev/null || true)
			case $state in running|degraded) break ;; esac
		fi
		if [ "$SECONDS" -ge "$end" ]; then
			echo "no running container after $((120 * SLOW)) s (state '$state')" >&2
			tail -n 30 "$L/nspawn.log" >&2
			return 1
		fi
		sleep 0.2
	done
	echo "$leader" >"$L/leader"
}

# inside CMD...: CMD in the container (all its namespaces), as root,
# with a clean environment.
inside() {
	timeout $((60 * SLOW)) nsenter -t "${LEADER:-$(cat "$L/leader")}" -a \
	    env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
	    LANG=C.UTF-8 HOME=/root "$@"
}

# live_deploy: doc/deploy.md 2, 3 and 4, as written there,
# plus alice's first message.
live_deploy() {
	inside bash -euxc '
	# 2. The account, the mail root and the configuration
	useradd --system -g mail -d /srv/mail -s /usr/sbin/nologin pop3
	install -d -o pop3 -g mail -m 0750 /srv/mail
	cp /usr/local/share/doc/pop3-handler/pop3-handler.conf /etc/
	install -m 0640 -o root -g mail /dev/null /etc/pop3-handler.passwd
	# 3. Users
	hash=$(printf "%s\n" "$0" | pop3-handler --hash-password)
	printf "alice:%s:::Alice:/srv/mail/alice::\n" "$hash" |
	    tee -a /etc/pop3-handler.passwd >/dev/null
	install -d -o pop3 -g mail -m 0700 /srv/mail/alice
	pop3-handler --config=/etc/pop3-handler.conf --check-config
	runuser -u pop3 -- pop3-handler --config=/etc/pop3-handler.conf \
	    --check-user=alice
	# 4. Port 110 and 995 with systemd
	install -d -m 0750 -g mail /etc/pop3-handler
	install -m 0640 -g mail /live/fullchain.pem /etc/pop3-handler/tls.crt
	install -m 0640 -g mail /live/privkey.pem /etc/pop3-handler/tls.key
	systemctl daemon-reload
	systemctl enable --now pop3.socket pop3s.socket
	# Mail, as a delivery agent running as pop3 would leave it.
	md=/srv/mail/alice/Maildir
	install -d -o pop3 -g mail -m 0700 $md $md/new $md/cur $md/tmp
	install -o pop3 -g mail -m 0600 /live/msg $md/new/1700000001.M1P1.live
	' "$PW" >"$L/deploy.log" 2>&1 || { cat "$L/deploy.log" >&2; return 1; }
}

# landlock_abi: the host kernel's Landlock ABI version (444 is
# landlock_create_ruleset on every architecture); the error otherwise.
landlock_abi() {
	python3 -c '
import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
r = libc.syscall(444, None, 0, 1)
print(r if r > 0 else os.strerror(ctypes.get_errno()))
sys.exit(r <= 0)'
}

# curl_in URL FILE [CURL ARGS...]: curl inside the container, body to
# /live/FILE ($L/share/FILE here).
curl_in() {
	local url=$1 f=$2
	shift 2
	inside curl -sS --max-time $((20 * SLOW)) -o "/live/$f" "$@" "$url"
}

# journal ARGS...: journalctl -o verbose inside, after a flush.
journal() {
	inside journalctl --flush >/dev/null 2>&1 || true
	inside journalctl -o verbose --no-pager "$@"
}

@test "live: pop3.socket on port 110 serves a message byte-exact to curl (doc/deploy.md 2-4, spec 10)" {
	inside systemctl is-active pop3.socket pop3s.socket
	curl_in pop3://127.0.0.1/1 got110 --user "alice:$PW"
	cmp "$L/share/msg.crlf" "$L/share/got110"
	inside ss -ltnH >"$T/listen"
	grep -q ':110 ' "$T/listen"
	grep -q ':995 ' "$T/listen"
}

@test "live: pop3s.socket on port 995 serves a message byte-exact over implicit TLS, certificate verified (spec 8)" {
	curl_in pop3s://localhost/1 got995 --user "alice:$PW" \
	    --cacert /live/fullchain.pem
	cmp "$L/share/msg.crlf" "$L/share/got995"
}

@test "live: the journal has the POP3_* fields of logins on 110 and 995 (spec 9)" {
	curl_in pop3://127.0.0.1/1 j110 --user "alice:$PW"
	curl_in pop3s://localhost/1 j995 --user "alice:$PW" \
	    --cacert /live/fullchain.pem
	journal SYSLOG_IDENTIFIER=pop3-handler POP3_EVENT=login \
	    POP3_USER=alice >"$T/j"
	cat "$T/j" >&2
	grep -qx '    POP3_USER=alice' "$T/j"
	grep -qx '    POP3_EVENT=login' "$T/j"
	# IPv4 on the dual-stack socket: logged as 127.0.0.1 (spec 9);
	# ::ffff:127.0.0.1 is what the handler logged before that fix.
	grep -qEx '    POP3_REMOTE=(::ffff:)?127\.0\.0\.1' "$T/j"
	grep -qEx '    POP3_TLS=TLSv1\.[23]/.+' "$T/j"
	grep -q '^    _SYSTEMD_UNIT=pop3@' "$T/j"
	grep -q '^    _SYSTEMD_UNIT=pop3s@' "$T/j"
	journal SYSLOG_IDENTIFIER=pop3-handler POP3_EVENT=logout \
	    POP3_USER=alice | grep -q '^    MESSAGE=.*retrieved=1 '
	# Nothing of the password reached the journal.
	! inside journalctl --no-pager -o verbose | grep -q "$PW" || false
}

@test "live: a running session holds its sandbox: no privilege, seccomp, read-only system but the mail root and state directory, hidden /home and /tmp, no network (pop3@.service)" {
	inside bash -c 'echo marker >/tmp/live-marker; mkdir -p /home/someone'
	# A session held open after login while its process is inspected.
	inside bash -euc '
	exec 5<>/dev/tcp/127.0.0.1/110
	r() { IFS= read -r -t "$1" line <&5; printf "%s\n" "${line%$'"'\r'"'}"; }
	r "$1"
	printf "USER alice\r\n" >&5; r "$1"
	printf "PASS %s\r\n" "$0" >&5; r "$1"
	h=$(pgrep -u pop3 -x pop3-handler)
	echo "pid $h"
	grep -E "^(Uid|NoNewPrivs|Seccomp|CapEff|CapPrm|CapBnd):" /proc/$h/status
	nsenter -t $h -m sh -c "touch /etc/x" 2>&1 || echo "etc: refused"
	nsenter -t $h -m sh -c "touch /usr/x" 2>&1 || echo "usr: refused"
	nsenter -t $h -m sh -c "touch /srv/mail/x && rm /srv/mail/x && echo mail: writable"
	nsenter -t $h -m sh -c "touch /var/lib/pop3-handler/x && rm /var/lib/pop3-handler/x && echo state: writable"
	stat -c "state: %U %a" /var/lib/pop3-handler
	nsenter -t $h -m sh -c "ls -A /home | wc -l | sed s/^/home:\ /"
	nsenter -t $h -m sh -c "test -e /tmp/live-marker && echo tmp: shared || echo tmp: private"
	nsenter -t $h -n ip -o link | cut -d" " -f2 | sed "s/^/link: /"
	printf "QUIT\r\n" >&5; r "$1"
	' "$PW" $((20 * SLOW)) >"$T/sandbox" 2>&1 || { cat "$T/sandbox" >&2; false; }
	cat "$T/sandbox" >&2
	grep -qE '^\+OK Logged in, 1 messages \([0-9]+ octets\)$' "$T/sandbox"
	uid=$(inside id -u pop3)
	grep -qP "^Uid:\t$uid\t$uid\t$uid\t$uid$" "$T/sandbox"
	grep -qP '^NoNewPrivs:\t1$' "$T/sandbox"
	grep -qP '^Seccomp:\t2$' "$T/sandbox"
	grep -qP '^CapEff:\t0{16}$' "$T/sandbox"
	grep -qP '^CapBnd:\t0{16}$' "$T/sandbox"
	grep -q 'Read-only file system' "$T/sandbox"
	grep -qx 'etc: refused' "$T/sandbox"
	grep -qx 'usr: refused' "$T/sandbox"
	grep -qx 'mail: writable' "$T/sandbox"
	# StateDirectory= (the penalty file, later a replay cache).
	grep -qx 'state: writable' "$T/sandbox"
	grep -qx 'state: pop3 700' "$T/sandbox"
	grep -qx 'home: 0' "$T/sandbox"
	grep -qx 'tmp: private' "$T/sandbox"
	[ "$(grep -c '^link:' "$T/sandbox")" -eq 1 ]
	grep -qx 'link: lo:' "$T/sandbox"
}

@test "live: under the unit's seccomp filter Landlock confines the session: the passwd file, readable before, is denied after login (style 3.8)" {
	[ -x "$L/share/pop3-handler-fault" ] ||
	    skip "no fault-injection build at $TOP/build-fault/pop3-handler"
	# The same unit with the probe build: POP3_SANDBOX_PROBE opens the
	# path before and after the restriction and logs both at debug.
	inside bash -euc '
	install -d /etc/systemd/system/pop3@.service.d
	printf "%s\n" "[Service]" "ExecStart=" \
	    "ExecStart=/live/pop3-handler-fault --config=/etc/pop3-handler.conf --debug" \
	    "Environment=POP3_SANDBOX_PROBE=/etc/pop3-handler.passwd" \
	    >/etc/systemd/system/pop3@.service.d/probe.conf
	systemctl daemon-reload'
	status=0
	curl_in pop3://127.0.0.1/1 probe --user "alice:$PW" || status=$?
	inside bash -c 'rm -r /etc/systemd/system/pop3@.service.d &&
	    systemctl daemon-reload'
	[ "$status" -eq 0 ]
	cmp "$L/share/msg.crlf" "$L/share/probe"
	journal SYSLOG_IDENTIFIER=pop3-handler _EXE=/live/pop3-handler-fault \
	    | grep '^    MESSAGE=' >"$T/j"
	cat "$T/j" >&2
	# A kernel without Landlock is a skip; EPERM from the unit's
	# seccomp filter on a kernel with it is the failure this looks for.
	if ! landlock_abi >/dev/null; then
		skip "the kernel has no Landlock (landlock_create_ruleset: $(landlock_abi))"
	fi
	! grep -q 'landlock: not available' "$T/j" || false
	! grep -q 'landlock: cannot' "$T/j" || false
	grep -q '^    MESSAGE=landlock probe before: open /etc/pop3-handler.passwd: ok$' "$T/j"
	grep -q '^    MESSAGE=landlock: restricted to /srv/mail/alice/Maildir (ABI [1-9][0-9]*)$' "$T/j"
	grep -q '^    MESSAGE=landlock probe after: open /etc/pop3-handler.passwd: Permission denied$' "$T/j"
}

@test "live: with pop3-root.conf a system user's Maildir under /home is served with the user's uid; without it the login fails (doc/deploy.md 4)" {
	inside bash -euxc '
	useradd -u 2000 -U -d /home/carol -M -s /usr/sbin/nologin carol
	install -d -o carol -g carol -m 0700 /home/carol
	md=/home/carol/Maildir
	install -d -o carol -g carol -m 0700 $md $md/new $md/cur $md/tmp
	install -o carol -g carol -m 0600 /live/msg $md/new/1700000002.M1P1.live
	hash=$(printf "%s\n" "$0" | pop3-handler --hash-password)
	printf "carol:%s:2000:2000::/home/carol::\n" "$hash" >>/etc/pop3-handler.passwd
	' "$PW" >"$T/carol.log" 2>&1 || { cat "$T/carol.log" >&2; false; }
	# The default unit (user pop3, /home hidden) cannot serve carol.
	status=0
	curl_in pop3://127.0.0.1/1 nodropin --user "carol:$PW" || status=$?
	[ "$status" -ne 0 ]
	# doc/deploy.md 4, the drop-in for both services.
	inside bash -euc '
	for u in pop3@ pop3s@; do
	    install -D -m 644 /usr/local/share/doc/pop3-handler/pop3-root.conf \
	        /etc/systemd/system/$u.service.d/root.conf
	done
	systemctl daemon-reload'
	curl_in pop3://127.0.0.1/1 carol110 --user "carol:$PW"
	cmp "$L/share/msg.crlf" "$L/share/carol110"
	curl_in pop3s://localhost/1 carol995 --user "carol:$PW" \
	    --cacert /live/fullchain.pem
	cmp "$L/share/msg.crlf" "$L/share/carol995"
	# The state file was written by carol, not by root or pop3.
	[ "$(inside stat -c %u:%g /home/carol/Maildir/pop3-handler-uidlist)" = 2000:2000 ]
	# A virtual user (empty uid and gid) would keep root's identity,
	# without CAP_DAC_OVERRIDE: refused, and logged.  With pop3's uid
	# and gid in the line it is served again (doc/deploy.md 4).
	status=0
	curl_in pop3://127.0.0.1/1 alice-root --user "alice:$PW" || status=$?
	[ "$status" -eq 67 ]
	journal SYSLOG_IDENTIFIER=pop3-handler POP3_USER=alice \
	    POP3_EVENT=error | grep -q '^    MESSAGE=.*/srv/mail/alice/Maildir'
	inside bash -euc 'sed -i "s/^\(alice:[^:]*\):::/\1:$(id -u pop3):$(id -g pop3):/" \
	    /etc/pop3-handler.passwd'
	curl_in pop3://127.0.0.1/1 alice-root --user "alice:$PW"
	cmp "$L/share/msg.crlf" "$L/share/alice-root"
	journal SYSLOG_IDENTIFIER=pop3-handler POP3_EVENT=login \
	    POP3_USER=carol | grep -qx '    POP3_USER=carol'
}
