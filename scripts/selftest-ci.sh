#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# selftest-ci.sh: what CI checks of the KVM selftests (`make selftest-ci`),
# every program of SELFTEST_PROGS (mk/selftest.mk): pvclock_drift_test,
# pvclock_restore_test and pvclock_clock_guest_test.
#
#  1. Each builds out of tree against Debian's BASE_KVER (mk/versions.conf:
#     7.3), 6.12 and 6.1 (make selftest KVER=...).
#  2. On a fresh copy of the BASE_KVER tree and of the 6.12 tree: make
#     install, the tree's own `make -C tools/testing/selftests
#     TARGETS=kvm` builds every KVM test, ours among them, with no
#     warning from our files, the kselftest runner runs our three (where
#     this machine has KVM), make uninstall leaves the copy identical to
#     the tree (diff -r).
#  3. Each build of each program runs on this machine's KVM: where
#     /dev/kvm is usable, pvclock_drift_test's masterclock_update,
#     set_clock and reference_update and pvclock_restore_test's
#     stock_restore and migrate must run and pass (a skip is a failure),
#     and pvclock_clock_guest_test's two subtests must both pass or both
#     skip for want of the ioctls (exit 4); elsewhere each program must
#     exit 4 (skip).
#  4. Whatever this machine has, each program runs inside Debian's
#     BASE_KVER, 6.12 and 6.1 kernels booted by the VM runner (a boot per
#     program), each with the build that matches the kernel, with --reads
#     1000000.  Every subtest --list names passes but these:
#     set_clock_guest and migrate_clock_guest skip with their reason (no
#     KVM_CAP_CLOCK_GUEST), and vcpu_hotplug fails in 6.1, whose KVM lacks
#     the v6.8 fix ("Don't unnecessarily force masterclock update on vCPU
#     hotplug"): there it must report the step the moved reference made,
#     and be the only subtest that failed.  reference_update's exact
#     choice must show 0 differing reads out of at least 1,000,000 at
#     every rate, and migrate must restore with pvclock_restore() into
#     the fresh VM in both its restores, with no guest entry before the
#     restore and every one of at least 1,000,000 reads per vCPU within
#     1 ns of the saved clock.
#  5. The subtest runner's own test (tests/pvc_runner_test.c), built
#     against each tree: a skip, a failure or an assertion of the selftest
#     library inside a subtest gives exactly one KTAP line for it, and
#     every output of 3. and 4. and of this one is KTAP that each tree's
#     tools/testing/kunit/kunit.py parse accepts without an [ERROR].
#
# Logs go to $BUILD/selftest-ci (build/selftest-ci).

set -euo pipefail

