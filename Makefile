# pop3-handler: one hand-written GNU Makefile (STYLE 3.11).

PREFIX	?= /usr/local
SBINDIR	?= $(PREFIX)/sbin
MANDIR	?= $(PREFIX)/share/man
UNITDIR	?= $(PREFIX)/lib/systemd/system
DOCDIR	?= $(PREFIX)/share/doc/pop3-handler
CC	?= cc
CFLAGS	?= -O2 -g
PKGS	 = openssl libsystemd libxcrypt

WARN	 = -std=gnu11 -Wall -Wextra -Werror -Wshadow -Wformat=2
HARDEN	 = -D_FORTIFY_SOURCE=3 -fstack-protector-strong -fPIE
LDHARDEN = -pie -Wl,-z,relro,-z,now -Wl,--as-needed
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   = $(shell pkg-config --libs $(PKGS) 2>/dev/null)

SRCS	 = util.c log.c io.c tls.c proxy.c config.c auth.c uidmap.c maildir.c session.c \
	   checkuser.c
OBJS	 = $(SRCS:.c=.o)
ALLOBJ	 = $(OBJS) pop3-handler.o

ALL_CFLAGS = $(WARN) $(HARDEN) $(PKG_CFLAGS) $(CFLAGS)

all: pop3-handler

pop3-handler: $(ALLOBJ)
	$(CC) $(CFLAGS) $(LDHARDEN) $(LDFLAGS) -o $@ $(ALLOBJ) $(PKG_LIBS)

%.o: %.c
	$(CC) $(ALL_CFLAGS) -MMD -MP -c -o $@ $<

-include $(ALLOBJ:.o=.d)

# Sanitizer build out of tree: ./pop3-handler stays the plain build.
SAN_FLAGS = -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined \
	-fno-sanitize-recover=undefined
build-san/pop3-handler: $(SRCS) pop3-handler.c $(wildcard *.h)
	mkdir -p build-san
	$(CC) $(WARN) $(PKG_CFLAGS) $(SAN_FLAGS) -o $@ $(SRCS) pop3-handler.c \
		$(PKG_LIBS)

# Fault injection for tests/update-crash.bats: POP3_FAULT=<point> kills
# the handler inside UPDATE (maildir.c).  A test tool, never installed.
build-fault/pop3-handler: $(SRCS) pop3-handler.c $(wildcard *.h)
	mkdir -p build-fault
	$(CC) $(WARN) $(HARDEN) $(PKG_CFLAGS) -O1 -g -DPOP3_FAULT_INJECTION \
		$(LDHARDEN) -o $@ $(SRCS) pop3-handler.c $(PKG_LIBS)

deps:
	@./tests/helpers/install-deps

check: deps all build-san/pop3-handler
	bats --tap tests | tee tests.tap
	HANDLER=build-san/pop3-handler bats --tap tests | tee tests-san.tap
	@cat tests.tap tests-san.tap | ./tests/helpers/tap-count

demo: deps all
	./tests/helpers/demo

# make install [PREFIX=/usr/local] [DESTDIR=]: the files ship with
# /usr/local/sbin in them; sed puts $(SBINDIR) there instead.  The sample
# config and the xinetd, stunnel and root drop-in examples go to DOCDIR:
# nothing in /etc is overwritten (pop3-handler(8), FILES).
UNITS	 = pop3.socket pop3@.service pop3s.socket pop3s@.service
EXAMPLES = pop3-handler.conf units/xinetd.pop3 units/stunnel-pop3s.conf \
	   units/pop3-root.conf
FIXPATH	 = sed -e 's|/usr/local/sbin/|$(SBINDIR)/|g'

install: all
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(MANDIR)/man8 \
		$(DESTDIR)$(UNITDIR) $(DESTDIR)$(DOCDIR)
	install -m 755 pop3-handler $(DESTDIR)$(SBINDIR)/pop3-handler
	$(FIXPATH) pop3-handler.8 >$(DESTDIR)$(MANDIR)/man8/pop3-handler.8
	for f in $(UNITS:%=units/%); do \
		$(FIXPATH) $$f >$(DESTDIR)$(UNITDIR)/$${f##*/} || exit 1; done
	for f in $(EXAMPLES); do \
		$(FIXPATH) $$f >$(DESTDIR)$(DOCDIR)/$${f##*/} || exit 1; done
	cd $(DESTDIR)$(UNITDIR) && chmod 644 $(UNITS)
	cd $(DESTDIR)$(DOCDIR) && chmod 644 $(notdir $(EXAMPLES))
	chmod 644 $(DESTDIR)$(MANDIR)/man8/pop3-handler.8

uninstall:
	rm -f $(DESTDIR)$(SBINDIR)/pop3-handler \
		$(DESTDIR)$(MANDIR)/man8/pop3-handler.8 \
		$(UNITS:%=$(DESTDIR)$(UNITDIR)/%) \
		$(addprefix $(DESTDIR)$(DOCDIR)/,$(notdir $(EXAMPLES)))
	-rmdir $(DESTDIR)$(DOCDIR)

clean:
	rm -rf pop3-handler *.o *.d build-san tests.tap tests-san.tap

.PHONY: all check demo deps install uninstall clean
