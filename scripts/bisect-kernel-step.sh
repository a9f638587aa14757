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
SKIP=125
ABORT=255
obj=
jobs=2

usage()
{
	echo "$me: $*" >&2
	sed -n '4,5s/^# \{0,1\}//p' "$0" >&2
	exit "$ABORT"
}

while [ $# -gt 0 ]; do
	case $1 in
	--obj)
		[ $# -ge 2 ] || usage "--obj needs a folder"
		obj=$2
		shift 2
		;;
	--jobs)
		[ $# -ge 2 ] || usage "--jobs needs a number"
		case $2 in
		'' | *[!0-9]* | 0*) usage "--jobs: '$2' is not a positive number" ;;
		esac
		jobs=$2
		shift 2
		;;
	--)
		shift
		break
		;;
	*)
		usage "unknown argument '$1'"
		;;
	esac
done
[ -n "$obj" ] || usage "no --obj"
[ $# -gt 0 ] || usage "no command after --"
[ -f "$obj/.config" ] || usage "$obj/.config is missing: configure the build first"

commit=$(git log -1 --format='%h %s' 2>/dev/null) || usage "not in a git repository"

# No MAKEFLAGS of a calling make: its jobserver and variables are not ours.
kmake()
{
	env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL -u MAKEOVERRIDES \
		nice -n 10 make O="$obj" ARCH=x86_64 "$@"
}

start=$(date +%s)
targets=(bzImage)
grep -qx 'CONFIG_MODULES=y' "$obj/.config" && targets+=(modules)
if ! kmake olddefconfig >>"$obj/build.log" 2>&1 ||
   ! kmake -j"$jobs" "${targets[@]}" >>"$obj/build.log" 2>&1 ||
   ! { [ "${#targets[@]}" = 1 ] || { rm -rf "$obj/modinst" &&
	kmake INSTALL_MOD_PATH="$obj/modinst" modules_install >>"$obj/build.log" 2>&1; }; }; then
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