# shellcheck source=scripts/lib.sh
. "$(dirname "$0")/lib.sh"
cd "$root"
logs=$build/selftest-ci
# The tree copies, a folder per run: CI runs at the same time must not
# remove each other's.
mkdir -p "$logs"
scratch=$(mktemp -d "$logs/scratch.XXXXXX")
trap 'rm -rf "$scratch"' EXIT
# The programs, in their order: SELFTEST_PROGS, read from its one home.
read -r -a progs <<<"$(sed -n 's/^SELFTEST_PROGS :\{0,1\}= *//p' mk/selftest.mk)"
[ ${#progs[@]} -gt 0 ] || die "no SELFTEST_PROGS in mk/selftest.mk"
# What must run and pass on this machine's KVM, by program (the others may
# depend on the host kernel).
declare -A must_run=(
	[pvclock_drift_test]="masterclock_update set_clock reference_update"
	[pvclock_restore_test]="stock_restore migrate"
)
# The subtests that need the proposed KVM_[GS]ET_CLOCK_GUEST, which no
# Debian kernel has.
clock_guest_subtests="set_clock_guest migrate_clock_guest"
# The trees that the tests are installed into and built in with all of
# their KVM tests: today's upstream, and Debian 12's newest.
INTREE_KVERS="$BASE_KVER 6.12"
# TAP lines "ok N - text" (ok, fail), so that tests/run.sh counts them; a
# failure ends the run.
tap_sep='- '

say()
{
	echo "selftest-ci: $*"
}

kvm_usable()
{
	[ -c /dev/kvm ] && [ -r /dev/kvm ] && [ -w /dev/kvm ]
}

# No subtest of log $1 failed, and each of $2 reported "ok N name" (maybe
# "# "-prefixed by the kselftest runner).
check_ktap()
{
	local log=$1 name

	! grep -qE '^(# )*not ok ' "$log" || fail "a subtest failed, see $log"
	for name in $2; do
		grep -qE "^(# )*ok [0-9]+ $name\$" "$log" ||
			fail "$name did not run and pass, see $log"
	done
}

# Each of the subtests $2 of log $1 skipped because the kernel has no
# KVM_CAP_CLOCK_GUEST, saying so.
check_clock_guest_skip()
{
	local log=$1 name

	for name in $2; do
		grep -qE "^ok [0-9]+ $name # SKIP KVM_CAP_CLOCK_GUEST .*not supported" "$log" ||
			fail "$name did not skip for want of KVM_CAP_CLOCK_GUEST, see $log"
	done
}

# The whole of a log parsed as KTAP by every tree's kunit.py (its
# kunit_parser.py): its summary and no [ERROR] line, and the count it gives
# if $2 is set.  Its exit code says nothing here: 0 even with [ERROR]
# lines, 1 when a test failed.
ktap_strict()
{
	local log=$1 want=${2:-} ver out

	for ver in $trees; do
		out=$(python3 "$build/trees/linux-$ver/tools/testing/kunit/kunit.py" \
			parse <"$log" 2>&1) || true
		grep -q 'Testing complete\.' <<<"$out" ||
			fail "kunit.py parse of $ver did not parse $log"
		! grep -q '\[ERROR\]' <<<"$out" ||
			fail "$ver's kunit.py parse finds errors in $log: $(grep -m1 '\[ERROR\]' <<<"$out")"
		[ -z "$want" ] || grep -qF "$want" <<<"$out" ||
			fail "$ver's kunit.py parse of $log does not say '$want'"
	done
}

# The subtest runner's own test (tests/pvc_runner_test.c) built against
# tree $1, run on this machine's KVM or else in the VM runner's matching
# kernel: every way a subtest ends, a skip, failure or assertion of the
# selftest library after the plan among them, gives exactly one KTAP line
# named after it, the plan and the totals once, and every tree's parser
# accepts the whole.
check_runner()
{
	local ver=$1 bin=$build/kvm-$1/pvc_runner_test log=$logs/runner-test-$1.log
	local rc=0 got want

	if kvm_usable; then
		"$bin" >"$log" 2>/dev/null || rc=$?
	else
		BUILD=$build scripts/vm-run.sh --kernel "debian-$ver" -- "$bin" \
			>"$log" 2>/dev/null || rc=$?
	fi
	[ $rc -eq 1 ] || fail "pvc_runner_test ($ver) exited $rc, not 1, see $log"
	got=$(grep -E '^(not )?ok ' "$log")
	want="ok 1 pass
ok 2 own_skip # SKIP the test's own reason
not ok 3 own_fail
ok 4 library_require # SKIP - Requirement not met: false
ok 5 library_skip # SKIP the library's reason
not ok 6 library_assert
not ok 7 library_fail
ok 8 child_line
not ok 9 crash"
	[ "$got" = "$want" ] ||
		fail "pvc_runner_test ($ver): the test lines are not one per subtest as expected, see $log"
	[ "$(grep -c '^1\.\.' "$log")" = 1 ] && [ "$(grep -c '^# Totals:' "$log")" = 1 ] ||
		fail "pvc_runner_test ($ver): not one plan and one totals line, see $log"
	ktap_strict "$log" "Ran 9 tests: passed: 2, failed: 4, skipped: 3"
	ok "$ver: a skip, failure or assertion of the library inside a subtest gives one KTAP line for it; kunit.py parse of $trees: no [ERROR]"
	check_runner_all_skip "$ver"
}

# The runner's test of tree $1 with only its three skipping subtests: one
# line each, the totals once, and exit 4, a skipped test to kselftest.
check_runner_all_skip()
{
	local ver=$1 bin=$build/kvm-$1/pvc_runner_test rc=0
	local log=$logs/runner-test-skips-$1.log

	if kvm_usable; then
		"$bin" skips >"$log" 2>/dev/null || rc=$?
	else
		BUILD=$build scripts/vm-run.sh --kernel "debian-$ver" -- "$bin" skips \
			>"$log" 2>/dev/null || rc=$?
	fi
	[ $rc -eq 4 ] || fail "pvc_runner_test skips ($ver) exited $rc, not 4, see $log"
	[ "$(grep -E '^(not )?ok ' "$log")" = "ok 1 own_skip # SKIP the test's own reason
ok 2 library_require # SKIP - Requirement not met: false
ok 3 library_skip # SKIP the library's reason" ] ||
		fail "pvc_runner_test skips ($ver): not one skip line per subtest, see $log"
	[ "$(grep -c '^# Totals:' "$log")" = 1 ] ||
		fail "pvc_runner_test skips ($ver): not one totals line, see $log"
	ktap_strict "$log" "Ran 3 tests: skipped: 3"
	ok "$ver: every subtest skipped: exit 4, one line each; kunit.py parse of $trees: no [ERROR]"
}

# Program $1 built against tree $2, on this machine's KVM.
run_binary()
{
	local prog=$1 ver=$2 bin=$build/kvm-$2/$1 log=$logs/run-$1-$2.log rc=0

	"$bin" >"$log" 2>&1 || rc=$?
	sed 's/^/# /' "$log"
	if ! kvm_usable; then
		[ $rc -eq 4 ] || fail "$bin exited $rc without a usable /dev/kvm (want 4), see $log"
		ok "ran $bin # SKIP no usable /dev/kvm (exit 4, as it must)"
		return
	fi
	if [ "$prog" = pvclock_clock_guest_test ]; then
		# The host's kernel may have the ioctls or not: both subtests
		# pass, or both skip for want of them.
		if [ $rc -eq 4 ]; then
			check_clock_guest_skip "$log" "$clock_guest_subtests"
		else
			[ $rc -eq 0 ] || fail "$bin exited $rc, see $log"
			check_ktap "$log" "$clock_guest_subtests"
		fi
		ktap_strict "$log"
		ok "ran $bin: $clock_guest_subtests $([ $rc -eq 4 ] &&
			echo "skipped (this kernel has no KVM_CAP_CLOCK_GUEST)" || echo passed)"
		return
	fi
	[ $rc -eq 0 ] || fail "$bin exited $rc, see $log"
	check_ktap "$log" "${must_run[$prog]}"
	ktap_strict "$log"
	ok "ran $bin: ${must_run[$prog]} passed"
}

# Every exact comparison: at least 1,000,000 reads, none differing.
# Sets exact_rows.
check_exact()
{
	local log=$1 bad

	exact_rows=$(grep -cE '^# metric reference_update\.[^.]+\.exact\.reads ' "$log" || true)
	[ "$exact_rows" -ge 5 ] || fail "only $exact_rows exact comparisons in $log"
	bad=$(awk '/^# metric reference_update\.[^.]+\.exact\.reads / && $4 < 1000000 ||
		   /^# metric reference_update\.[^.]+\.exact\.differing / && $4 != 0' "$log")
	[ -z "$bad" ] || fail "exact: $bad"
}

# migrate on a stock kernel: pvclock_restore() in the fresh VM, twice; no
# guest entry before either restore; each vCPU's >= 1,000,000 reads within
# 1 ns of the saved clock.
check_migrate_stock()
{
	local log=$1 bad rows

	grep -qE '^# migrate: .*restored by pvclock_restore\(\)' "$log" ||
		fail "migrate did not restore with pvclock_restore(), see $log"
	rows=$(grep -cE '^# metric migrate\.(young|old)\.(vcpu[01]\.max_diff|entries_before_restore) ' "$log" || true)
	[ "$rows" = 6 ] || fail "migrate: $rows of 6 figures (2 restores, 2 vCPUs), see $log"
	bad=$(awk '$1 == "#" && $2 == "metric" &&
		   ($3 ~ /^migrate\.(young|old)\.entries_before_restore$/ && $4 != 0 ||
		    $3 ~ /^migrate\.(young|old)\.vcpu[01]\.reads$/ && $4 < 1000000 ||
		    $3 ~ /^migrate\.(young|old)\.vcpu[01]\.max_diff$/ && $4 > 1)' "$log")
	[ -z "$bad" ] || fail "migrate: $bad"
}

# Program $1 in Debian's kernel of series $2, booted by the VM runner,
# with the build that matches it.
run_in_vm()
{
	local prog=$1 ver=$2 kernel=debian-$2 log=$logs/vm-$1-debian-$2.log rc=0
	local name want=0 skipped='' failed='' vm passed

	BUILD=$build scripts/vm-run.sh --kernel "$kernel" -- "$build/kvm-$ver/$prog" \
		--reads 1000000 >"$log" 2>&1 || rc=$?
	sed 's/^/# /' "$log"
	for name in ${subtests[$prog]}; do
		if [[ " $clock_guest_subtests " == *" $name "* ]]; then
			check_clock_guest_skip "$log" "$name"
			skipped+=" $name"
		elif [ "$name" = vcpu_hotplug ] && [ "$ver" = 6.1 ]; then
			grep -qE '^not ok [0-9]+ vcpu_hotplug$' "$log" ||
				fail "vcpu_hotplug did not fail in $kernel, see $log"
			grep -qE '^# vcpu_hotplug: the reference moved: a step of -?[0-9]+ ns \(old - new\)$' "$log" ||
				fail "vcpu_hotplug failed in $kernel without reporting the step, see $log"
			failed=" vcpu_hotplug ($(sed -n 's/^# vcpu_hotplug: the reference moved: \(a step of .*\) (old - new)$/\1/p' "$log"): no v6.8 fix)"
			want=1
		else
			grep -qE "^ok [0-9]+ $name\$" "$log" ||
				fail "$name did not run and pass in $kernel, see $log"
		fi
	done
	# Every subtest skipped: kselftest's skip; one failed: 1.
	[ -z "$failed" ] && [ -n "$skipped" ] && [ "$(wc -w <<<"$skipped")" = "$(wc -w <<<"${subtests[$prog]}")" ] &&
		want=4
	[ $rc -eq $want ] || fail "$prog in $kernel exited $rc, not $want, see $log"
	[ "$(grep -cE '^not ok ' "$log")" = "$([ -n "$failed" ] && echo 1 || echo 0)" ] ||
		fail "$prog in $kernel: another subtest failed, see $log"
	case $prog in
	pvclock_drift_test) check_exact "$log" ;;
	pvclock_restore_test) check_migrate_stock "$log" ;;
	esac
	ktap_strict "$log"
	vm=$(sed -n 's/^# vm: kernel \([^ ]*\).*accel \([a-z]*\).*/\1, \2/p' "$log")
	passed=$(grep -cE '^ok [0-9]+ [a-z_]+$' "$log" || true)
	ok "$prog in a VM of $kernel ($vm): $passed of $(wc -w <<<"${subtests[$prog]}") subtests passed$([ -z "$skipped" ] || echo ";${skipped} skipped (no KVM_CAP_CLOCK_GUEST)")$([ -z "$failed" ] || echo ";$failed failed as it must")$([ "$prog" != pvclock_drift_test ] || echo "; exact 0 differing in each of $exact_rows comparisons of >= 1000000 reads")$([ "$prog" != pvclock_restore_test ] || echo "; migrate restored twice by pvclock_restore() before any guest entry, every read within 1 ns")"
}

# install_in_tree VERSION: on a fresh copy of the VERSION tree, make
# install, the tree's own kselftest build of TARGETS=kvm (every KVM test,
# ours with no warning from their files), the kselftest runner on our
# three where this machine has KVM, and make uninstall leaving the copy as
# the tree.
install_in_tree()
{
	local ver=$1 tree=$build/trees/linux-$1 copy=$scratch/linux-$1 out=$scratch/out
	local bin arch prog runner_progs='' log=$logs/runner-$1.log listed f

	rm -rf "$copy" "$out"
	cp -a "$tree" "$copy"
	make -s install KSRC="$copy" >"$logs/install-$ver.log" 2>&1 ||
		fail "make install into $ver, see $logs/install-$ver.log"
	# O= keeps the objects out of the copy, so that diff -r can judge
	# uninstall.
	make -C "$copy/tools/testing/selftests" TARGETS=kvm O="$out" -j2 \
		>"$logs/intree-build-$ver.log" 2>&1 ||
		fail "in-tree build of $ver, see $logs/intree-build-$ver.log"
	! grep -E 'pvclock[a-z_]*\.[ch]:[0-9]+(:[0-9]+)?: (warning|error)' \
		"$logs/intree-build-$ver.log" ||
		fail "warnings from the installed files, see $logs/intree-build-$ver.log"
	for prog in "${progs[@]}"; do
		bin=$(find "$out/kselftest/kvm" -name "$prog" -type f | head -n 1)
		[ -n "$bin" ] && [ -x "$bin" ] || fail "the in-tree build of $ver made no $prog"
		arch=$(basename "$(dirname "$bin")")
		runner_progs+=" $arch/$prog"
	done
	# Every test the tree's kvm Makefile lists for this machine was built.
	listed=$(make -s -C "$copy/tools/testing/selftests/kvm" \
		OUTPUT="$out/kselftest/kvm" \
		--eval 'pvc-list: ; @echo $(TEST_GEN_PROGS)' pvc-list 2>/dev/null)
	[ "$(wc -w <<<"$listed")" -gt 10 ] || fail "no list of the $ver tree's KVM tests"
	for f in $listed; do
		[ -x "$f" ] || fail "the in-tree build of $ver did not build $f"
	done
	ok "in-tree build of $ver with the tests installed: every KVM test built ($(wc -w <<<"$listed")), ${progs[*]} among them, no warning from our files"

	if kvm_usable; then
		make -C "$copy/tools/testing/selftests" TARGETS=kvm O="$out" run_tests \
			"TEST_GEN_PROGS_$arch=${runner_progs# }" "TEST_PROGS_$arch=" \
			>"$log" 2>&1 || fail "kselftest runner, see $log"
		for prog in "${progs[@]}"; do
			grep -qE "^ok [0-9]+ selftests: kvm: $prog( # SKIP)?\$" "$log" ||
				fail "the kselftest runner did not pass $prog, see $log"
		done
		check_ktap "$log" "${must_run[*]}"
		ktap_strict "$log"
		ok "kselftest runner of $ver ran ${progs[*]}; kunit.py parse of $trees: no [ERROR]"
	fi

	make -s uninstall KSRC="$copy" >"$logs/uninstall-$ver.log" 2>&1 ||
		fail "make uninstall from $ver, see $logs/uninstall-$ver.log"
	diff -r "$tree" "$copy" >"$logs/uninstall-$ver.diff" 2>&1 ||
		fail "uninstall left the $ver tree changed, see $logs/uninstall-$ver.diff"
	ok "make uninstall restored the $ver tree"
	rm -rf "$copy" "$out"
}

mkdir -p "$logs"
trees="$BASE_KVER ${OLD_KVERS//,/ }"
for ver in $trees; do
	make -s selftest KVER="$ver" >"$logs/build-$ver.log" 2>&1 ||
		fail "make selftest KVER=$ver, see $logs/build-$ver.log"
	for prog in "${progs[@]}"; do
		[ -x "$build/kvm-$ver/$prog" ] || fail "make selftest KVER=$ver made no $prog"
	done
	ok "make selftest KVER=$ver: ${progs[*]}"
done
# Each program's subtests, as it names them (the library may print a line
# first).  From 7.2 on the library's constructor ends the program with exit
# 4 before main() where /dev/kvm cannot be opened, --list included; 6.1's
# does not.
declare -A subtests
for prog in "${progs[@]}"; do
	subtests[$prog]=$(subtests_of "$build/kvm-6.1/$prog" | tr '\n' ' ')
	[ -n "${subtests[$prog]}" ] || fail "$prog --list named no subtest"
done

for ver in $INTREE_KVERS; do
	install_in_tree "$ver"
done

for ver in $trees; do
	check_runner "$ver"
done
for ver in $trees; do
	for prog in "${progs[@]}"; do
		run_binary "$prog" "$ver"
	done
done
for ver in $trees; do
	for prog in "${progs[@]}"; do
		run_in_vm "$prog" "$ver"
	done
done
echo "1..$n"
say "$n passed, 0 failed"
