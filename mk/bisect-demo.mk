# SPDX-License-Identifier: GPL-2.0-only
#
# A KVM clock regression bisected end to end (scripts/bisect-demo.sh).  Not
# in CI: it builds and boots several kernels (the first run a clean build).
#
#   make bisect-demo [SEED=N] [DRIFT=PPB [THRESHOLD=PPB]]
#                   a throwaway history of 8 KVM commits on Debian's
#                   BASE_KVER source (mk/versions.conf) in
#                   $(BUILD)/bisect-demo, one (placed by SEED) bringing
#                   back a regression: by default the master clock update
#                   at every TSC sync from before v6.8 (found by
#                   vcpu_hotplug), with DRIFT a kvmclock DRIFT ppb fast
#                   (found by masterclock_update --max-drift-ppb THRESHOLD,
#                   default DRIFT/2).  Both ends are checked, then git
#                   bisect run builds and boots each step; exit 0 only
#                   when the injected commit is named

SEED ?=
DRIFT ?=
THRESHOLD ?=

.PHONY: bisect-demo

#: make bisect-demo [SEED=N] [DRIFT=PPB [THRESHOLD=PPB]]  a KVM clock
#:                    regression injected, bisected by building and booting kernels
bisect-demo: selftest
	@BUILD=$(BUILD) scripts/bisect-demo.sh --test $(KOUT) \
		$(if $(strip $(SEED)),--seed '$(SEED)') \
		$(if $(strip $(DRIFT)),--drift-ppb '$(DRIFT)') \
		$(if $(strip $(THRESHOLD)),--threshold-ppb '$(THRESHOLD)')
