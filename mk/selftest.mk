# SPDX-License-Identifier: GPL-2.0-only
#
# The KVM selftests (SELFTEST_PROGS: x86_64/NAME.c each) against a kernel
# tree.
#
#   make selftest            build each against Debian's linux-source-$(BASE_KVER)
#                            (mk/versions.conf), fetched and cached under
#                            $(BUILD)/trees on first use
#   make selftest KVER=6.1   the same with linux-source-6.1 (any X.Y that
#                            Debian's suites carry: make debian-versions)
#   make selftest KSRC=dir   against a tree of your own (make headers is run
#                            in it when usr/include is missing)
#   make run [TEST=..] [ONLY=..] [RUN_ARGS=...]  build, then run the tests
#                            on this machine's KVM, selected as make vm-run
#                            selects them
#   make install KSRC=dir    add the tests to dir's KVM selftests
#   make uninstall KSRC=dir  take them out again
#   make selftest-ci         what CI checks (scripts/selftest-ci.sh): the
#                            three Debian trees, install into fresh 7.3 and
#                            6.12 copies, their own build and runner,
#                            uninstall, every program on this machine's KVM
#                            and in Debian's 7.3, 6.12 and 6.1 kernels
#
# The tree is only read: objects go to $(BUILD)/kvm-*.  Its selftest library
# is compiled with -mgeneral-regs-only here, because guest code (library and
# test) may be run by KVM's instruction emulator, which has no SSE.

PVC_ROOT := $(abspath $(dir $(lastword $(MAKEFILE_LIST)))..)
# Every test program the project builds, by name (x86_64/NAME.c), in the
# selftest's build folder ($(KOUT)): the one list of them.  make selftest
# builds each, and the LAVA job runs each (mk/lava.mk).
SELFTEST_PROGS := pvclock_drift_test pvclock_restore_test pvclock_clock_guest_test
KVER ?= $(BASE_KVER)
KTREES := $(abspath $(BUILD))/trees
RUN_ARGS ?=

ifeq ($(strip $(KSRC)),)
KTREE := $(KTREES)/linux-$(KVER)
KOUT := $(abspath $(BUILD))/kvm-$(KVER)
KTREE_CMD := $(PVC_ROOT)/scripts/get-tree.sh $(KVER) $(KTREES)
else
KTREE := $(abspath $(KSRC))
KOUT := $(abspath $(BUILD))/kvm-ksrc$(subst /,_,$(KTREE))
KTREE_CMD := $(PVC_ROOT)/scripts/get-tree.sh --headers $(KTREE)
endif

# The default tree's programs, and those of a tree given by KSRC, are also
# left at $(BUILD)/NAME (build/pvclock_drift_test, ...), where scripts look
# for them; another KVER keeps its own in $(KOUT) alone.
ifeq ($(strip $(KSRC))$(KVER),$(BASE_KVER))
SELFTEST_COPIES := $(abspath $(BUILD))
else ifneq ($(strip $(KSRC)),)
SELFTEST_COPIES := $(abspath $(BUILD))
else
SELFTEST_COPIES :=
endif
SELFTEST_BIN := $(KOUT)/pvclock_drift_test

# Static, so that the same binary runs in the VM runner's initramfs, which
# has no C library (-static reaches the link through the tree's CFLAGS).
# Empty the tree's own test lists (one name stays, so that its Makefile's
# mkdir has an operand; nothing builds it): only the library and this test
# are compiled.  Both the x86_64/ and the x86/ (6.14+) names are given.
KSELFTEST_VARS := \
	PVCLOCK_SRC=$(PVC_ROOT) OUTPUT=$(KOUT) \
	TEST_GEN_PROGS_x86_64=x86_64/kvm_clock_test \
	TEST_GEN_PROGS_x86=x86/kvm_clock_test \
	TEST_GEN_PROGS_COMMON= \
	TEST_PROGS_x86_64= TEST_PROGS_x86= \
	TEST_GEN_PROGS_EXTENDED_x86_64= TEST_GEN_PROGS_EXTENDED_x86= \
	EXTRA_CFLAGS="-mgeneral-regs-only -static $(EXTRA_CFLAGS)"

.PHONY: selftest run install uninstall selftest-clean selftest-ci

#: make selftest [KSRC=dir|KVER=6.1]  build the tests (build/pvclock_drift_test, ...)
#:                    against a tree (default: Debian's $(BASE_KVER) source)
selftest:
	@$(KTREE_CMD) >/dev/null
	@mkdir -p $(KOUT)
	$(MAKE) -C $(KTREE)/tools/testing/selftests/kvm \
		-f $(PVC_ROOT)/scripts/kvm-standalone.mk \
		$(KSELFTEST_VARS) PVC_TESTS="$(SELFTEST_PROGS)" \
		pvclock-tests pvc-runner-test
	@if [ -n "$(SELFTEST_COPIES)" ]; then \
		for p in $(SELFTEST_PROGS); do \
			cmp -s $(KOUT)/$$p $(SELFTEST_COPIES)/$$p || \
				cp $(KOUT)/$$p $(SELFTEST_COPIES)/$$p || exit 1; \
		done; \
	fi
	@echo "selftest: $(SELFTEST_PROGS) in $(or $(SELFTEST_COPIES),$(KOUT)) (built against $(KTREE))"

#: make run [TEST=NAME] [ONLY=a,b] [RUN_ARGS=...]  build, then run the tests
#:                    on this machine's KVM, selected as make vm-run selects them
run: selftest
	@$(PVC_ROOT)/scripts/vm-run.sh --no-vm --build '$(KOUT)' \
		$(if $(strip $(TEST)),--test '$(strip $(TEST))') \
		$(if $(strip $(ONLY)),--only '$(strip $(ONLY))') \
		-- $(RUN_ARGS)

#: make install KSRC=dir    add the tests to a tree's KVM selftests
#: make uninstall KSRC=dir  take it out again
install uninstall:
	@if [ -z "$(strip $(KSRC))" ]; then \
		echo "make $@: KSRC=/path/to/linux is required" >&2; exit 1; \
	fi
	@$(PVC_ROOT)/scripts/install.sh $@ $(KTREE) $(PVC_ROOT)

#: make selftest-clean  remove one tree's selftest build
selftest-clean:
	rm -rf $(KOUT) $(if $(SELFTEST_COPIES),$(addprefix $(SELFTEST_COPIES)/,$(SELFTEST_PROGS)))

#: make selftest-ci   what CI checks of the selftests (three trees, install, VMs)
selftest-ci:
	@BUILD=$(BUILD) $(PVC_ROOT)/scripts/selftest-ci.sh
