#!/usr/bin/env bats
# Real POP3 clients against the handler on 127.0.0.1 (systemd socket
# activation, inetd style): python poplib, curl, fetchmail, mpop.  Every
# fetched message is compared with its Maildir file (spec 3, 5).

load helpers/load
load helpers/mail

# Messages every client must carry unchanged.  $1: also the ones with
# bare CRs and an empty message (for the byte-exact clients).
fill() {
	setup_alice
	putf cur 1700000001.M1P1.host:2, \
	    'From: a@example.org\nTo: alice@example.org\nSubject: one\nMessage-ID: <1@example.org>\n\nHello\n.dotline\n.\n..two\nbye\n'
	putf cur 1700000002.M1P1.host:2,S \
	    'From: b@example.org\r\nTo: alice@example.org\r\nSubject: two\r\nMessage-ID: <2@example.org>\r\n\r\nline\r\n..double\r\n'
	putf new 1700000003.M1P1.host \
	    'From: c@example.org\nTo: alice@example.org\nSubject: three\nMessage-ID: <3@example.org>\n\nno newline at end'
	python3 -c '
import sys
out = [b"From: d@example.org\nTo: alice@example.org\nSubject: big\nMessage-ID: <4@example.org>\n\n"]
for i in range(6000):
    out.append(b"%s line %d of a larger message\n" % (b"." if i % 7 == 0 else b"", i))
sys.stdout.buffer.write(b"".join(out))' >"$MD/new/1700000004.M1P1.host"
	if [ "${1:-}" = all ]; then
		putf new 1700000005.M1P1.host 'Subject: cr\n\nbare\rcr\n\rstart\n'
		putf new 1700000006.M1P1.host ''
	fi
	# The expected CRLF form of each message, by delivery order.
	local f n=0
	mkdir -p "$T/want"
	for f in $(cd "$MD" && ls new/* cur/* | sort -t/ -k2); do
		n=$((n + 1))
		to_crlf "$MD/$f" >"$T/want/$n"
	done
	NMSG=$n
}

@test "python poplib retrieves every message byte for byte (spec 3 RETR)" {
	fill all
	start_server
	python3 - "$PORT" "$T/want" "$NMSG" <<-'EOF'
	import poplib, sys
	port, want, nmsg = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
	p = poplib.POP3('127.0.0.1', port, timeout=20)
	assert p.getwelcome() == b'+OK test.example POP3 server ready'
	p.user('alice')
	p.pass_('pw')
	count, total = p.stat()
	assert count == nmsg, (count, nmsg)
	resp, listing, _ = p.list()
	sizes = {}
	for ent in listing:
	    n, s = (int(x) for x in ent.split())
	    sizes[n] = s
	got_total = 0
	for n in range(1, nmsg + 1):
	    resp, lines, octets = p.retr(n)
	    got = b''.join(l + b'\r\n' for l in lines)
	    w = open('%s/%d' % (want, n), 'rb').read()
	    assert got == w, (n, got[:80], w[:80])
	    assert octets == sizes[n] == len(w), (n, octets, sizes[n])
	    got_total += len(w)
	assert got_total == total, (got_total, total)
	resp, uidl, _ = p.uidl()
	assert len(uidl) == nmsg
	assert len(set(u.split()[1] for u in uidl)) == nmsg
	assert p.quit() == b'+OK Bye'
	EOF
}

@test "python poplib DELE and QUIT over TCP empties the maildrop (spec 5 UPDATE)" {
	fill
	start_server
	python3 - "$PORT" "$NMSG" <<-'EOF'
	import poplib, sys
	p = poplib.POP3('127.0.0.1', int(sys.argv[1]), timeout=20)
	p.user('alice')
	p.pass_('pw')
	for n in range(1, int(sys.argv[2]) + 1):
	    assert p.dele(n) == b'+OK Message %d deleted' % n
	assert p.quit() == b'+OK Bye'
	EOF
	[ -z "$(ls -A "$MD/cur")" ]
	[ -z "$(ls -A "$MD/new")" ]
}

@test "curl retrieves each message byte for byte (spec 3 RETR)" {
	fill all
	start_server
	local n
	for n in $(seq 1 "$NMSG"); do
		timeout 20 curl -s "pop3://127.0.0.1:$PORT/$n" -u alice:pw \
		    >"$T/curl.$n"
		# curl itself prints a lone CRLF for an empty message (it
		# takes the terminator's CRLF as body): accept that only.
		if [ ! -s "$T/want/$n" ] &&
		    [ "$(od -An -c "$T/curl.$n" | tr -d ' ')" = '\r\n' ]; then
			continue
		fi
		cmp "$T/want/$n" "$T/curl.$n"
	done
}

@test "curl LIST gives the scan listing (spec 3 LIST)" {
	fill all
	start_server
	timeout 20 curl -s "pop3://127.0.0.1:$PORT/" -u alice:pw >"$T/list"
	local n
	: >"$T/exp"
	for n in $(seq 1 "$NMSG"); do
		printf '%d %d\r\n' "$n" "$(stat -c %s "$T/want/$n")" >>"$T/exp"
	done
	cmp "$T/exp" "$T/list"
}

# fetchmail_run ARGS...: one fetchmail poll of alice on $PORT, every
# message piped to an MDA that stores it as $T/fm/N.
fetchmail_run() {
	fetchmail_mda
	cat >"$T/fetchmailrc" <<-EOF
	set no bouncemail
	poll 127.0.0.1 with proto POP3 service $PORT auth password
	    user "alice" there with password "pw" is "root" here
	    mda "$T/mda"
	    fetchall
	    no rewrite
	    sslproto ''
	EOF
	chmod 600 "$T/fetchmailrc"
	HOME=$T FETCHMAILHOME=$T/fmhome timeout 60 fetchmail --nosyslog \
	    -f "$T/fetchmailrc" --idfile "$T/fmhome/ids" "$@" \
	    >"$T/fetchmail.out" 2>&1 || {
		cat "$T/fetchmail.out" >&2
		return 1
	}
}

# lf_tail_check DIR: each delivered DIR/N ends with message N in LF form
# (the clients add a Received: header in front and use LF line ends).
lf_tail_check() {
	python3 - "$1" "$T/want" "$NMSG" <<-'EOF'
	import sys
	d, want, nmsg = sys.argv[1], sys.argv[2], int(sys.argv[3])
	for n in range(1, nmsg + 1):
	    w = open('%s/%d' % (want, n), 'rb').read().replace(b'\r\n', b'\n')
	    g = open('%s/%d' % (d, n), 'rb').read().replace(b'\r\n', b'\n')
	    # the original header and body, in order, at the end
	    assert g.endswith(w), (n, g[-200:], w[-200:])
	EOF
}

@test "fetchmail in keep mode delivers every message intact (spec 3 RETR)" {
	fill
	start_server
	fetchmail_run -k
	[ "$(ls "$T/fm" | wc -l)" -eq "$NMSG" ]
	lf_tail_check "$T/fm"
	[ "$(ls "$MD/cur" | wc -l)" -eq "$NMSG" ]
}

@test "fetchmail without keep deletes what it fetched: Maildir empty (spec 5 UPDATE)" {
	fill
	start_server
	fetchmail_run
	[ "$(ls "$T/fm" | wc -l)" -eq "$NMSG" ]
	lf_tail_check "$T/fm"
	[ -z "$(ls -A "$MD/cur")" ]
	[ -z "$(ls -A "$MD/new")" ]
}

# mpop_run ARGS...: one mpop run for alice on $PORT, every message piped
# to an MDA that stores it as $T/mp/N.
mpop_run() {
	command -v mpop >/dev/null || skip "mpop is not installed"
	store_mda "$T/mda2" "$T/mp"
	mpop_rc "$@" <<-EOF
	account default
	host 127.0.0.1
	port $PORT
	user alice
	password pw
	auth user
	tls off
	delivery mda $T/mda2
	only_new off
	uidls_file $T/mpop-uidls
	EOF
}

@test "mpop in keep mode delivers every message intact (spec 3 RETR)" {
	fill
	start_server
	mpop_run --keep=on
	[ "$(ls "$T/mp" | wc -l)" -eq "$NMSG" ]
	lf_tail_check "$T/mp"
	[ "$(ls "$MD/cur" | wc -l)" -eq "$NMSG" ]
}

@test "mpop without keep deletes what it fetched: Maildir empty (spec 5 UPDATE)" {
	fill
	start_server
	mpop_run --keep=off
	[ "$(ls "$T/mp" | wc -l)" -eq "$NMSG" ]
	lf_tail_check "$T/mp"
	[ -z "$(ls -A "$MD/cur")" ]
	[ -z "$(ls -A "$MD/new")" ]
}
