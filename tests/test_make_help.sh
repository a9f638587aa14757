#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# make help names every .PHONY target of the Makefile and of mk/*.mk, each
# on a line "make TARGET ..." (or "make [TARGET]"), from the "#: " comment
# above the target's rule.  TAP.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
# shellcheck source=tests/tap.sh
. tests/tap.sh

help=$(make -s help) || { not_ok "make help failed"; echo "1..$n"; exit 1; }
targets=$(sed -n 's/^\.PHONY:[[:space:]]*//p' Makefile mk/*.mk | tr ' ' '\n' | sort -u)
for t in $targets; do
	if printf '%s\n' "$help" | grep -qE "^make \\[?$t(\\]| |\$)"; then
		ok "make help names $t"
	else
		not_ok "make help does not name the .PHONY target $t"
	fi
done
echo "1..$n"
[ "$failed" = 0 ]
