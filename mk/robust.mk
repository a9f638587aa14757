# SPDX-License-Identifier: GPL-2.0-only
#
# Robustness and the kernel's process.
#
#   make fuzz [FUZZ_SECONDS=60]   libFuzzer over the library against models
#   make badinput                 bad options for the tool (asan+ubsan) and
#                                 each test
#   make checkpatch               the kernel's checkpatch.pl on every .c/.h
#   make stability [RUNS=200] [RUN_ARGS=...]
#                                 all the tests RUNS times in a row on this
#                                 machine (--only in RUN_ARGS: those subtests)
#   make patch KSRC=dir           a format-patch series of three against dir
#   make patch-check [PATCH_KVERS="6.1 6.12 $(BASE_KVER)"]
#                                 the series against each Debian tree is
#                                 checkpatch --strict clean, applies with git
#                                 am to a fresh copy and builds after every
#                                 patch ($(BASE_KVER) has the x86/ layout of
#                                 6.14 on)
#   make bisect-selftest          the bisect helper's exit-code mapping
#
# CI runs fuzz (60 s), badinput, checkpatch, patch-check on 6.12 and
# $(BASE_KVER) (the x86_64/ and x86/ layouts) and bisect-selftest; stability
# needs this machine's KVM to itself.

FUZZ_SECONDS ?= 60
RUNS ?= 200
PATCH_KVERS ?= 6.1 6.12 $(BASE_KVER)

.PHONY: fuzz badinput checkpatch stability patch patch-check bisect-selftest

# The selftest's option parser on the host, with no kernel tree.
$(BUILD)/san/test_opts: tests/test_opts.c lib/x86/pvclock_drift_opts.c \
			include/x86/pvclock_drift.h $(LIB_HDR)
	@mkdir -p $(@D)
	$(CC) $(HOST_CFLAGS) -Iinclude/x86 $(SAN_CFLAGS) -o $@ tests/test_opts.c lib/x86/pvclock_drift_opts.c

BADINPUT_SUITES := \
	"selftest options (asan+ubsan)" "$(BUILD)/san/test_opts" \
	"tool bad input (asan+ubsan)" \
		"tests/test_badinput.sh tool $(BUILD)/san/pvclock-ref" \
	"selftest bad input" \
		"tests/test_badinput.sh selftest $(BUILD)/kvm-$(BASE_KVER)"

#: make badinput      bad command lines for the tool and each test
badinput: $(BUILD)/san/test_opts $(BUILD)/san/pvclock-ref
	@tests/run.sh $(BADINPUT_SUITES)

test: $(BUILD)/san/test_opts

# With real boots of Debian's 6.12 kernel through the VM runner, and the
# 6.1 build of the test, the one to bisect with across v6.8.
#: make bisect-selftest  the bisect helper (fake test, real boots)
bisect-selftest:
	@tests/run.sh "bisect helper" \
		"tests/test_bisect.sh $(BUILD)/kvm-6.1/pvclock_drift_test debian-6.12"

#: make patch KSRC=dir   a format-patch series of three against dir
patch:
	@if [ -z "$(strip $(KSRC))" ]; then \
		echo "make patch: KSRC=/path/to/linux is required" >&2; exit 1; \
	fi
	@BUILD=$(BUILD) scripts/make-patch.sh $(KSRC) $(if $(PATCH_OUT),$(PATCH_OUT))

#: make patch-check   the series is strict-clean, applies and builds (6.1/6.12/$(BASE_KVER))
patch-check:
	@tests/run.sh "patch series" "env BUILD=$(BUILD) scripts/patch-check.sh $(PATCH_KVERS)"

#: make stability [RUNS=200]  all the tests RUNS times in a row on this machine
stability: selftest
	@BUILD=$(BUILD) scripts/stability.sh --test $(KOUT) --out $(BUILD)/stability \
		$(RUNS) $(if $(strip $(RUN_ARGS)),-- $(RUN_ARGS))

#: make fuzz [FUZZ_SECONDS=60]  libFuzzer over the library against the model
fuzz:
	@BUILD=$(BUILD) fuzz/run.sh $(FUZZ_SECONDS)

#: make checkpatch    the kernel checkpatch.pl on every .c and .h
checkpatch:
	@BUILD=$(BUILD) scripts/checkpatch.sh

CI_SUITES += $(BADINPUT_SUITES) \
	"bisect helper" "tests/test_bisect.sh $(BUILD)/kvm-6.1/pvclock_drift_test debian-6.12" \
	"fuzz" "env BUILD=$(BUILD) fuzz/run.sh 60" \
	"checkpatch" "env BUILD=$(BUILD) scripts/checkpatch.sh" \
	"patch series (6.12, $(BASE_KVER))" \
		"env BUILD=$(BUILD) scripts/patch-check.sh 6.12 $(BASE_KVER)"
