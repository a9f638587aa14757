#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# bisect-kernel-step.sh --obj DIR [--jobs N] -- COMMAND [ARGS...]
#	One `git bisect run` step on a kernel tree: build the commit checked
#	out in the current folder into DIR (make O=DIR olddefconfig bzImage,
#	and with CONFIG_MODULES the modules, installed in DIR/modinst;
#	incremental: only what this commit changed is compiled again), then
#	run COMMAND, typically scripts/bisect-run.sh --kernel
#	DIR/arch/x86/boot/bzImage ..., and exit with its status.
#
#	A failed build exits 125 (cannot test).  Prints one line per step:
#	  bisect-step: SHA SUBJECT: good|bad|skip|abort (exit N; build S s,
#	  boot and test S s)
#
#	DIR must already hold the configured build (a .config).

set -uo pipefail

me=bisect-kernel-step.sh
# shellcheck source=scripts/lib.sh
. "$(dirname "$0")/lib.sh"
SKIP=125
ABORT=255
obj=
jobs=2

# A bad command line: the message and the usage above, exit 255 (git
# bisect stops).
usage_exit=$ABORT
usage_lines=4,5

while [ $# -gt 0 ]; do
	case $1 in
	--obj)
		[ $# -ge 2 ] || usage_error "--obj needs a folder"
		obj=$2
		shift 2
		;;
	--jobs)
		[ $# -ge 2 ] || usage_error "--jobs needs a number"
		case $2 in
		'' | *[!0-9]* | 0*) usage_error "--jobs: '$2' is not a positive number" ;;
		esac
		jobs=$2
		shift 2
		;;
	--)
		shift
		break
		;;
	*)
		usage_error "unknown argument '$1'"
		;;
	esac
done
[ -n "$obj" ] || usage_error "no --obj"
[ $# -gt 0 ] || usage_error "no command after --"
[ -f "$obj/.config" ] || usage_error "$obj/.config is missing: configure the build first"

commit=$(git log -1 --format='%h %s' 2>/dev/null) || usage_error "not in a git repository"

# kmake: the tree in the current folder, built into DIR.
kmake_args=(O="$obj")

start=$(date +%s)
if ! kmake olddefconfig >>"$obj/build.log" 2>&1 || ! kmake_step "$obj" "$jobs"; then
	echo "bisect-step: $commit: skip (the build failed, see $obj/build.log; build $(($(date +%s) - start)) s)"
	exit "$SKIP"
fi
built=$(date +%s)

"$@"
rc=$?
done_at=$(date +%s)

case $rc in
0) verdict=good ;;
"$SKIP") verdict=skip ;;
[1-9] | [1-9][0-9] | 1[01][0-9] | 12[0-7]) verdict=bad ;;
*) verdict=abort ;;
esac
echo "bisect-step: $commit: $verdict (exit $rc; build $((built - start)) s, boot and test $((done_at - built)) s)"
exit "$rc"
