# SPDX-License-Identifier: GPL-2.0-only
#
# A KVM host kernel for the VM runner.
#
#   make kernel [VARIANT=exact|round-down] [CONFIG_EXTRA='FILE|CONFIG_X=y ...']
#               [KMAKE_FLAGS='W=1']
#                   Debian's BASE_KVER source, the variant's patches from
#                   kernel/patches (listed in kernel/patches/series) and
#                   kernel/config/kvm-host.config on top of tinyconfig;
#                   the last line printed is the bzImage's path.  Cached
#                   by source version, patches and config under
#                   $(BUILD)/kernel; a change rebuilds incrementally,
#                   and so does the other variant (one source, one O=).
#   make kernel-ci  what CI checks: both variants built, the selftest in
#                   each with set_clock_guest run and passed in that
#                   variant's mode (a skip fails), their figures side by
#                   side, and the no-master-clock boot (clocksource=hpet)
#   make kernel-patch [KERNEL_PATCH_OUT=dir]
#                   the three patches of variant exact and
#                   pvclock_clock_guest_test as an RFC series with a cover
#                   letter (build/kernel-patch), based on Debian's
#                   BASE_KVER source plus the selftest series (make patch,
#                   written to build/kernel-patch/base): checkpatch
#                   --strict clean, the selftest series and then the RFC
#                   applied with git am to a fresh copy of Debian's files,
#                   3/4 also with 1/4 alone, the kernel built after each
#                   kernel patch and the KVM selftests after 4/4

VARIANT ?= exact
CONFIG_EXTRA ?=
KMAKE_FLAGS ?=

.PHONY: kernel kernel-ci kernel-patch

#: make kernel [VARIANT=exact|round-down] [CONFIG_EXTRA=...]  the project's KVM
#:                    host kernel (Debian $(BASE_KVER) + kernel/patches); prints its bzImage
kernel:
	@BUILD=$(BUILD) scripts/build-kernel.sh --variant '$(VARIANT)' \
		$(if $(strip $(CONFIG_EXTRA)),--config-extra '$(CONFIG_EXTRA)') \
		$(if $(strip $(KMAKE_FLAGS)),--make-flags '$(KMAKE_FLAGS)')

#: make kernel-patch  the kernel patches and their test as an RFC series
kernel-patch:
	@BUILD=$(BUILD) scripts/kernel-patch.sh $(if $(KERNEL_PATCH_OUT),$(KERNEL_PATCH_OUT))

#: make kernel-ci     both variants built, the selftest run inside each
kernel-ci:
	@tests/run.sh "project kernel" "env BUILD=$(BUILD) scripts/kernel-ci.sh"

CI_SUITES += "project kernel" "env BUILD=$(BUILD) scripts/kernel-ci.sh"
