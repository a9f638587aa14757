#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# kernel-ci.sh: what CI checks of the project's own kernel (`make kernel`,
# the KVM_GET_CLOCK_GUEST/KVM_SET_CLOCK_GUEST stand-in of kernel/patches),
# in both variants: round-down (the ABI patch alone) and exact (with the
# exact reference of patch 0002).
#
#  1. make kernel VARIANT=round-down and VARIANT=exact build them (or find
#     them cached) and print the bzImage's path last.
#  2. The VM runner boots each and runs pvclock_drift_test --reads 1000000
#     with --clock-guest-mode naming the variant (exact: --tolerance-ns 0):
#     all six subtests must run and pass, a skip of any is a failure (x86
#     answers an unknown vCPU ioctl with EINVAL, so a broken patch would
#     otherwise look like an old kernel); set_clock_guest must report each
#     of its checks (exact: the wait until the saved reference is P old,
#     T1 != T0, 0 reads different, the young clock restored as saved);
#     reference_update's exact must leave 0 of at least 1,000,000 reads
#     different at every rate.  The two kernels' differing reads and
#     largest differences are printed side by side.
#  3. Without --clock-guest-mode, set_clock_guest must find each kernel's
#     own behaviour.
#  4. The exact kernel booted with clocksource=hpet (no master clock):
#     set_clock_guest must pass with both ioctls returning EINVAL.
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

# $1: variant; sets img, the bzImage.
build()
{
	local v=$1 start=$SECONDS

	BUILD=$build scripts/build-kernel.sh --variant "$v" >"$logs/build-$v.log" 2>&1 ||
		fail "make kernel VARIANT=$v, see $logs/build-$v.log"
	img=$(tail -n 1 "$logs/build-$v.log")
	[ -f "$img" ] || fail "make kernel VARIANT=$v: the last line is no bzImage: '$img'"
	sed 's/^/# /' "$logs/build-$v.log"
	ok "make kernel VARIANT=$v: $img ($((SECONDS - start)) s)"
}

# $1: log; reference_update's exact: 0 of >= 1000000 reads at every rate.
exact_rates()
{
	local bad rows

	bad=$(awk '/^# metric reference_update\.[^.]+\.exact\.reads / && $4 < 1000000 ||
		   /^# metric reference_update\.[^.]+\.exact\.differing / && $4 != 0' "$1")
	rows=$(grep -cE '^# metric reference_update\.[^.]+\.exact\.reads ' "$1" || true)
	if [ "$rows" -lt 5 ] || [ -n "$bad" ]; then
		fail "exact: not 0 differing reads of >= 1000000 at every rate ($rows rates): $bad"
	fi
}

# $1: log, $2: metric name: its value.
metric()
{
	awk -v m="set_clock_guest.$2" '$1 == "#" && $2 == "metric" && $3 == m { print $4 }' "$1"
}

build round-down
kernel_round_down=$img
build exact
kernel_exact=$img

make -s selftest >"$logs/selftest-build.log" 2>&1 ||
	fail "make selftest, see $logs/selftest-build.log"

# The ABI patch alone, in its own mode.
kernel=$kernel_round_down
log=$logs/round-down.log
boot "$log" -- pvclock_drift_test --reads 1000000 --clock-guest-mode round-down
# shellcheck disable=SC2086 # a list of words
must_pass "$log" $all
ok "round-down kernel: all six subtests passed, none skipped"
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
must_say "$log" "the cost of the ioctl" '^# set_clock_guest: 1000 KVM_SET_CLOCK_GUEST calls: median [0-9]+ ns'
ok "round-down: T1 between the host's TSC reads, system_time the library's, 1,000,000 reads, the next update within the drift, two vCPUs, ERANGE and EINVAL"
exact_rates "$log"
ok "round-down kernel: reference_update's exact left 0 differing of 1000000 reads at every rate"

# With the exact reference: not one read may differ.
kernel=$kernel_exact
log=$logs/exact.log
boot "$log" -- pvclock_drift_test --reads 1000000 --clock-guest-mode exact --tolerance-ns 0
# shellcheck disable=SC2086 # a list of words
must_pass "$log" $all
ok "exact kernel: all six subtests passed, none skipped"
must_say "$log" "the wait until the saved reference is P old" \
	'^# 2\^[0-9]+ ticks \([0-9]+ ms\); the saved reference is [0-9]+ ms old: waiting [0-9]+ ms$'
must_say "$log" "1,000,000 reads, none different" \
	'^# set_clock_guest: 1000000 guest reads, 0 differ from the saved clock;$'
must_say "$log" "reads equal to the saved clock" \
	'^# saved - restored in \[0, 0\] ns, the arithmetic allows \[0, 0\] \(exact\)$'
must_say "$log" "the master clock update after the restore" \
	'^# the update [0-9]+ ns after the restore moved it -?[0-9]+ ps'
must_say "$log" "the young clock restored as saved" \
	'^# vCPU 1, its reference [0-9]+ to [0-9]+ ticks old at the ioctl \(P [0-9]+\): T1 [0-9]+, the saved pvti itself \(T1 = T0\)$'
must_say "$log" "ERANGE for a scale 2 kHz fast" '^# set_clock_guest: a saved scale .*\(\+2 kHz\): ERANGE$'
must_say "$log" "EINVAL for a reference in the future" \
	'^# set_clock_guest: a saved reference .* ahead of the guest.s TSC: EINVAL$'
must_say "$log" "the cost of the ioctl" '^# set_clock_guest: 1000 KVM_SET_CLOCK_GUEST calls: median [0-9]+ ns'
t1_t0=$(metric "$log" t1_after_t0)
case $t1_t0 in
'' | 0 | -* | *[!0-9-]*) fail "exact: T1 - T0 is '$t1_t0', not positive (T1 must differ from T0), see $log" ;;
esac
ok "exact: T1 = T0 + $t1_t0 (not T0), on the closed form, 0 of 1000000 reads different, the next update within the drift, a young clock restored as saved, two vCPUs, ERANGE and EINVAL"
exact_rates "$log"
ok "exact kernel: reference_update's exact left 0 differing of 1000000 reads at every rate"

