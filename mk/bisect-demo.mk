# SPDX-License-Identifier: GPL-2.0-only
#
# A drift regression bisected end to end (scripts/bisect-demo.sh).  Not in
# CI: it builds and boots several kernels (the first run a clean build).
#
#   make bisect-demo [SEED=N] [DRIFT=PPB] [THRESHOLD=PPB]
#                   a throwaway history of 8 KVM commits on Debian's 6.12
#                   in $(BUILD)/bisect-demo, one (placed by SEED) making
#                   kvmclock DRIFT ppb fast (5000000); both ends checked
#                   against masterclock_update --max-drift-ppb THRESHOLD
#                   (2000000), then git bisect run, each step built
#                   incrementally and booted; exit 0 only when the
#                   injected commit is named

SEED ?=
DRIFT ?=
THRESHOLD ?=

.PHONY: bisect-demo

#: make bisect-demo [SEED=N] [DRIFT=PPB] [THRESHOLD=PPB]  a drift regression
#:                    injected into KVM, bisected by building and booting kernels
bisect-demo: selftest
	@BUILD=$(BUILD) scripts/bisect-demo.sh --test $(BUILD)/pvclock_drift_test \
		$(if $(strip $(SEED)),--seed '$(SEED)') \
		$(if $(strip $(DRIFT)),--drift-ppb '$(DRIFT)') \
		$(if $(strip $(THRESHOLD)),--threshold-ppb '$(THRESHOLD)')
