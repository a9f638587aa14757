# SPDX-License-Identifier: GPL-2.0-only
#
# pvclock_ref and pvclock_drift_test.  `make help` lists the targets: each
# has one "#: make TARGET ..." comment above its rule, which help prints.

# BASE_KVER (today's upstream as Debian ships it) and the other versions.
include mk/versions.conf

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

.PHONY: all host check test bench help clean

.DEFAULT_GOAL := all
#: make [all]         the host tool and the selftest
all: host selftest

#: make host          build the host tool build/pvclock-ref
host: $(BUILD)/pvclock-ref

$(BUILD)/pvclock-ref: tools/pvclock-ref.c $(LIB_SRC) $(LIB_HDR)
	@mkdir -p $(@D)
	$(CC) $(HOST_CFLAGS) -o $@ tools/pvclock-ref.c $(LIB_SRC)

# Timings: median per call of each method, on this machine.
$(BUILD)/bench: bench/bench.c tests/check.h tests/model.h tools/sweep_rates.h \
		$(LIB_SRC) $(LIB_HDR)
	@mkdir -p $(@D)
	$(CC) $(HOST_CFLAGS) -o $@ bench/bench.c $(LIB_SRC)

#: make bench         time the methods (median ns per call)
bench: $(BUILD)/bench
	$(BUILD)/bench

# Each fragment may add suites to CI_SUITES: pairs of a name and a command
# that prints TAP, run by `make test` after the host tests.
CI_SUITES := "make help" "tests/test_make_help.sh" \
	     "selftest" "env BUILD=$(BUILD) scripts/selftest-ci.sh" \
	     "subtests" "env BUILD=$(BUILD) tests/test_subtests.sh"
-include $(sort $(wildcard mk/*.mk))

# The README's test command, and what CI runs: the host tests, then the
# selftest built against both Debian trees, installed into a fresh copy of
# one and built and run there, and run on this machine's KVM.
#: make test          everything CI runs: the test command (make check, the selftest,
#:                    the VM runner, the project's kernel, fuzz, checkpatch, ...)
test: $(CHECK_PROGS)
	@tests/run.sh $(CHECK_SUITES) $(CI_SUITES)

#: make help          this list
help:
	@sed -n 's/^#: \{0,1\}//p' $(MAKEFILE_LIST) | sed 's/\$$(BASE_KVER)/$(BASE_KVER)/g'

#: make clean         remove build/ (the cached trees, kernels and images too)
clean:
	rm -rf $(BUILD)
