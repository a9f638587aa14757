# SPDX-License-Identifier: GPL-2.0-only
#
# The VM runner (vm/vm-run.sh): a kernel booted in QEMU, KVM inside it.
#
#   make vm-run [KERNEL=debian-X.Y|path/to/bzImage] (default debian-$(BASE_KVER))
#		[MODULES=dir] [ACCEL=auto|kvm|tcg] [APPEND='params']
#		[TEST=NAME] [ONLY=subtest,...] [RUN_ARGS='test options']
#	run the tests (SELFTEST_PROGS, the build that matches the kernel)
#	inside, in one boot: all of them; TEST=NAME that one alone; ONLY
#	the named subtests, wherever they live.  Each option of RUN_ARGS
#	goes to the selected tests that take it (--only in it is ONLY).
#	make's own exit code is 2 for any failure; its "Error N" is the
#	runner's (vm/vm-run.sh: 4 when every subtest skipped, ...)
#   make tree-test [KVER=6.1] [TREE_TEST=x86/kvm_clock_test]
#	one of the tree's own KVM selftests, static, for the runner
#   make vm-selftest
#	the runner's own tests (tests/test_vm.sh), real boots

KERNEL ?= debian-$(BASE_KVER)
ACCEL ?= auto
TEST ?=
ONLY ?=
# x86/ from 6.14 on, x86_64/ before.
TREE_TEST ?= $(if $(wildcard $(KTREE)/tools/testing/selftests/kvm/x86/.),x86,x86_64)/kvm_clock_test

.PHONY: vm-run tree-test vm-selftest debian-versions

#: make vm-run [KERNEL=debian-X.Y|bzImage] [TEST=NAME] [ONLY=a,b] [RUN_ARGS=...]
#:                    run the tests inside a kernel booted in QEMU (KVM inside), in one
#:                    boot: all (default debian-$(BASE_KVER)), one (TEST), or subtests (ONLY)
vm-run:
	@scripts/vm-run.sh --kernel '$(KERNEL)' --accel '$(ACCEL)' \
		$(if $(MODULES),--modules '$(MODULES)') \
		$(if $(APPEND),--append '$(APPEND)') \
		$(if $(strip $(TEST)),--test '$(strip $(TEST))') \
		$(if $(strip $(ONLY)),--only '$(strip $(ONLY))') \
		-- $(RUN_ARGS)

#: make tree-test [TREE_TEST=x86/kvm_clock_test]  one of the tree's tests, static
#: make debian-versions  the kernel series Debian's suites carry (sources, kernels)
tree-test:
	@$(KTREE_CMD) >/dev/null
	$(MAKE) -C $(KTREE)/tools/testing/selftests/kvm \
		-f $(PVC_ROOT)/scripts/kvm-standalone.mk \
		$(KSELFTEST_VARS) TEST_GEN_PROGS_x86_64=$(TREE_TEST) \
		TEST_GEN_PROGS_x86=$(TREE_TEST) $(KOUT)/$(TREE_TEST)
	@echo "tree-test: $(KOUT)/$(TREE_TEST)"

debian-versions:
	@BUILD=$(BUILD) scripts/debian-versions.sh

#: make vm-selftest   the VM runner against real boots
vm-selftest:
	@tests/run.sh "vm runner" "env BUILD=$(BUILD) tests/test_vm.sh"

CI_SUITES += "vm runner" "env BUILD=$(BUILD) tests/test_vm.sh"
