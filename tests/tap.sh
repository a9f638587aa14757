# SPDX-License-Identifier: GPL-2.0-only
# shellcheck shell=bash
#
# TAP helpers for the shell tests; source this file.  They are the KTAP
# results of scripts/lib.sh, which comes with them (root and build too): ok
# and not_ok print "ok N text" and "not ok N text", n counts the tests,
# failed the failures; not_ok's arguments after the first become "# " lines.

# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib.sh"
