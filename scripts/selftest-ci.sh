#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# selftest-ci.sh: what CI checks of the KVM selftest (`make selftest-ci`).
#
#  1. pvclock_drift_test builds out of tree against Debian's BASE_KVER
#     (mk/versions.conf: 7.3), 6.12 and 6.1.
#  2. On a fresh copy of the BASE_KVER tree and of the 6.12 tree: make
#     install, the tree's own `make -C tools/testing/selftests
#     TARGETS=kvm` builds it and every other KVM test, with no warning
#     from its files, the kselftest runner runs it (where this machine
#     has KVM), make uninstall leaves the copy identical to the tree
#     (diff -r).
#  3. Each build runs on this machine's KVM: where /dev/kvm is usable,
#     masterclock_update, set_clock and reference_update must run and pass
#     (a skip is a failure); elsewhere the test must exit 4 (skip).
#  4. Whatever this machine has, the test runs inside Debian's BASE_KVER,
#     6.12 and 6.1 kernels booted by the VM runner, each with the build
#     that matches it, with --reads 1000000: every subtest --list names
#     other than set_clock_guest must pass, set_clock_guest must skip with its
#     reason (no KVM_CAP_CLOCK_GUEST), exact must show 0 differing reads
#     out of at least 1,000,000 at every rate, and migrate must restore
#     with pvclock_restore() into the fresh VM in both its restores, with
#     no guest entry before the restore and every one of at least
#     1,000,000 reads per vCPU within 1 ns of the saved clock.
#     vcpu_hotplug must pass in BASE_KVER and 6.12 and fail in 6.1, whose
#     KVM lacks the v6.8 fix ("Don't unnecessarily force masterclock
#     update on vCPU hotplug"): there it must report the step the moved
#     reference made, and be the only subtest that failed.
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
scratch=$build/selftest-ci/scratch
must_run="masterclock_update set_clock reference_update"
# The trees that the test is installed into and built in with all of their
# KVM tests: today's upstream, and Debian 12's newest.
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

# Each of the must-run subtests reported "ok N name" (maybe "# "-prefixed
# by the runner) and nothing failed.
check_ktap()
{
	local log=$1 name

	! grep -qE '^(# )*not ok ' "$log" || fail "a subtest failed, see $log"
	for name in $must_run; do
		grep -qE "^(# )*ok [0-9]+ $name\$" "$log" ||
			fail "$name did not run and pass, see $log"
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
}

run_binary()
{
	local bin=$1 log=$2 rc=0

	"$bin" >"$log" 2>&1 || rc=$?
	sed 's/^/# /' "$log"
	if kvm_usable; then
		[ $rc -eq 0 ] || fail "$bin exited $rc, see $log"
		check_ktap "$log"
		ktap_strict "$log"
		ok "ran $bin: $must_run passed"
	else
		[ $rc -eq 4 ] || fail "$bin exited $rc without a usable /dev/kvm (want 4), see $log"
		ok "ran $bin # SKIP no usable /dev/kvm (exit 4, as it must)"
	fi
}

