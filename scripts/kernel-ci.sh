#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# kernel-ci.sh: what CI checks of the project's own kernel (`make kernel`,
# the KVM_GET_CLOCK_GUEST/KVM_SET_CLOCK_GUEST stand-in of kernel/patches on
# Debian's source of BASE_KVER, mk/versions.conf), in both variants:
# round-down (the ABI patch alone) and exact (with the exact reference of
# patch 0002).
#
#  1. make kernel VARIANT=exact and VARIANT=round-down build them (or find
#     them cached) and print the bzImage's path last; the two share one
#     source and one O= folder, so the second is an incremental build of
#     the first (each one's time is printed).  tests/test_uapi.sh compiles
#     a program against each patched tree's installed uapi.
#  2. The VM runner boots each and runs all the tests (SELFTEST_PROGS) in
#     one boot with --reads 1000000 and --clock-guest-mode naming the
#     variant (exact: --tolerance-ns 0): every subtest their --list names
#     must run and pass, a skip of any is a failure; set_clock_guest must
#     report each of its checks (exact: the wait until the saved
#     reference is P old, T1 != T0, 0 reads different, the young clock
#     restored as saved; both: v6's errnos, the round trip on a vCPU 200
#     ppm off); migrate_clock_guest must restore with KVM_SET_CLOCK_GUEST
#     into the fresh VM in both its restores (young: T1 - T0 < P; old:
#     T1 - T* >= P/2) with at least 1,000,000 reads per vCPU (exact: none
#     different) and the update step within its bound; the stock migrate
#     must restore through pvclock_restore() in both, no guest entry
#     before either, with at least 1,000,000 reads per vCPU;
#     reference_update's exact must leave 0 of at least 1,000,000 reads
#     different at every rate.  The two kernels' differing reads and
#     largest differences are printed side by side.
#  3. make vm-run ONLY=set_clock_guest,migrate_clock_guest,vcpu_hotplug
#     RUN_ARGS='--reads 1000000 --clock-guest-mode exact --tolerance-ns 0'
#     on the exact kernel: those three and no other, all passed, 0 reads
#     different in each.
#  4. Without --clock-guest-mode, set_clock_guest must find each kernel's
#     own behaviour.
#  5. The exact kernel booted with clocksource=hpet (no master clock):
#     set_clock_guest must pass with both ioctls returning EINVAL.
#
# TAP on stdout; the logs go to $BUILD/kernel-ci (build/kernel-ci).

set -euo pipefail

# shellcheck source=scripts/lib.sh
. "$(dirname "$0")/lib.sh"
cd "$root"
logs=$build/kernel-ci
# TAP lines "ok N - text" (ok, fail), so that tests/run.sh counts them; a
# failure ends the run.
tap_sep='- '

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

# $1: log; the rest: runner arguments, then -- and the tests' options.
boot()
{
	local log=$1 rc=0

	shift
	BUILD=$build scripts/vm-run.sh --kernel "$kernel" "$@" >"$log" 2>&1 || rc=$?
	sed 's/^/# /' "$log"
	[ $rc -eq 0 ] || fail "the tests in $kernel exited $rc, see $log"
}

# $1: log: each test ran in that one boot (the runner's summary).
all_tests_ran()
{
	local got

	got=$(sed -n 's/^# summary: \(pvclock_[a-z_]*\): exit .*/\1/p' "$1" | paste -sd' ')
	[ "$got" = "$tests" ] || fail "the boot ran '$got', not every test ($tests), see $1"
}

mkdir -p "$logs"

