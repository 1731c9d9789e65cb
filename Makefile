# pop3-handler: one hand-written GNU Makefile (style 3.11).

PREFIX	?= /usr/local
SBINDIR	?= $(PREFIX)/sbin
MANDIR	?= $(PREFIX)/share/man
UNITDIR	?= $(PREFIX)/lib/systemd/system
DOCDIR	?= $(PREFIX)/share/doc/pop3-handler
CC	?= cc
CFLAGS	?= -O2 -g
PKGS	 = openssl libxcrypt libgsasl

WARN	 = -std=gnu11 -Wall -Wextra -Werror -Wshadow -Wformat=2
HARDEN	 = -D_FORTIFY_SOURCE=3 -fstack-protector-strong -fPIE
LDHARDEN = -pie -Wl,-z,relro,-z,now -Wl,--as-needed
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
# OpenSSL is dlopen()ed by tls.c only when TLS is configured, and by ntlm.c
# only when an NTLM exchange starts; libgsasl by sasl.c only when a SCRAM
# or GSSAPI exchange starts: headers and sonames only.
PKG_LIBS   = $(shell pkg-config --libs libxcrypt 2>/dev/null)
GSASL_SONAME := $(shell objdump -p $$(pkg-config --variable=libdir \
	libgsasl)/libgsasl.so 2>/dev/null | awk '$$1 == "SONAME" {print $$2}')
PKG_CFLAGS += $(if $(GSASL_SONAME),-DGSASL_SONAME='"$(GSASL_SONAME)"')

SRCS	 = util.c log.c io.c tls.c proxy.c config.c passwd.c auth.c uidmap-parse.c uidmap.c uidmap-lock.c \
	   uidmap-import.c maildir-crlf.c maildir-file.c maildir-dir.c maildir-update.c maildir-size.c maildir.c session.c \
	   session-auth.c session-login.c session-mail.c readahead.c \
	   checkuser.c checkuser-uidl.c penalty.c sandbox.c ntlm.c sasl.c policy.c gssapi.c
# Build outputs live under build/ (only ./pop3-handler, which spec 1 names,
# stays at the top): build/obj/ the plain objects and their .d files,
# build/san/ and build/fault/ the sanitizer and fault-injection handlers,
# build/fuzz/ the fuzzers, build/scram-client a test tool, build/*.tap
# the test reports.  `make clean` removes build/.
B	 = build
OBJS	 = $(SRCS:%.c=$(B)/obj/%.o)
ALLOBJ	 = $(OBJS) $(B)/obj/pop3-handler.o

ALL_CFLAGS = $(WARN) $(HARDEN) $(PKG_CFLAGS) $(CFLAGS)

all: pop3-handler

pop3-handler: $(ALLOBJ)
	$(CC) $(CFLAGS) $(LDHARDEN) $(LDFLAGS) -o $@ $(ALLOBJ) $(PKG_LIBS)

$(B)/obj/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -MMD -MP -c -o $@ $<

-include $(ALLOBJ:.o=.d)

# Sanitizer build (build/san/): ./pop3-handler stays the plain build.
SAN_FLAGS = -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined \
	-fno-sanitize-recover=undefined
$(B)/san/pop3-handler: $(SRCS) pop3-handler.c $(wildcard *.h)
	@mkdir -p $(@D)
	$(CC) $(WARN) $(PKG_CFLAGS) $(SAN_FLAGS) -o $@ $(SRCS) pop3-handler.c \
		$(PKG_LIBS)

# Fault injection for tests/update-crash.bats: POP3_FAULT=<point> kills
# the handler inside UPDATE (maildir-update.c); tests/read-eagain.bats:
# POP3_FAULT=read-eagain fails O_NONBLOCK reads with EAGAIN (util.c).
# A test tool, never installed.
$(B)/fault/pop3-handler: $(SRCS) pop3-handler.c $(wildcard *.h)
	@mkdir -p $(@D)
	$(CC) $(WARN) $(HARDEN) $(PKG_CFLAGS) -O1 -g -DPOP3_FAULT_INJECTION \
		$(LDHARDEN) -o $@ $(SRCS) pop3-handler.c $(PKG_LIBS)

# tests/auth-scram.bats: a SCRAM -PLUS client (OpenSSL + GNU SASL); a
# test tool, never installed.
$(B)/scram-client: tests/helpers/scram-client.c
	@mkdir -p $(@D)
	$(CC) $(WARN) $(PKG_CFLAGS) $(CFLAGS) -o $@ $< \
		$(shell pkg-config --libs libgsasl openssl 2>/dev/null)