# Every exact comparison: at least 1,000,000 reads, none differing.
# Sets exact_rows.
check_exact()
{
	local log=$1 bad

	exact_rows=$(grep -cE '^# metric reference_update\.[^.]+\.exact\.reads ' "$log")
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

	grep -qE '^# migrate: no KVM_CAP_CLOCK_GUEST: ' "$log" ||
		fail "migrate did not restore with pvclock_restore(), see $log"
	rows=$(grep -cE '^# metric migrate\.(young|old)\.(vcpu[01]\.max_diff|entries_before_restore) ' "$log")
	[ "$rows" = 6 ] || fail "migrate: $rows of 6 figures (2 restores, 2 vCPUs), see $log"
	bad=$(awk '$1 == "#" && $2 == "metric" &&
		   ($3 ~ /^migrate\.(young|old)\.entries_before_restore$/ && $4 != 0 ||
		    $3 ~ /^migrate\.(young|old)\.vcpu[01]\.reads$/ && $4 < 1000000 ||
		    $3 ~ /^migrate\.(young|old)\.vcpu[01]\.max_diff$/ && $4 > 1)' "$log")
	[ -z "$bad" ] || fail "migrate: $bad"
}

run_in_vm()
{
	local kernel=$1 log=$2 rc=0 name

	BUILD=$build scripts/vm-run.sh --kernel "$kernel" -- pvclock_drift_test \
		--reads 1000000 >"$log" 2>&1 || rc=$?
	sed 's/^/# /' "$log"
	if [ "$kernel" = debian-6.1 ]; then
		[ $rc -eq 1 ] || fail "the selftest in $kernel exited $rc, not 1 (vcpu_hotplug), see $log"
		grep -qE '^not ok [0-9]+ vcpu_hotplug$' "$log" ||
			fail "vcpu_hotplug did not fail in $kernel, see $log"
		grep -qE '^# vcpu_hotplug: the reference moved: a step of -?[0-9]+ ns \(old - new\)$' "$log" ||
			fail "vcpu_hotplug failed in $kernel without reporting the step, see $log"
	else
		[ $rc -eq 0 ] || fail "the selftest in $kernel exited $rc, see $log"
	fi
	for name in $subtests; do
		[ "$name" = set_clock_guest ] && continue
		[ "$name" = vcpu_hotplug ] && [ "$kernel" = debian-6.1 ] && continue
		grep -qE "^ok [0-9]+ $name\$" "$log" ||
			fail "$name did not run and pass in $kernel, see $log"
	done
	grep -qE '^ok [0-9]+ set_clock_guest # SKIP KVM_CAP_CLOCK_GUEST not supported' "$log" ||
		fail "set_clock_guest did not skip for want of KVM_CAP_CLOCK_GUEST in $kernel, see $log"
	check_exact "$log"
	check_migrate_stock "$log"
	ktap_strict "$log"
	[ "$kernel" != debian-6.1 ] ||
		ok "in a VM of $kernel: vcpu_hotplug failed as it must, $(sed -n 's/^# vcpu_hotplug: the reference moved: \(a step of .*\) (old - new)$/\1/p' "$log") (no v6.8 fix)"
	ok "in a VM of $kernel ($(sed -n 's/^# vm: kernel \([^ ]*\).*accel \([a-z]*\).*/\1, \2/p' "$log")): every subtest passed but set_clock_guest (skipped)$([ "$kernel" != debian-6.1 ] || echo " and vcpu_hotplug (failed, above)"); exact 0 differing in each of $exact_rows comparisons of >= 1000000 reads; migrate restored twice by pvclock_restore() before any guest entry, every read within 1 ns"
}

# install_in_tree VERSION: on a fresh copy of the VERSION tree, make
# install, the tree's own kselftest build of TARGETS=kvm (every KVM test,
# this one with no warning from its files), the kselftest runner where
# this machine has KVM, and make uninstall leaving the copy as the tree.
install_in_tree()
{
	local ver=$1 tree=$build/trees/linux-$1 copy=$scratch/linux-$1 out=$scratch/out
	local bin arch

	rm -rf "$scratch"
	mkdir -p "$scratch"
	cp -a "$tree" "$copy"
	make -s install KSRC="$copy" >"$logs/install-$ver.log" 2>&1 ||
		fail "make install into $ver, see $logs/install-$ver.log"
	# O= keeps the objects out of the copy, so that diff -r can judge
	# uninstall.
	make -C "$copy/tools/testing/selftests" TARGETS=kvm O="$out" -j2 \
		>"$logs/intree-build-$ver.log" 2>&1 ||
		fail "in-tree build of $ver, see $logs/intree-build-$ver.log"
	bin=$(find "$out/kselftest/kvm" -name pvclock_drift_test -type f | head -n 1)
	[ -n "$bin" ] && [ -x "$bin" ] || fail "the in-tree build of $ver made no pvclock_drift_test"
	! grep -E 'pvclock[a-z_]*\.[ch]:[0-9]+(:[0-9]+)?: (warning|error)' \
		"$logs/intree-build-$ver.log" ||
		fail "warnings from the installed files, see $logs/intree-build-$ver.log"
	ok "in-tree build of $ver with the test installed: every KVM test built"

	if kvm_usable; then
		arch=$(basename "$(dirname "$bin")")
		make -C "$copy/tools/testing/selftests" TARGETS=kvm O="$out" run_tests \
			"TEST_GEN_PROGS_$arch=$arch/pvclock_drift_test" "TEST_PROGS_$arch=" \
			>"$logs/runner-$ver.log" 2>&1 || fail "kselftest runner, see $logs/runner-$ver.log"
		grep -qE '^ok [0-9]+ selftests: kvm: pvclock_drift_test$' "$logs/runner-$ver.log" ||
			fail "the kselftest runner did not pass it, see $logs/runner-$ver.log"
		check_ktap "$logs/runner-$ver.log"
		ok "kselftest runner of $ver ran pvclock_drift_test"
	fi

	make -s uninstall KSRC="$copy" >"$logs/uninstall-$ver.log" 2>&1 ||
		fail "make uninstall from $ver, see $logs/uninstall-$ver.log"
	diff -r "$tree" "$copy" >"$logs/uninstall-$ver.diff" 2>&1 ||
		fail "uninstall left the $ver tree changed, see $logs/uninstall-$ver.diff"
	ok "make uninstall restored the $ver tree"
	rm -rf "$scratch"
}

mkdir -p "$logs"
trees="$BASE_KVER ${OLD_KVERS//,/ }"
for ver in $trees; do
	make -s selftest KVER="$ver" >"$logs/build-$ver.log" 2>&1 ||
		fail "make selftest KVER=$ver, see $logs/build-$ver.log"
	ok "make selftest KVER=$ver"
done
# The subtests, as the test names them (the library may print a line
# first).  From 7.2 on the library's constructor ends the program with exit
# 4 before main() where /dev/kvm cannot be opened, --list included; 6.1's
# does not.
subtests=$("$build/kvm-6.1/pvclock_drift_test" --list | grep -E '^[a-z_]+$' | tr '\n' ' ')
[ -n "$subtests" ] || fail "pvclock_drift_test --list named no subtest"

for ver in $INTREE_KVERS; do
	install_in_tree "$ver"
done

for ver in $trees; do
	check_runner "$ver"
done
for ver in $trees; do
	run_binary "$build/kvm-$ver/pvclock_drift_test" "$logs/run-$ver.log"
done
for ver in $trees; do
	run_in_vm "debian-$ver" "$logs/vm-debian-$ver.log"
done
echo "1..$n"
say "$n passed, 0 failed"
