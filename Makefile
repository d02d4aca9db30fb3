# omnet — hand-written Makefile.  ./configure (from configure.ac) writes
# config.mk; if it is missing, the first `make` runs configure with its
# defaults.  Objects go to $(O) (default build/), so a sanitizer build can
# live beside the normal one:  make O=build-asan SANITIZE=1 check-unit
O ?= build
.DEFAULT_GOAL := all

-include config.mk

ifeq ($(wildcard config.mk),)
config.mk: configure.ac config.mk.in
	test -x configure || autoreconf -fi
	./configure
endif

configure: configure.ac
	autoreconf -fi

VERSION = $(PACKAGE_VERSION)
WARN = -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
       -Wpointer-arith -Wformat=2 -Wno-unused-parameter $(WERROR)
ifeq ($(SANITIZE),1)
SANFLAGS = -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
endif
OPT ?= -O2 -g
CFLAGS_BASE = -std=gnu11 $(OPT) $(WARN) $(SANFLAGS) $(CONFIG_CFLAGS) -D_GNU_SOURCE \
  -DOMNET_VERSION='"$(VERSION)"' -DOMNET_SYSCONFDIR='"$(sysconfdir)"' \
  -DOMNET_STATEDIR='"$(localstatedir)/lib/omnetd"' -DOMNET_RUNDIR='"$(runstatedir)/omnetd"' \
  -DOMNET_DATADIR='"$(omnetdatadir)"'
# The pure cores see their own folder and the C library, nothing else:
# including glue or a library's header there fails to build (and
# build-aux/check-core says so by name).
CFLAGS_CORE = $(CFLAGS_BASE) -Isrc/core
CFLAGS_ALL = $(CFLAGS_BASE) $(LIBEVENT_CFLAGS) $(OPENSSL_CFLAGS) $(JANSSON_CFLAGS) \
  $(NFTABLES_CFLAGS) $(MINIUPNPC_CFLAGS) -Isrc -Isrc/core
LDFLAGS_ALL = $(SANFLAGS) $(CONFIG_LDFLAGS)

# Pure cores (src/core/): no sockets, no event loop, no clock, no
# randomness; the time comes in as an argument.  Tests link these alone.
CORE_SRCS = log.c util.c wire.c rangeset.c ring.c idmap.c cc.c bbr.c link.c link_send.c link_sent.c link_loss.c link_dgram.c link_sched.c \
            path.c nego.c pmtu.c hslimit.c replay.c dhcp.c dhcp6.c leasetab.c ra.c busypoll.c userdirs.c nsrefuse.c \
            policy.c config.c tcpraw.c resolv.c pcp.c cmdschema.c
# Glue: sockets, libevent, OpenSSL, namespaces, nftables.
GLUE_SRCS = osutil.c identity.c dtls.c seal.c mesh.c session.c peer.c relay.c flow.c netns.c netlink.c nft.c \
            capns.c capture.c lan6.c egress.c network.c state.c control.c ctl_schema.c ctl_cmds.c daemon.c privdrop.c \
            privsep.c portmap.c portmap_pcp.c portmap_natpmp.c portmap_upnp.c forward.c \
            userns.c vmrun.c

CORE_OBJS = $(CORE_SRCS:%.c=$(O)/src/core/%.o)
GLUE_OBJS = $(GLUE_SRCS:%.c=$(O)/src/%.o)
DAEMON_LIBS = $(LIBEVENT_LIBS) $(OPENSSL_LIBS) $(JANSSON_LIBS) $(NFTABLES_LIBS) \
              $(MINIUPNPC_LIBS) $(NATPMP_LIBS) -pthread

BINS = $(O)/omnetd $(O)/omnetctl

UNIT_TESTS = test_wire test_rangeset test_ring test_link test_link_limits test_dhcp test_policy \
             test_config test_tcpraw test_dtls test_path test_nego test_hslimit test_pcp test_control \
             test_cmdschema test_pmtu test_replay test_busypoll test_userdirs test_nsrefuse test_dhcp6 test_ra