rd=$logs/round-down.log ex=$logs/exact.log
echo "# set_clock_guest, 1000000 guest reads after KVM_SET_CLOCK_GUEST:"
echo "#   round-down kernel: $(metric "$rd" differing) differ, largest difference $(metric "$rd" max_diff) ns;" \
	"ioctl median $(metric "$rd" ioctl_median) ns"
echo "#   exact kernel:      $(metric "$ex" differing) differ, largest difference $(metric "$ex" max_diff) ns;" \
	"ioctl median $(metric "$ex" ioctl_median) ns"
if [ "$(metric "$ex" differing)" != 0 ] || [ "$(metric "$ex" max_diff)" != 0 ]; then
	fail "the exact kernel's figures are not 0 and 0"
fi
ok "both behaviours side by side (above)"

for v in round-down exact; do
	log=$logs/auto-$v.log
	kernel=$kernel_round_down
	[ $v = exact ] && kernel=$kernel_exact
	boot "$log" -- pvclock_drift_test --interval-ms 500
	# shellcheck disable=SC2086 # a list of words
	must_pass "$log" $all
	must_say "$log" "the behaviour it found" \
		"^# set_clock_guest: the kernel's T1 and system_time match $v \\(no --clock-guest-mode given\\)"
	ok "without --clock-guest-mode, set_clock_guest finds $v in the $v kernel"
done

kernel=$kernel_exact
log=$logs/hpet.log
boot "$log" --append clocksource=hpet -- pvclock_drift_test --clock-guest-mode exact
grep -qE '^# vm: clocksource hpet;' "$log" || fail "the boot did not run on the hpet clocksource, see $log"
must_pass "$log" set_clock_guest
must_say "$log" "EINVAL from both ioctls without a master clock" \
	'^# set_clock_guest: no master clock \(host clocksource hpet.*return EINVAL, as the interface says$'
ok "clocksource=hpet, no master clock: KVM_GET_CLOCK_GUEST and KVM_SET_CLOCK_GUEST return EINVAL"

echo "1..$n"
