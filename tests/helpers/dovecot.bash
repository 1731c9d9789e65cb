# dovecot_conf DIR PASSWD UID GID HOME PORT: prints a dovecot.conf for
# Dovecot 2.3 serving POP3 only, without TLS, on 127.0.0.1:PORT: base and
# state directories under DIR (which must exist; they are made here),
# users from the passwd-file PASSWD (crypt hashes), mail as UID:GID in
# HOME/Maildir (HOME may hold %u), UIDLs in Dovecot's default format.
# Shared by tests/uidl-import.bats and bench/run.sh (which appends its
# own lines).
dovecot_conf() {
	mkdir -p "$1/base" "$1/state"
	cat <<-CONF
	base_dir = $1/base
	state_dir = $1/state
	log_path = $1/dovecot.log
	listen = 127.0.0.1
	protocols = pop3
	ssl = no
	disable_plaintext_auth = no
	auth_mechanisms = plain
	default_internal_user = dovecot
	default_login_user = dovenull
	passdb {
	  driver = passwd-file
	  args = scheme=CRYPT username_format=%u $2
	}
	userdb {
	  driver = static
	  args = uid=$3 gid=$4 home=$5
	}
	mail_location = maildir:~/Maildir
	pop3_uidl_format = %08Xu%08Xv
	service pop3-login {
	  inet_listener pop3 {
	    port = $6
	  }
	  inet_listener pop3s {
	    port = 0
	  }
	}
	CONF
}
