# lunar: userspace SCSI target. `make run` serves a demo LUN, `make check`
# runs every test. SANITIZE=1 builds with ASan+UBSan (into the same build/,
# rebuilt when the flags change).
CC ?= cc
BUILD ?= build
SANITIZE ?= 0

CFLAGS := -std=gnu11 -O2 -g -Wall -Wextra -Werror -Wshadow -Wno-unused-parameter \
	-Isrc -D_GNU_SOURCE -pthread -MMD -MP
LDLIBS := -ljansson -lisal -lnettle -pthread
ifeq ($(SANITIZE),1)
CFLAGS += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
LDFLAGS += -fsanitize=address,undefined
endif
# FUZZ=1 (set by `make fuzz-build`, with CC=clang): libFuzzer coverage and
# ASan+UBSan on the library; the harness links libFuzzer's main.
FUZZ_SAN := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
ifeq ($(FUZZ),1)
CFLAGS += -fsanitize=fuzzer-no-link $(FUZZ_SAN)
endif
FUZZ_BUILD ?= $(BUILD)-fuzz
FUZZ_SECONDS ?= 300

LIB_SRCS := $(sort $(wildcard src/util/*.c src/event/*.c src/bs/*.c src/scsi/*.c \
	src/iscsi/*.c src/mgmt/*.c))
# Stores that need an outside library are built when it is there. Debian
# 12's librbd-dev and librados-dev ship no pkg-config files, so the
# headers are what is looked for; scripts/deps.sh installs them.
HAVE_RBD := $(shell printf '\043include <rbd/librbd.h>\n' | $(CC) -E -x c - >/dev/null 2>&1 && echo 1)
ifeq ($(HAVE_RBD),1)
LDLIBS += -lrbd -lrados
else
LIB_SRCS := $(filter-out src/bs/rbd.c,$(LIB_SRCS))
endif
# io_uring through liburing (pkg-config), Linux AIO through libaio (no
# pkg-config file in Debian 12: the header).
HAVE_URING := $(shell pkg-config --exists liburing 2>/dev/null && echo 1)
ifeq ($(HAVE_URING),1)
CFLAGS += $(shell pkg-config --cflags liburing)
LDLIBS += $(shell pkg-config --libs liburing)
else
LIB_SRCS := $(filter-out src/bs/uring.c,$(LIB_SRCS))
endif
HAVE_AIO := $(shell printf '\043include <libaio.h>\n' | $(CC) -E -x c - >/dev/null 2>&1 && echo 1)
ifeq ($(HAVE_AIO),1)
LDLIBS += -laio
else
LIB_SRCS := $(filter-out src/bs/aio.c,$(LIB_SRCS))
endif
# The Prometheus endpoint (lunard --metrics) through libmicrohttpd
# (pkg-config); without it --metrics says what to install.
HAVE_MHD := $(shell pkg-config --exists libmicrohttpd 2>/dev/null && echo 1)
ifeq ($(HAVE_MHD),1)
CFLAGS += -DLUNAR_HAVE_MHD $(shell pkg-config --cflags libmicrohttpd)
LDLIBS += $(shell pkg-config --libs libmicrohttpd)
endif
# sd_notify(3) readiness and journal logging through libsystemd
# (pkg-config); without it lunard never notifies and logs to stderr/syslog.
HAVE_SYSTEMD := $(shell pkg-config --exists libsystemd 2>/dev/null && echo 1)
ifeq ($(HAVE_SYSTEMD),1)
CFLAGS += -DLUNAR_HAVE_SYSTEMD $(shell pkg-config --cflags libsystemd)
LDLIBS += $(shell pkg-config --libs libsystemd)
endif
LIB_OBJS := $(LIB_SRCS:%.c=$(BUILD)/%.o)
UNIT_SRCS := $(sort $(wildcard tests/unit/test_*.c))
ifneq ($(HAVE_RBD),1)
UNIT_SRCS := $(filter-out tests/unit/test_rbd.c,$(UNIT_SRCS))
endif
UNIT_BINS := $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/tests/%)
ITEST_SRCS := $(sort $(wildcard tests/integration/*.c))
ITEST_BINS := $(ITEST_SRCS:tests/integration/%.c=$(BUILD)/tests/%)

.PHONY: install uninstall all deps run gateways check conformance bench clean format unit itest fuzz fuzz-build
all: deps $(BUILD)/lunard $(BUILD)/lunarctl

deps:
	@scripts/deps.sh build

# Rebuild everything when the flags change (SANITIZE=1 vs not).
$(BUILD)/.flags: FORCE
	@mkdir -p $(BUILD)
	@echo '$(CC) $(CFLAGS) $(LDFLAGS)' | cmp -s - $@ || echo '$(CC) $(CFLAGS) $(LDFLAGS)' > $@
FORCE:

$(BUILD)/%.o: %.c $(BUILD)/.flags
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c -o $@ $<

$(BUILD)/liblunar.a: $(LIB_OBJS)
	rm -f $@
	ar rcs $@ $^

# --whole-archive: stores, device types and transports register themselves
# from constructors, which nothing references by name.
$(BUILD)/lunard: $(BUILD)/src/lunard.o $(BUILD)/liblunar.a
	$(CC) $(LDFLAGS) -o $@ $< -Wl,--whole-archive $(BUILD)/liblunar.a -Wl,--no-whole-archive $(LDLIBS)

# The tape cartridge format is lunard's and lunarctl's (tape create).
$(BUILD)/lunarctl: $(BUILD)/tools/lunarctl.o $(BUILD)/tools/lunarctl_tgtadm.o \
		$(BUILD)/tools/lunarctl_stats.o \
		$(BUILD)/tools/lunarctl_import.o $(BUILD)/tools/tgt_conf.o \
		$(BUILD)/src/scsi/ssc_format.o $(BUILD)/src/util/file.o
	$(CC) $(LDFLAGS) -o $@ $^ -ljansson -lisal

$(BUILD)/tests/test_%: $(BUILD)/tests/unit/test_%.o $(BUILD)/liblunar.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $< $(BUILD)/liblunar.a $(LDLIBS) -lcmocka

# lunarctl import-tgt's reader and mapping live in tools/ (lunarctl's).
$(BUILD)/tests/test_import_tgt: $(BUILD)/tests/unit/test_import_tgt.o \
		$(BUILD)/tools/tgt_conf.o $(BUILD)/liblunar.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $(filter %.o,$^) $(BUILD)/liblunar.a $(LDLIBS) -lcmocka

# Integration programs are libiscsi clients: without -Isrc, so that
# <iscsi/iscsi.h> is libiscsi's header and not src/iscsi/iscsi.h.
# They are test clients, not code under test: never built with sanitizers
# (a client's own leak on an error path must not fail a daemon test).
$(BUILD)/tests/integration/%.o: CFLAGS := $(filter-out -Isrc -fsanitize=% -fno-sanitize-recover=%,$(CFLAGS))
$(BUILD)/tests/%: $(BUILD)/tests/integration/%.o
	@mkdir -p $(dir $@)
	$(CC) -o $@ $< -liscsi -pthread

# The fuzzing harness (tests/fuzz/) and its seed writer; the latter is a
# plain program (no fuzzer instrumentation, no -Isrc, like the clients).
$(BUILD)/fuzz/fuzz_iscsi: $(BUILD)/tests/fuzz/fuzz_iscsi.o $(BUILD)/liblunar.a
	@mkdir -p $(dir $@)
	$(CC) -fsanitize=fuzzer $(FUZZ_SAN) -o $@ $< -Wl,--whole-archive $(BUILD)/liblunar.a -Wl,--no-whole-archive $(LDLIBS)
# fuzz_formats also reads tgt configurations (lunarctl import-tgt's reader).
$(BUILD)/tests/fuzz/fuzz_formats.o: CFLAGS += -Itools
$(BUILD)/fuzz/fuzz_formats: $(BUILD)/tests/fuzz/fuzz_formats.o \
		$(BUILD)/tools/tgt_conf.o $(BUILD)/liblunar.a
	@mkdir -p $(dir $@)
	$(CC) -fsanitize=fuzzer $(FUZZ_SAN) -o $@ $(filter %.o,$^) -Wl,--whole-archive $(BUILD)/liblunar.a -Wl,--no-whole-archive $(LDLIBS)
$(BUILD)/tests/fuzz/fuzz_seeds.o: CFLAGS := $(filter-out -Isrc -fsanitize=% -fno-sanitize-recover=%,$(CFLAGS))
$(BUILD)/fuzz/fuzz_seeds: $(BUILD)/tests/fuzz/fuzz_seeds.o
	@mkdir -p $(dir $@)
	$(CC) -o $@ $<

unit: all $(UNIT_BINS)
itest: all $(ITEST_BINS)

# deps first, then a make that sees what deps installed (HAVE_RBD).
run:
	@scripts/deps.sh build
	@$(MAKE) --no-print-directory all
	@scripts/run-demo.sh

# Two gateways in front of one Ceph RBD image (README, Several gateways).
gateways:
	@scripts/deps.sh test
	@$(MAKE) --no-print-directory all
	@scripts/gateways-demo.sh

check:
	@scripts/deps.sh test
	@$(MAKE) --no-print-directory all $(UNIT_BINS) $(ITEST_BINS)
	@$(MAKE) --no-print-directory fuzz-build
	@FUZZ_BUILD=$(FUZZ_BUILD) tests/run.sh

# Coverage-guided fuzzing of the iSCSI port (README, Tests): builds
# with clang into $(FUZZ_BUILD) and fuzzes for FUZZ_SECONDS, keeping the
# corpus in $(FUZZ_BUILD)/fuzz/corpus between runs.
fuzz-build:
	@scripts/deps.sh fuzz
	@$(MAKE) --no-print-directory BUILD=$(FUZZ_BUILD) CC=clang FUZZ=1 \
		$(FUZZ_BUILD)/fuzz/fuzz_iscsi $(FUZZ_BUILD)/fuzz/fuzz_formats \
		$(FUZZ_BUILD)/fuzz/fuzz_seeds

fuzz: fuzz-build
	@FUZZ_BUILD=$(FUZZ_BUILD) tests/fuzz/run.sh --seconds $(FUZZ_SECONDS)

# libiscsi's iscsi-test-cu over a matrix of LU configurations; writes
# docs/conformance.md after a complete run. make check runs it too (as the
# test "conformance" of tests/run.sh).
conformance: all
	@scripts/deps.sh test
	@BUILD=$(BUILD) tests/conformance/run.sh

# The load tools of make bench (bench/*.c: session storms, the floor).
BENCH_BINS := $(patsubst bench/%.c,$(BUILD)/bench/%,$(wildcard bench/*.c))
$(BUILD)/bench/%: bench/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $<

bench: all
	@scripts/deps.sh bench
	@$(MAKE) --no-print-directory $(BENCH_BINS)
	@BUILD=$(BUILD) bench/run.sh

# make install [PREFIX=/usr/local] [DESTDIR=]: both programs in sbin (they
# are the administrator's: lunarctl needs the root-only control socket),
# man pages, and the systemd unit. The unit goes where systemd looks for
# it: Debian's own /lib/systemd/system for PREFIX=/usr (pkg-config systemd,
# systemdsystemunitdir), $(PREFIX)/lib/systemd/system otherwise (in
# systemd's search path for /usr/local). /etc/lunar is made but a config
# in it is never written or overwritten: lunarctl config save makes it.
PREFIX ?= /usr/local
SBINDIR ?= $(PREFIX)/sbin
MANDIR ?= $(PREFIX)/share/man
ifeq ($(PREFIX),/usr)
UNITDIR ?= /lib/systemd/system
else
UNITDIR ?= $(PREFIX)/lib/systemd/system
endif
MAN5 := man/lunar.json.5
MAN8 := man/lunard.8 man/lunarctl.8

$(BUILD)/lunard.service: systemd/lunard.service.in FORCE
	@mkdir -p $(dir $@)
	@sed 's|@SBINDIR@|$(SBINDIR)|g' $< | cmp -s - $@ || \
		sed 's|@SBINDIR@|$(SBINDIR)|g' $< > $@

install: $(BUILD)/lunard $(BUILD)/lunarctl $(BUILD)/lunard.service
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(MANDIR)/man5 \
		$(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(UNITDIR)
	install -m 0755 $(BUILD)/lunard $(BUILD)/lunarctl $(DESTDIR)$(SBINDIR)/
	install -m 0644 $(MAN5) $(DESTDIR)$(MANDIR)/man5/
	install -m 0644 $(MAN8) $(DESTDIR)$(MANDIR)/man8/
	install -m 0644 $(BUILD)/lunard.service $(DESTDIR)$(UNITDIR)/lunard.service
	install -d -m 0755 $(DESTDIR)/etc/lunar
	@if [ -z "$(DESTDIR)" ] && command -v systemctl >/dev/null && \
	    [ -d /run/systemd/system ]; then systemctl daemon-reload; fi

uninstall:
	rm -f $(DESTDIR)$(SBINDIR)/lunard $(DESTDIR)$(SBINDIR)/lunarctl
	rm -f $(addprefix $(DESTDIR)$(MANDIR)/man5/,$(notdir $(MAN5)))
	rm -f $(addprefix $(DESTDIR)$(MANDIR)/man8/,$(notdir $(MAN8)))
	rm -f $(DESTDIR)$(UNITDIR)/lunard.service
	@echo "kept /etc/lunar and /var/lib/lunar (configuration and state)"

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf $(BUILD) $(FUZZ_BUILD)

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
