# SPDX-License-Identifier: GPL-2.0-only
#
# A KVM host kernel for the VM runner.
#
#   make kernel [VARIANT=exact|round-down] [CONFIG_EXTRA='FILE|CONFIG_X=y ...']
#               [KMAKE_FLAGS='W=1']
#                   Debian's 6.12 source, the variant's patches from
#                   kernel/patches (listed in kernel/patches/series) and
#                   kernel/config/kvm-host.config on top of tinyconfig;
#                   the last line printed is the bzImage's path.  Cached
#                   by source version, patches and config under
#                   $(BUILD)/kernel; a change rebuilds incrementally.
#   make kernel-ci  what CI checks: that kernel built, the selftest inside
#                   it with set_clock_guest run and passed (a skip fails),
#                   and the no-master-clock boot (clocksource=hpet)

VARIANT ?= exact
CONFIG_EXTRA ?=
KMAKE_FLAGS ?=

.PHONY: kernel kernel-ci

kernel:
	@BUILD=$(BUILD) scripts/build-kernel.sh --variant '$(VARIANT)' \
		$(if $(strip $(CONFIG_EXTRA)),--config-extra '$(CONFIG_EXTRA)') \
		$(if $(strip $(KMAKE_FLAGS)),--make-flags '$(KMAKE_FLAGS)')

kernel-ci:
	@tests/run.sh "project kernel" "env BUILD=$(BUILD) scripts/kernel-ci.sh"

CI_SUITES += "project kernel" "env BUILD=$(BUILD) scripts/kernel-ci.sh"