# $1: variant; sets img, the bzImage, and checks the uapi of its tree.
build()
{
	local v=$1 start=$SECONDS secs tree

	BUILD=$build scripts/build-kernel.sh --variant "$v" >"$logs/build-$v.log" 2>&1 ||
		fail "make kernel VARIANT=$v, see $logs/build-$v.log"
	secs=$((SECONDS - start))
	img=$(tail -n 1 "$logs/build-$v.log")
	[ -f "$img" ] || fail "make kernel VARIANT=$v: the last line is no bzImage: '$img'"
	sed 's/^/# /' "$logs/build-$v.log"
	ok "make kernel VARIANT=$v: $img ($secs s)"

	# The uapi as userspace sees it: <linux/kvm.h> from headers_install
	# alone compiles and expands both ioctls and the capability.
	tree=$(BUILD=$build scripts/build-kernel.sh --variant "$v" --source-only 2>>"$logs/uapi-$v.log") ||
		fail "the $v source, see $logs/uapi-$v.log"
	BUILD=$build tests/test_uapi.sh "$tree" >"$logs/uapi-$v.log" 2>&1 ||
		fail "the uapi headers of the $v tree, see $logs/uapi-$v.log"
	sed 's/^/# /' "$logs/uapi-$v.log"
	ok "uapi ($v): <linux/kvm.h> from make headers_install defines and expands KVM_GET_CLOCK_GUEST, KVM_SET_CLOCK_GUEST and KVM_CAP_CLOCK_GUEST ($(grep -c '^ok ' "$logs/uapi-$v.log") checks)"
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

# set_clock_guest's error paths, as the posted v6 and 0001's two
# differences from it say (KVM_CAP_CLOCK_GUEST, 252; a normalised mul).
interface_errors()
{
	local log=$1

	must_say "$log" "ERANGE 1500 Hz fast" '^# set_clock_guest: a saved scale for [0-9]+ Hz \(\+1500 Hz\): ERANGE$'
	must_say "$log" "ERANGE 1500 Hz slow" '^# set_clock_guest: a saved scale for [0-9]+ Hz \(-1500 Hz\): ERANGE$'
	must_say "$log" "500 Hz fast taken" '^# set_clock_guest: a saved scale for [0-9]+ Hz \(\+500 Hz\): accepted$'
	must_say "$log" "500 Hz slow taken" '^# set_clock_guest: a saved scale for [0-9]+ Hz \(-500 Hz\): accepted$'
	must_say "$log" "EINVAL for pads" '^# set_clock_guest: pad0 not zero: EINVAL$'
	must_say "$log" "EINVAL for mul 0" '^# set_clock_guest: mul 0: EINVAL$'
	must_say "$log" "EINVAL for shift 32" '^# set_clock_guest: shift 32: EINVAL$'
	must_say "$log" "EINVAL for shift -32" '^# set_clock_guest: shift -32: EINVAL$'
	must_say "$log" "EINVAL for an unnormalised mul" '^# set_clock_guest: mul / 2, shift \+ 1 .*: EINVAL$'
	must_say "$log" "EINVAL for a reference in the future" \
		'^# set_clock_guest: a saved reference 10 s ahead of the guest.s TSC: EINVAL$'
	must_say "$log" "GET's own clock taken on a vCPU 200 ppm off" \
		'^# its own KVM_GET_CLOCK_GUEST \(a scale for [0-9]+ Hz\) back: accepted$'
}

# $1: log, $2: variant.  migrate_clock_guest restored with
# KVM_SET_CLOCK_GUEST in both restores, >= 1,000,000 reads per vCPU
# (exact: none different), and the update after each within its bound (the
# subtest's own check, passed).
migrate_ioctl()
{
	local log=$1 v=$2 bad rows m=migrate_clock_guest

	grep -qE "^# $m: saved with KVM_GET_CLOCK_GUEST, restored with\$" "$log" ||
		fail "$v: $m did not restore with KVM_SET_CLOCK_GUEST, see $log"
	rows=$(grep -cE "^# metric $m\\.(young|old)\\.(vcpu[01]\\.max_diff|update_step_error) " "$log")
	[ "$rows" = 6 ] || fail "$v: $m: $rows of 6 figures (2 restores), see $log"
	bad=$(awk -v v="$v" -v m="$m" '$1 == "#" && $2 == "metric" &&
		   ($3 ~ "^" m "\\.(young|old)\\.vcpu[01]\\.reads$" && $4 < 1000000 ||
		    v == "exact" && $3 ~ "^" m "\\.(young|old)\\.vcpu[01]\\.differing$" && $4 != 0 ||
		    $3 ~ "^" m "\\.(young|old)\\.vcpu[01]\\.max_diff$" && $4 > 2)' "$log")
	[ -z "$bad" ] || fail "$v: $m: $bad"
	must_say "$log" "T1 - T* >= P/2 in the old restore" "^# $m old: T1 - T\\* is [0-9]+ to [0-9]+ ticks \\(P [0-9]+\\)\$"
	ok "$v: $m: both restores into a fresh VM, >= 1000000 reads per vCPU$([ "$v" = exact ] && echo ", none different"), the next update by the drift since T1 ($(awk -v m="$m" '$3 ~ "^" m "\\.(young|old)\\.update_step_error$" { printf "%s%s ps", sep, $4; sep = ", " }' "$log") off the prediction)"
}

# $1: log, $2: variant.  The stock migrate (pvclock_restore(), KVM_SET_CLOCK
# alone) on the project's kernel: both restores done by the routine with
# no guest entry before them, >= 1,000,000 reads per vCPU.
migrate_stock()
{
	local log=$1 v=$2 bad rows

	rows=$(grep -cE '^# migrate (young|old): pvclock_restore\(\): restored after [0-9]+ attempts' "$log")
	[ "$rows" = 2 ] || fail "$v: migrate: pvclock_restore() restored $rows of 2 times, see $log"
	rows=$(grep -cE '^# metric migrate\.(young|old)\.vcpu[01]\.reads ' "$log")
	[ "$rows" = 4 ] || fail "$v: migrate: $rows of 4 read counts (2 restores, 2 vCPUs), see $log"
	bad=$(awk '$1 == "#" && $2 == "metric" &&
		   ($3 ~ /^migrate\.(young|old)\.vcpu[01]\.reads$/ && $4 < 1000000 ||
		    $3 ~ /^migrate\.(young|old)\.entries_before_restore$/ && $4 != 0)' "$log")
	[ -z "$bad" ] || fail "$v: migrate: $bad"
	ok "$v: migrate: both restores through pvclock_restore(), no guest entry before either, >= 1000000 reads per vCPU ($(awk '$3 ~ /^migrate\.(young|old)\.attempts$/ { printf "%s%s", sep, $4; sep = " and " }' "$log") KVM_SET_CLOCK calls)"
}

build exact
kernel_exact=$img
build round-down
kernel_round_down=$img

make -s selftest >"$logs/selftest-build.log" 2>&1 ||
	fail "make selftest, see $logs/selftest-build.log"
# The tests (the runner's plan of its build) and their subtests, as they
# name them (the library may print a line first).
tests=''
all=''
while read -r line; do
	eval "set -- $line"
	tests+="${tests:+ }${1##*/}"
	all+=" $(subtests_of "$1" | tr '\n' ' ')"
done < <(BUILD=$build scripts/vm-run.sh --build "$build/kvm-$BASE_KVER" --plan)
[ -n "${all// /}" ] || fail "the tests' --list named no subtest"

# The ABI patch alone, in its own mode.
kernel=$kernel_round_down
log=$logs/round-down.log
boot "$log" -- --reads 1000000 --clock-guest-mode round-down
all_tests_ran "$log"
# shellcheck disable=SC2086 # a list of words
must_pass "$log" $all
ok "round-down kernel: all $(wc -w <<<"$all") subtests of $tests passed in one boot, none skipped"
must_say "$log" "the new reference inside the host's TSC reads" \
	'^# set_clock_guest: restored through vCPU 1; T1 [0-9]+, guest TSC around$'
must_say "$log" "1,000,000 reads" '^# set_clock_guest: 1000000 guest reads, [0-9]+ differ'
must_say "$log" "reads within what the arithmetic allows" \
	'^# saved - restored in \[0, [01]\] ns, the arithmetic allows \[0, 1\] \(round-down\)$|^# saved - restored in \[0, [012]\] ns, the arithmetic allows \[0, 2\] \(round-down\)$'
must_say "$log" "the master clock update after the restore" \
	'^# set_clock_guest: the update [0-9]+ ns after T1 moved the clock -?[0-9]+ ps;$'
interface_errors "$log"
must_say "$log" "the cost of the ioctl" '^# set_clock_guest: 1000 KVM_SET_CLOCK_GUEST calls: median [0-9]+ ns'
ok "round-down: T1 between the host's TSC reads, system_time the library's, 1,000,000 reads, the next update within the drift since T1, two vCPUs, v6's errnos"
migrate_ioctl "$log" round-down
migrate_stock "$log" round-down
exact_rates "$log"
ok "round-down kernel: reference_update's exact left 0 differing of 1000000 reads at every rate"

# With the exact reference: not one read may differ.
kernel=$kernel_exact
log=$logs/exact.log
boot "$log" -- --reads 1000000 --clock-guest-mode exact --tolerance-ns 0
all_tests_ran "$log"
# shellcheck disable=SC2086 # a list of words
must_pass "$log" $all
ok "exact kernel: all $(wc -w <<<"$all") subtests of $tests passed in one boot, none skipped"
must_say "$log" "the wait until the saved reference is P old" \
	'^# 2\^[0-9]+ ticks \([0-9]+ ms\); the saved reference is [0-9]+ ms old: waiting [0-9]+ ms$'
must_say "$log" "1,000,000 reads, none different" \
	'^# set_clock_guest: 1000000 guest reads, 0 differ from the saved clock;$'
must_say "$log" "reads equal to the saved clock" \
	'^# saved - restored in \[0, 0\] ns, the arithmetic allows \[0, 0\] \(exact\)$'
must_say "$log" "the master clock update after the restore" \
	'^# set_clock_guest: the update [0-9]+ ns after T1 moved the clock -?[0-9]+ ps;$'
must_say "$log" "the young clock restored as saved" \
	'^# vCPU 1, its reference [0-9]+ to [0-9]+ ticks old at the ioctl \(P [0-9]+\): T1 [0-9]+, the saved pvti itself \(T1 = T0\)$'
interface_errors "$log"
must_say "$log" "the cost of the ioctl" '^# set_clock_guest: 1000 KVM_SET_CLOCK_GUEST calls: median [0-9]+ ns'
t1_t0=$(metric "$log" t1_after_t0)
case $t1_t0 in
'' | 0 | -* | *[!0-9-]*) fail "exact: T1 - T0 is '$t1_t0', not positive (T1 must differ from T0), see $log" ;;
esac
ok "exact: T1 = T0 + $t1_t0 (not T0), on the closed form, 0 of 1000000 reads different, the next update within the drift since T1, a young clock restored as saved, two vCPUs, v6's errnos"
migrate_ioctl "$log" exact
migrate_stock "$log" exact
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

# The named subtests wherever they live, as the documents show it.
log=$logs/only.log
only=set_clock_guest,migrate_clock_guest,vcpu_hotplug
rc=0
make -s vm-run BUILD="$build" KERNEL="$kernel_exact" ONLY=$only \
	RUN_ARGS='--reads 1000000 --clock-guest-mode exact --tolerance-ns 0' >"$log" 2>&1 || rc=$?
sed 's/^/# /' "$log"
[ $rc -eq 0 ] || fail "make vm-run ONLY=$only exited $rc, see $log"
must_pass "$log" ${only//,/ }
ran=$(sed -nE 's/^(not )?ok [0-9]+ ([a-z_]+).*/\2/p' "$log" | sort | paste -sd,)
[ "$ran" = "$(tr , '\n' <<<"$only" | sort | paste -sd,)" ] ||
	fail "make vm-run ONLY=$only ran $ran, see $log"
bad=$(awk '$1 == "#" && $2 == "metric" && $3 ~ /(^|\.)differing$/ && $4 != 0' "$log")
rows=$(grep -cE '^# metric [a-z_.0-9]*differing ' "$log")
if [ -n "$bad" ] || [ "$rows" -lt 6 ]; then
	fail "make vm-run ONLY=$only: $rows counts of differing reads, not all 0: $bad"
fi
ok "make vm-run ONLY=$only on the exact kernel: those three alone passed, 0 reads different in all $rows counts"

for v in round-down exact; do
	log=$logs/auto-$v.log
	kernel=$kernel_round_down
	[ $v = exact ] && kernel=$kernel_exact
	boot "$log" -- --interval-ms 500
	# shellcheck disable=SC2086 # a list of words
	must_pass "$log" $all
	must_say "$log" "the behaviour it found" \
		"^# set_clock_guest: the kernel's T1 and system_time match $v \\(no --clock-guest-mode given\\)"
	ok "without --clock-guest-mode, set_clock_guest finds $v in the $v kernel"
done

kernel=$kernel_exact
log=$logs/hpet.log
boot "$log" --append clocksource=hpet -- --clock-guest-mode exact
grep -qE '^# vm: clocksource hpet;' "$log" || fail "the boot did not run on the hpet clocksource, see $log"
must_pass "$log" set_clock_guest
must_say "$log" "EINVAL from both ioctls without a master clock" \
	'^# set_clock_guest: no master clock \(host clocksource hpet.*return EINVAL, as the interface says$'
ok "clocksource=hpet, no master clock: KVM_GET_CLOCK_GUEST and KVM_SET_CLOCK_GUEST return EINVAL"

echo "1..$n"
