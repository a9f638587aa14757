# SPDX-License-Identifier: GPL-2.0-only
#
# pvclock_ref and pvclock_drift_test.  `make help` lists the targets.

CC ?= cc
BUILD := build
# Guest code on these machines is run by KVM's instruction emulator, which
# cannot execute SSE: nothing here may use anything but general registers.
NOFP_CFLAGS := -mgeneral-regs-only
WARN_CFLAGS := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wvla
HOST_CFLAGS := -std=gnu11 -O2 -g $(WARN_CFLAGS) $(if $(WERROR),-Werror) $(NOFP_CFLAGS) \
	       -Iinclude $(EXTRA_CFLAGS)
SAN_CFLAGS := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer

LIB_SRC := lib/pvclock_ref.c
LIB_HDR := include/pvclock_ref.h
# The restore routine: host code on top of the library.
RESTORE_SRC := lib/pvclock_restore.c
RESTORE_HDR := include/pvclock_restore.h

.PHONY: all host check test bench help

.DEFAULT_GOAL := all
all: host selftest

host: $(BUILD)/pvclock-ref

$(BUILD)/pvclock-ref: tools/pvclock-ref.c $(LIB_SRC) $(LIB_HDR)
	@mkdir -p $(@D)
	$(CC) $(HOST_CFLAGS) -o $@ tools/pvclock-ref.c $(LIB_SRC)

# Timings: median per call of each method, on this machine.
$(BUILD)/bench: bench/bench.c tests/check.h $(LIB_SRC) $(LIB_HDR)
	@mkdir -p $(@D)
	$(CC) $(HOST_CFLAGS) -o $@ bench/bench.c $(LIB_SRC)

bench: $(BUILD)/bench
	$(BUILD)/bench

# Each fragment may add suites to CI_SUITES: pairs of a name and a command
# that prints TAP, run by `make test` after the host tests.
CI_SUITES := "selftest" "env BUILD=$(BUILD) scripts/selftest-ci.sh"
-include $(sort $(wildcard mk/*.mk))

# The README's test command, and what CI runs: the host tests, then the
# selftest built against both Debian trees, installed into a fresh copy of
# one and built and run there, and run on this machine's KVM.
test: $(CHECK_PROGS)
	@tests/run.sh $(CHECK_SUITES) $(CI_SUITES)

help:
	@echo 'make host          build the host tool $(BUILD)/pvclock-ref'
	@echo 'make check         build and run the host tests (plain and sanitized)'
	@echo 'make test          everything CI runs (make check, and the selftest)'
	@echo 'make bench         time the methods (median ns per call)'
	@echo 'make restore-record [RECORD_ARGS=...]  KVM_SET_CLOCK figures of this KVM'
	@echo 'make fuzz [FUZZ_SECONDS=60]  libFuzzer over the library against models'
	@echo 'make badinput      bad command lines for both programs'
	@echo 'make checkpatch    the kernel checkpatch.pl on every .c and .h'
	@echo 'make stability [RUNS=200]    the whole selftest RUNS times in a row'
	@echo 'make patch KSRC=dir          a format-patch series of three against dir'
	@echo 'make patch-check   the series is strict-clean, applies and builds (6.1/6.12/6.14+)'
	@echo 'make bisect-selftest         the bisect helper (fake test, real boots)'
	@echo 'make [KSRC=dir|KVER=6.1]  build $(BUILD)/pvclock_drift_test against a kernel tree'
	@echo 'make run           build and run the selftest on this machine'
	@echo 'make vm-run [KERNEL=debian-6.12|debian-6.1|bzImage] [RUN_ARGS=...]'
	@echo '                   run it inside a kernel booted in QEMU (KVM inside)'
	@echo 'make tree-test [TREE_TEST=x86_64/kvm_clock_test]  a tree test, static'
	@echo 'make vm-selftest   the VM runner against real boots'
	@echo 'make kernel [VARIANT=exact|round-down] [CONFIG_EXTRA=...]  the project'"'"'s KVM'
	@echo '                   host kernel (Debian 6.12 + kernel/patches); prints its bzImage'
	@echo 'make kernel-ci     both variants built, the selftest run inside each'
	@echo 'make kernel-patch  the two kernel patches as an RFC series with a cover letter'
	@echo 'make bisect-demo [SEED=N] [DRIFT=PPB] [THRESHOLD=PPB]  a drift regression'
	@echo '                   injected into KVM, bisected by building and booting kernels'
	@echo 'make install|uninstall KSRC=dir  add the test to (remove it from) a tree'
