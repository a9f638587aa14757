#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# kernel-ci.sh: what CI checks of the project's own kernel (`make kernel`,
# the KVM_GET_CLOCK_GUEST/KVM_SET_CLOCK_GUEST stand-in of kernel/patches).
#
#  1. make kernel VARIANT=round-down builds it (or finds it cached) and
#     prints the bzImage's path last.
#  2. The VM runner boots it and runs pvclock_drift_test --reads 1000000
#     --clock-guest-mode round-down: all six subtests must run and pass, a
#     skip of any is a failure (x86 answers an unknown vCPU ioctl with
#     EINVAL, so a broken patch would otherwise look like an old kernel);
#     set_clock_guest must report each of its checks; exact must leave 0 of
#     at least 1,000,000 reads different at every rate.
#  3. Without --clock-guest-mode, set_clock_guest must find round-down.
#  4. Booted with clocksource=hpet (no master clock), set_clock_guest must
#     pass with both ioctls returning EINVAL.
#
# TAP on stdout; the logs go to $BUILD/kernel-ci (build/kernel-ci).

set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
case ${BUILD:-build} in
/*)	build=$BUILD ;;
*)	build=$root/${BUILD:-build} ;;
esac
logs=$build/kernel-ci
variant=round-down
all="masterclock_update set_clock reference_update set_clock_guest stock_restore concurrent_update"
n=0

# TAP lines, so that tests/run.sh counts them; a failure ends the run.
fail()
{
	echo "not ok $((n + 1)) - $*"
	exit 1
}

ok()
{
	n=$((n + 1))
	echo "ok $n - $*"
}

# $1: log; the rest: subtests that must have run and passed, no skip.
must_pass()
{
	local log=$1 name

	shift
	! grep -qE '^not ok ' "$log" || fail "a subtest failed, see $log"
	for name in "$@"; do
		grep -qE "^ok [0-9]+ $name\$" "$log" ||
			fail "$name did not run and pass (a skip is a failure here), see $log"
	done
}

# $1: log, $2: what, $3: an extended regular expression a line must match.
must_say()
{
	grep -qE -- "$3" "$1" || fail "set_clock_guest did not report $2, see $1"
}

# $1: log; the rest: runner arguments, then -- and the program's.
boot()
{
	local log=$1 rc=0

	shift
	BUILD=$build scripts/vm-run.sh --kernel "$kernel" "$@" >"$log" 2>&1 || rc=$?
	sed 's/^/# /' "$log"
	[ $rc -eq 0 ] || fail "the selftest in $kernel exited $rc, see $log"
}

mkdir -p "$logs"

start=$SECONDS
BUILD=$build scripts/build-kernel.sh --variant "$variant" >"$logs/build.log" 2>&1 ||
	fail "make kernel VARIANT=$variant, see $logs/build.log"
kernel=$(tail -n 1 "$logs/build.log")
[ -f "$kernel" ] || fail "make kernel's last line is no bzImage: '$kernel'"
sed 's/^/# /' "$logs/build.log"
ok "make kernel VARIANT=$variant: $kernel ($((SECONDS - start)) s)"

make -s selftest >"$logs/selftest-build.log" 2>&1 ||
	fail "make selftest, see $logs/selftest-build.log"

log=$logs/round-down.log
boot "$log" -- pvclock_drift_test --reads 1000000 --clock-guest-mode round-down
# shellcheck disable=SC2086 # a list of words
must_pass "$log" $all
ok "the selftest in the project's kernel: all six subtests passed, none skipped"
must_say "$log" "the new reference inside the host's TSC reads" \
	'^# set_clock_guest: restored through vCPU 1; T1 [0-9]+, guest TSC around$'
must_say "$log" "1,000,000 reads" '^# set_clock_guest: 1000000 guest reads, [0-9]+ differ'
must_say "$log" "reads within what the arithmetic allows" \
	'^# saved - restored in \[0, [01]\] ns, the arithmetic allows \[0, 1\] \(round-down\)$|^# saved - restored in \[0, [012]\] ns, the arithmetic allows \[0, 2\] \(round-down\)$'
must_say "$log" "the master clock update after the restore" \
	'^# the update [0-9]+ ns after the restore moved it -?[0-9]+ ps'
must_say "$log" "ERANGE for a scale 2 kHz fast" '^# set_clock_guest: a saved scale .*\(\+2 kHz\): ERANGE$'
must_say "$log" "ERANGE for a scale 2 kHz slow" '^# set_clock_guest: a saved scale .*\(-2 kHz\): ERANGE$'
must_say "$log" "EINVAL for a reference in the future" \
	'^# set_clock_guest: a saved reference .* ahead of the guest.s TSC: EINVAL$'
ok "set_clock_guest: T1 between the host's TSC reads, system_time the library's, 1,000,000 reads, the next update within the drift, two vCPUs, ERANGE and EINVAL"
bad=$(awk '/^# metric reference_update\.[^.]+\.exact\.reads / && $4 < 1000000 ||
	   /^# metric reference_update\.[^.]+\.exact\.differing / && $4 != 0' "$log")
rows=$(grep -cE '^# metric reference_update\.[^.]+\.exact\.reads ' "$log" || true)
if [ "$rows" -lt 5 ] || [ -n "$bad" ]; then
	fail "exact: not 0 differing reads of >= 1000000 at every rate ($rows rates): $bad"
fi
ok "exact: 0 differing of 1000000 reads at every rate"

log=$logs/auto.log
boot "$log" -- pvclock_drift_test --interval-ms 500
# shellcheck disable=SC2086 # a list of words
must_pass "$log" $all
must_say "$log" "the behaviour it found" \
	"^# set_clock_guest: the kernel's T1 and system_time match round-down \\(no --clock-guest-mode given\\)"
ok "without --clock-guest-mode, set_clock_guest finds round-down"

log=$logs/hpet.log
boot "$log" --append clocksource=hpet -- pvclock_drift_test --clock-guest-mode round-down
grep -qE '^# vm: clocksource hpet;' "$log" || fail "the boot did not run on the hpet clocksource, see $log"
must_pass "$log" set_clock_guest
must_say "$log" "EINVAL from both ioctls without a master clock" \
	'^# set_clock_guest: no master clock \(host clocksource hpet.*return EINVAL, as the interface says$'
ok "clocksource=hpet, no master clock: KVM_GET_CLOCK_GUEST and KVM_SET_CLOCK_GUEST return EINVAL"

echo "1..$n"