deps:
	@./tests/helpers/install-deps

# The suite runs in two passes per build: the files in CHECK_SERIAL
# (wall-clock limits on the handler's timers, 300 concurrent sessions,
# the systemd container) one at a time, every other file CHECK_JOBS at a
# time (bats --jobs needs GNU parallel; without it, one at a time).  The
# tests of one file always run in order.  Time limits in the tests
# stretch by TEST_SLOW (default: from the load average, tests/helpers/load.bash).
CHECK_JOBS  ?= $(shell echo $$(( $$(nproc 2>/dev/null || echo 1) * 2 )))
CHECK_SERIAL = auth-limits bounds implicit-tls live penalty proxy stls \
	       statefile-safety timeouts
CHECK_SERIAL_FILES = $(wildcard $(CHECK_SERIAL:%=tests/%.bats))
CHECK_PARALLEL_FILES = $(filter-out $(CHECK_SERIAL_FILES),$(wildcard tests/*.bats))
CHECK_BATS = bats --tap $(if $(shell command -v parallel),--jobs $(CHECK_JOBS) \
	--no-parallelize-within-files)

# make test: the quick part of the suite for the edit-compile-test loop:
# the bats files tagged "# bats file_tags=quick" (their second line).
# They drive the handler over pipes and socketpairs and replay the fuzz
# corpus; they need no root (the few tests that do skip without it), no
# servers (Dovecot, HAProxy, stunnel, a KDC, systemd-nspawn, socket-
# activated listeners) and nothing beyond the build's packages.  Plain
# build; HANDLER=build/san/pop3-handler runs them against the sanitizer
# build.  306 tests, about 195 CPU-seconds (0.64 a test): under two minutes
# on two idle cores; the command-line, policy and crash-injection files
# are left to `make check`, which stays the whole suite, tags or not.
test: all
	bats --filter-tags quick $(if $(shell command -v parallel),--jobs \
		$(CHECK_JOBS) --no-parallelize-within-files) tests/*.bats

check: deps lint all $(B)/san/pop3-handler $(B)/fault/pop3-handler \
	$(B)/scram-client
	{ $(CHECK_BATS) $(CHECK_PARALLEL_FILES); \
	  bats --tap $(CHECK_SERIAL_FILES); } | tee $(B)/tests.tap
	{ HANDLER=$(B)/san/pop3-handler $(CHECK_BATS) $(CHECK_PARALLEL_FILES); \
	  HANDLER=$(B)/san/pop3-handler bats --tap $(CHECK_SERIAL_FILES); } | \
	    tee $(B)/tests-san.tap
	@cat $(B)/tests.tap $(B)/tests-san.tap | ./tests/helpers/tap-count

demo: deps all
	./tests/helpers/demo

# make install [PREFIX=/usr/local] [DESTDIR=]: the files ship with
# /usr/local/sbin in them; sed puts $(SBINDIR) there instead.  The sample
# config and the xinetd, stunnel and root drop-in examples go to DOCDIR:
# nothing in /etc is overwritten (pop3-handler(8), FILES).
UNITS	 = pop3.socket pop3@.service pop3s.socket pop3s@.service \
	   pop3-proxy.socket pop3-proxy@.service
EXAMPLES = pop3-handler.conf units/xinetd.pop3 units/stunnel-pop3s.conf \
	   units/pop3-root.conf
FIXPATH	 = sed -e 's|/usr/local/sbin/|$(SBINDIR)/|g' \
	-e 's|/usr/local/share/doc/pop3-handler|$(DOCDIR)|g' \
	-e 's|/usr/local/lib/systemd/system|$(UNITDIR)|g'

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

# Fuzzing (style 3.10): fuzz/fuzz_<t>.c links the project's objects.
# fuzz-replay: gcc ASan/UBSan binaries replay fuzz/corpus/<t>/ (fast).
# fuzz: clang libFuzzer (libclang-rt-14-dev), FUZZ_SECONDS per target;
# new inputs go to build/fuzz/corpus/<t>/, crashes to build/fuzz/.
# The objects go into an archive so each harness pulls only what it
# needs, and fuzz_command can bring its own sandbox_maildir(): Landlock
# would lock the fuzzer out of its passwd file and its corpus.
FUZZ_TARGETS = command proxy passwd extra saslplain config mdname uidmap \
	       uidload uidimport crlf ntlm
FUZZ_SECONDS ?= 60
FUZZ_CC	 ?= clang
# -DPOP3_FUZZ: test hooks of fuzz builds only (uidmap.h uidmap_fuzz_chunk).
FUZZ_CFLAGS = $(WARN) -Wno-format-nonliteral -Wno-unknown-warning-option \
	$(PKG_CFLAGS) $(SAN_FLAGS) -DPOP3_FUZZ
$(B)/fuzz/replay/libpop3.a: $(SRCS:%.c=$(B)/fuzz/replay/%.o)
	rm -f $@ && ar rcs $@ $^
$(B)/fuzz/replay/%.o: %.c $(wildcard *.h)
	@mkdir -p $(@D)
	$(CC) $(WARN) $(PKG_CFLAGS) $(SAN_FLAGS) -DPOP3_FUZZ -c -o $@ $<
$(B)/fuzz/replay/fuzz_%: fuzz/fuzz_%.c fuzz/fuzz.h $(B)/fuzz/replay/libpop3.a
	$(CC) $(WARN) $(PKG_CFLAGS) $(SAN_FLAGS) -DPOP3_FUZZ -DFUZZ_REPLAY \
		-o $@ $< \
		$(B)/fuzz/replay/libpop3.a $(PKG_LIBS)
$(B)/fuzz/lf/libpop3.a: $(SRCS:%.c=$(B)/fuzz/lf/%.o)
	rm -f $@ && ar rcs $@ $^
$(B)/fuzz/lf/%.o: %.c $(wildcard *.h)
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c -o $@ $<
$(B)/fuzz/lf/fuzz_%: fuzz/fuzz_%.c fuzz/fuzz.h $(B)/fuzz/lf/libpop3.a
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $< \
		$(B)/fuzz/lf/libpop3.a $(PKG_LIBS)
fuzz-replay: $(FUZZ_TARGETS:%=$(B)/fuzz/replay/fuzz_%)
	for t in $(FUZZ_TARGETS); do \
		$(B)/fuzz/replay/fuzz_$$t fuzz/corpus/$$t || exit 1; done
fuzz: $(FUZZ_TARGETS:%=$(B)/fuzz/lf/fuzz_%)
	for t in $(FUZZ_TARGETS); do mkdir -p $(B)/fuzz/corpus/$$t && \
		$(B)/fuzz/lf/fuzz_$$t -max_total_time=$(FUZZ_SECONDS) \
		$$(test $$t != command || echo -close_fd_mask=2) \
		$$(test ! -f fuzz/$$t.dict || echo -dict=fuzz/$$t.dict) \
		-artifact_prefix=$(B)/fuzz/$$t- \
		$(B)/fuzz/corpus/$$t fuzz/corpus/$$t || exit 1; done
.PRECIOUS: $(B)/fuzz/replay/%.o $(B)/fuzz/lf/%.o
.PHONY: fuzz fuzz-replay

# Static analysis (style 3.11): cppcheck, then gcc -fanalyzer on every .c of
# the tree (fault-injection and replay code included); any finding fails.
# A false positive gets an inline "cppcheck-suppress <id>" with a reason.
LINT_SRCS = $(SRCS) pop3-handler.c $(wildcard fuzz/*.c bench/*.c)
lint:
	cppcheck --quiet --std=c11 --error-exitcode=1 --inline-suppr \
		--enable=warning,portability,performance \
		--suppress=missingIncludeSystem \
		-I. $(filter -I%,$(PKG_CFLAGS)) $(LINT_SRCS)
	for f in $(LINT_SRCS); do \
		$(CC) $(WARN) -Wno-format-nonliteral $(PKG_CFLAGS) -fanalyzer \
		-DPOP3_FAULT_INJECTION -DFUZZ_REPLAY -c -o /dev/null $$f || \
		exit 1; done
.PHONY: lint

clean:
	rm -rf pop3-handler $(B) $(BENCH_BIN)

.PHONY: all test check demo deps install uninstall clean

# Benchmark (bench/README.md): never part of `make check`;
# bench-smoke is a one-second run against the handler that check may use.
BENCH_BIN = bench/popbench bench/mkmaildir bench/tlscost
bench/tlscost: bench/tlscost.c
	$(CC) $(WARN) $(CFLAGS) -o $@ bench/tlscost.c -ldl
bench/popbench: bench/popbench.c
	$(CC) $(WARN) $(CFLAGS) -o $@ bench/popbench.c -lssl -lcrypto
bench/mkmaildir: bench/mkmaildir.c
	$(CC) $(WARN) $(CFLAGS) -o $@ bench/mkmaildir.c -lm
bench: all $(BENCH_BIN)
	./bench/run.sh
bench-smoke: all $(BENCH_BIN)
	./bench/run.sh smoke

.PHONY: bench bench-smoke