UNIT_BINS = $(UNIT_TESTS:%=$(O)/tests/%)
TEST_TOOLS = $(O)/tests/impair $(O)/tests/nl_selftest $(O)/tests/privsep_rtt \
             $(O)/tests/hostile_peer $(O)/tests/stranger $(O)/tests/rrperf

.PHONY: all check check-unit check-integration check-selftests install uninstall clean distclean dist distcheck
all: $(BINS) $(TEST_TOOLS)

ifeq ($(V),1)
Q =
quiet = @:
else
Q = @
quiet = @echo
endif

$(O)/src/core/%.o: src/core/%.c $(wildcard src/core/*.h) config.mk
	@mkdir -p $(@D)
	$(quiet) "  CC      $@"
	$(Q)$(CC) $(CFLAGS_CORE) -MD -MF $@.d -c -o $@ $<
$(O)/src/%.o: src/%.c $(wildcard src/*.h src/core/*.h) config.mk
	@mkdir -p $(@D)
	$(quiet) "  CC      $@"
	$(Q)$(CC) $(CFLAGS_ALL) -c -o $@ $<

# check-core: every header a core includes and every symbol it calls
$(O)/libcore.a: $(CORE_OBJS) build-aux/check-core
	build-aux/check-core $(CORE_OBJS)
	rm -f $@ && ar rcs $@ $(CORE_OBJS)
$(O)/libglue.a: $(GLUE_OBJS)
	rm -f $@ && ar rcs $@ $^

$(O)/omnetd: $(O)/src/omnetd.o $(O)/libglue.a $(O)/libcore.a
	$(CC) $(LDFLAGS_ALL) -o $@ $^ $(DAEMON_LIBS) -lm
$(O)/omnetctl: $(O)/src/omnetctl.o $(O)/src/osutil.o $(O)/libcore.a
	$(CC) $(LDFLAGS_ALL) -o $@ $^ $(JANSSON_LIBS)

$(O)/tests/%.o: tests/%.c $(wildcard src/*.h src/core/*.h tests/*.h) config.mk
	@mkdir -p $(@D)
	$(quiet) "  CC      $@"
	$(Q)$(CC) $(CFLAGS_ALL) $(CHECK_CFLAGS) -Itests -c -o $@ $<
$(O)/tests/test_%: $(O)/tests/test_%.o $(O)/tests/simnet.o $(O)/libcore.a
	$(CC) $(LDFLAGS_ALL) -o $@ $^ $(CHECK_LIBS) -lm
$(O)/tests/test_dtls: $(O)/tests/test_dtls.o $(O)/src/dtls.o $(O)/src/seal.o $(O)/src/identity.o $(O)/src/osutil.o $(O)/libcore.a
	$(CC) $(LDFLAGS_ALL) -o $@ $^ $(CHECK_LIBS) $(OPENSSL_LIBS)
# a peer that misbehaves on purpose (tests/integration/test_hostile_peer.sh)
$(O)/tests/hostile_peer: $(O)/tests/hostile_peer.o $(O)/src/dtls.o $(O)/src/seal.o $(O)/src/identity.o $(O)/src/osutil.o $(O)/libcore.a
	$(CC) $(LDFLAGS_ALL) -o $@ $^ $(OPENSSL_LIBS) -lm
$(O)/tests/test_control: $(O)/tests/test_control.o $(O)/libglue.a $(O)/libcore.a
	$(CC) $(LDFLAGS_ALL) -o $@ $^ $(CHECK_LIBS) $(DAEMON_LIBS) -lm
$(O)/tests/impair: $(O)/tests/impair.o
	$(CC) $(LDFLAGS_ALL) -o $@ $^
# round trips and connection rates for bench/compare
$(O)/tests/rrperf: $(O)/tests/rrperf.o
	$(CC) $(LDFLAGS_ALL) -o $@ $^
$(O)/tests/stranger: $(O)/tests/stranger.o $(O)/src/dtls.o $(O)/src/identity.o $(O)/src/osutil.o $(O)/libcore.a
	$(CC) $(LDFLAGS_ALL) -o $@ $^ $(OPENSSL_LIBS)
$(O)/tests/nl_selftest: $(O)/tests/nl_selftest.o $(O)/src/netlink.o $(O)/src/osutil.o $(O)/libcore.a
	$(CC) $(LDFLAGS_ALL) -o $@ $^
$(O)/tests/privsep_rtt: $(O)/tests/privsep_rtt.o $(O)/libglue.a $(O)/libcore.a
	$(CC) $(LDFLAGS_ALL) -o $@ $^ $(DAEMON_LIBS) -lm

check: check-unit check-integration

check-unit: $(UNIT_BINS)
	@if [ "$(HAVE_CHECK)" != 1 ]; then echo "make check needs Check: install check (Debian) or check-devel (Fedora)"; exit 1; fi
	@fail=0; for t in $(UNIT_BINS); do \
	  echo "== $$t"; CK_DEFAULT_TIMEOUT=120 $$t || fail=1; done; exit $$fail

# Integration tests build network namespaces and need root.
check-integration: $(BINS) $(TEST_TOOLS)
	OMNET_BUILD=$(abspath $(O)) tests/integration/run $(TESTS)

# The test tools' own self-tests: rtnetlink helpers, the impairment bridge,
# omnetctl against a fake daemon.
check-selftests: $(BINS) $(TEST_TOOLS)
	NL_SELFTEST=$(abspath $(O))/tests/nl_selftest tests/integration/netlink_selftest.sh
	IMPAIR=$(abspath $(O))/tests/impair tests/integration/impair_selftest.sh
	OMNETCTL=$(abspath $(O))/omnetctl tests/integration/omnetctl_selftest.sh

# --- fuzzing: libFuzzer harnesses in tests/fuzz/ (clang, ASan, UBSan), built
# in build-fuzz/.  make fuzz [FUZZ_TIME=60] [FUZZ_TARGETS="wire link"] runs
# each for FUZZ_TIME seconds; check-fuzz runs each over its seed corpus and
# FUZZ_CHECK_TIME seconds more; fuzz-seeds regenerates tests/fuzz/corpus/.
FUZZ_TARGETS ?= wire link dhcp dhcp6 ra pcp natpmp config resolv syn control seal
FUZZ_GLUE = natpmp control seal
FUZZ_TIME ?= 60
FUZZ_CHECK_TIME ?= 4
FUZZ_O = build-fuzz
FUZZ_CC ?= clang
ifeq ($(FUZZ),1)
SANFLAGS = -fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer \
           -fno-sanitize-recover=undefined
endif

$(O)/fuzz/%.o: tests/fuzz/%.c tests/fuzz/fuzz.h $(wildcard src/*.h src/core/*.h) config.mk
	@mkdir -p $(@D)
	$(quiet) "  CC      $@"
	$(Q)$(CC) $(CFLAGS_ALL) -Itests/fuzz -c -o $@ $<
$(O)/fuzz/fuzz_%: $(O)/fuzz/fuzz_%.o $(O)/fuzz/fuzz_common.o $(O)/libcore.a
	$(CC) $(LDFLAGS_ALL) -fsanitize=fuzzer -o $@ $^ -lm
$(FUZZ_GLUE:%=$(O)/fuzz/fuzz_%): $(O)/fuzz/fuzz_%: $(O)/fuzz/fuzz_%.o $(O)/fuzz/fuzz_common.o \
		$(O)/libglue.a $(O)/libcore.a
	$(CC) $(LDFLAGS_ALL) -fsanitize=fuzzer -o $@ $^ $(DAEMON_LIBS) -lm

.PRECIOUS: $(O)/fuzz/%.o
.PHONY: fuzz check-fuzz fuzz-build fuzz-seeds
fuzz-build:
	$(MAKE) O=$(FUZZ_O) FUZZ=1 CC=$(FUZZ_CC) $(FUZZ_TARGETS:%=$(FUZZ_O)/fuzz/fuzz_%)
fuzz: fuzz-build
	tests/fuzz/run $(FUZZ_O) $(FUZZ_TIME) $(FUZZ_TARGETS)
check-fuzz: fuzz-build
	tests/fuzz/run --check $(FUZZ_O) $(FUZZ_CHECK_TIME) $(FUZZ_TARGETS)
# the seeds each harness writes; saved reproducers (repro-*) stay
fuzz-seeds: fuzz-build
	for t in $(FUZZ_TARGETS); do \
	  find tests/fuzz/corpus/$$t -type f ! -name 'repro-*' -delete 2>/dev/null; \
	  $(FUZZ_O)/fuzz/fuzz_$$t --make-seeds=tests/fuzz/corpus/$$t || exit 1; done

# --- installation: binaries, manual pages, systemd units, configuration ---
# DESTDIR and prefix (and each directory) may be given on the command line.
# The files installed name the installed paths: the sources say /usr/sbin,
# /etc/omnetd, /var/lib/omnetd and /run/omnetd, as a distribution has them.
MAN5 = man/omnetd.conf.5
MAN8 = man/omnetd.8 man/omnetctl.8
UNITS = contrib/systemd/omnetd-provider.service contrib/systemd/omnetd-consumer.service \
        contrib/systemd/omnetd-relay.service
USER_UNITS = contrib/systemd/user/omnetd-provider.service
APPARMOR = contrib/apparmor/omnetd
SYSUSERS = contrib/systemd/omnet.sysusers
man5dir = $(mandir)/man5
man8dir = $(mandir)/man8
omnetconfdir = $(sysconfdir)/omnetd
# a config.mk from before these existed: the usual places
systemdsystemunitdir ?= $(prefix)/lib/systemd/system
sysusersdir ?= $(prefix)/lib/sysusers.d
systemduserunitdir ?= $(prefix)/lib/systemd/user
datadir ?= $(datarootdir)
omnetdatadir = $(datadir)/omnet
SUBST_PATHS = sed -e 's|/usr/sbin/omnetd|$(sbindir)/omnetd|g' \
  -e 's|/usr/bin/omnetctl|$(bindir)/omnetctl|g' -e 's|/etc/omnetd/|$(sysconfdir)/omnetd/|g' \
  -e 's|/var/lib/omnetd|$(localstatedir)/lib/omnetd|g' -e 's|/run/omnetd|$(runstatedir)/omnetd|g'
# install_subst SRC DEST: a file with the paths above, mode 0644
install_subst = $(SUBST_PATHS) $(1) >$(2).tmp && chmod 0644 $(2).tmp && mv -f $(2).tmp $(2)

install: $(BINS)
	$(INSTALL) -d $(DESTDIR)$(sbindir) $(DESTDIR)$(bindir) $(DESTDIR)$(man5dir) \
	  $(DESTDIR)$(man8dir) $(DESTDIR)$(omnetconfdir)
	$(INSTALL) -m 0755 $(O)/omnetd $(DESTDIR)$(sbindir)/omnetd
	$(INSTALL) -m 0755 $(O)/omnetctl $(DESTDIR)$(bindir)/omnetctl
	$(foreach f,$(MAN5),$(call install_subst,$(f),$(DESTDIR)$(man5dir)/$(notdir $(f))) &&) :
	$(foreach f,$(MAN8),$(call install_subst,$(f),$(DESTDIR)$(man8dir)/$(notdir $(f))) &&) :
	@# the example configuration is the administrator's once installed
	if [ -e $(DESTDIR)$(omnetconfdir)/omnetd.conf ]; then \
	  echo "keeping $(DESTDIR)$(omnetconfdir)/omnetd.conf"; \
	else $(call install_subst,etc/omnetd.conf,$(DESTDIR)$(omnetconfdir)/omnetd.conf); fi
ifneq ($(systemdsystemunitdir),)
	$(INSTALL) -d $(DESTDIR)$(systemdsystemunitdir)
	$(foreach f,$(UNITS),$(call install_subst,$(f),$(DESTDIR)$(systemdsystemunitdir)/$(notdir $(f))) &&) :
endif
ifneq ($(sysusersdir),)
	$(INSTALL) -d $(DESTDIR)$(sysusersdir)
	$(INSTALL) -m 0644 $(SYSUSERS) $(DESTDIR)$(sysusersdir)/omnet.conf
endif
	$(INSTALL) -d $(DESTDIR)$(systemduserunitdir) $(DESTDIR)$(omnetdatadir)/apparmor.d
	$(foreach f,$(USER_UNITS),$(call install_subst,$(f),$(DESTDIR)$(systemduserunitdir)/$(notdir $(f))) &&) :
	$(call install_subst,$(APPARMOR),$(DESTDIR)$(omnetdatadir)/apparmor.d/omnetd)

uninstall:
	rm -f $(DESTDIR)$(sbindir)/omnetd $(DESTDIR)$(bindir)/omnetctl
	rm -f $(addprefix $(DESTDIR)$(man5dir)/,$(notdir $(MAN5))) \
	  $(addprefix $(DESTDIR)$(man8dir)/,$(notdir $(MAN8)))
ifneq ($(systemdsystemunitdir),)
	rm -f $(addprefix $(DESTDIR)$(systemdsystemunitdir)/,$(notdir $(UNITS)))
endif
ifneq ($(sysusersdir),)
	rm -f $(DESTDIR)$(sysusersdir)/omnet.conf
endif
	rm -f $(addprefix $(DESTDIR)$(systemduserunitdir)/,$(notdir $(USER_UNITS))) \
	  $(DESTDIR)$(omnetdatadir)/apparmor.d/omnetd
	rmdir $(DESTDIR)$(omnetdatadir)/apparmor.d $(DESTDIR)$(omnetdatadir) 2>/dev/null || :
	@# the configuration goes only if nobody changed it
	if $(SUBST_PATHS) etc/omnetd.conf | cmp -s - $(DESTDIR)$(omnetconfdir)/omnetd.conf; then \
	  rm -f $(DESTDIR)$(omnetconfdir)/omnetd.conf; rmdir $(DESTDIR)$(omnetconfdir) 2>/dev/null || :; \
	elif [ -e $(DESTDIR)$(omnetconfdir)/omnetd.conf ]; then \
	  echo "keeping $(DESTDIR)$(omnetconfdir)/omnetd.conf: it was changed"; fi

# --- distribution ---
# dist: omnet-VERSION.tar.gz of the files git knows (tracked or not yet
# added, less what .gitignore names), or, outside git, of this unpacked
# tarball's files; with a generated configure, so that building needs no
# autoconf.  distcheck: the tarball builds, passes the unit tests, installs
# and uninstalls cleanly (DESTDIR and prefix), and makes the same tarball.
DISTNAME = omnet-$(VERSION)
dist: configure
	tests/packaging/dist "$(DISTNAME)"

distcheck: dist
	tests/packaging/distcheck "$(DISTNAME).tar.gz"

# Packages and their contents, systemd units, manual pages, configuration
# checks, distcheck.  Building and installing the .deb for real needs root.
.PHONY: check-packaging
check-packaging:
	tests/packaging/run

# The packaged units under systemd as PID 1: a Debian 12 container
# (systemd-nspawn, its root file system cached in /var/cache/omnet-tests)
# with the .deb installed.  Needs root.
.PHONY: check-systemd
check-systemd:
	tests/packaging/systemd

clean:
	rm -rf $(O)

distclean: clean
	rm -rf config.mk config.log config.status autom4te.cache configure
