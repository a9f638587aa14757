#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# The LAVA job (lava/, Documentation/lava.rst).  TAP.
#   1. lava/kvm-selftests.sh, the test definition's runner, under busybox's
#      sh on this machine with fake test programs and no lava-test-case:
#      the test cases of passing, failing, skipping, crashing and skipped
#      programs; and a setup that fails (no KVM device, a modprobe that
#      fails): kvm_setup fails with the reason and nothing else runs.
#   2. bad command lines of lava-job.sh and lava-run.sh: one line, exit 2.
#   3. make lava-job, then lava-run.sh for real in debian-BASE_KVER: exit
#      0, kvm_setup passed, a test case for every program of the job and
#      for every subtest its --list names.
#   4. the judgement (lava-run.sh --judge) of that run's log, changed: a
#      skip the kernel should not give, a failed subtest, a program's case
#      missing, libguestfs and QEMU not starting, the overlay's disk not
#      mounted: each exit 1 with a line naming it.
#   5. the same job on a CPU without SVM: exit 1 with the setup failure's
#      line, kvm_setup failed and no other test case.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
# shellcheck source=tests/tap.sh
. tests/tap.sh

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# fake NAME EXIT LINE...: a test program NAME in $tmp/tests that prints
# the LINEs and exits EXIT.
fake()
{
	local name=$1 rc=$2

	shift 2
	{
		echo '#!/bin/sh'
		printf "echo '%s'\n" "$@"
		echo "exit $rc"
	} >"$tmp/tests/$name"
	chmod +x "$tmp/tests/$name"
}

# same WHAT EXPECTED ACTUAL: ok when the two texts are the same.
same()
{
	if [ "$2" = "$3" ]; then
		ok "$1"
	else
		not_ok "$1" "expected:" "${2//$'\n'/ | }" "got:" "${3//$'\n'/ | }"
	fi
}

# ---- 1. the runner, with fake programs ----
mkdir -p "$tmp/tests" "$tmp/bin"
fake mixed 1 'TAP version 13' '1..4' 'ok 1 alpha' '# FAIL: why' 'not ok 2 beta' \
	'ok 3 gamma # SKIP no reason' 'ok 4 - delta one'
fake nokvm 4 'TAP version 13' '1..0 # SKIP /dev/kvm: none'
fake crash 139 'TAP version 13' '1..3' 'ok 1 first'
fake clean 0 'TAP version 13' '1..1' 'ok 1 only'
printf '%s\n' mixed '# a comment' nokvm crash '' clean >"$tmp/tests/tests.list"
# A modprobe that fails, so that nothing of this machine's is loaded.
cat >"$tmp/bin/modprobe" <<'EOF'
#!/bin/sh
echo "modprobe: FATAL: Module $1 not found" >&2
exit 1
EOF
chmod +x "$tmp/bin/modprobe"

runner()
{
	PATH=$tmp/bin:$PATH KVM_CLOCK_WAIT=0 busybox sh lava/kvm-selftests.sh "$tmp/tests"
}

out=$(KVM_DEV=/dev/null runner 2>&1)
rc=$?
same "runner: the cases of passing, failing, skipping and crashing programs" \
	"case kvm_setup pass
case mixed/alpha pass
case mixed/beta fail
case mixed/gamma skip
case mixed/delta_one pass
case mixed fail
case nokvm skip
case crash/first pass
case crash/ktap_plan fail
case crash fail
case clean/only pass
case clean pass" "$(grep '^case ' <<<"$out")"
same "runner: exit 0 once the cases are recorded" 0 "$rc"

out=$(KVM_DEV=$tmp/no-kvm runner 2>&1)
rc=$?
same "runner: a failed setup is kvm_setup failing, and no test runs" \
	"case kvm_setup fail" "$(grep '^case ' <<<"$out")"
if grep -qE '^kvm-selftests: setup failed: (the CPU shows neither svm nor vmx|modprobe kvm_(amd|intel) failed: modprobe: FATAL)' <<<"$out"; then
	ok "runner: the setup failure says why ($(sed -n 's/^kvm-selftests: setup failed: //p' <<<"$out" | cut -c1-60)...)"
else
	not_ok "runner: the setup failure does not say why" "${out//$'\n'/ | }"
fi
same "runner: exit 0 after a failed setup too" 0 "$rc"
out=$(runner_dir=$tmp/none; PATH=$tmp/bin:$PATH busybox sh lava/kvm-selftests.sh "$runner_dir" 2>&1)
same "runner: no tests.list, exit 1" "1 kvm-selftests: no tests.list in $tmp/none" "$? $out"

# ---- 2. bad command lines ----
# bad SCRIPT ARGS...: exit 2 with one line.
bad()
{
	local script=$1 out rc

	shift
	out=$(BUILD=$build "lava/$script" "$@" 2>&1 >/dev/null)
	rc=$?
	if [ "$rc" = 2 ] && [ "$(wc -l <<<"$out")" = 1 ]; then
		ok "$script $*: exit 2, one line"
	else
		not_ok "$script $*: exit $rc, $(wc -l <<<"$out") lines" "${out//$'\n'/ | }"
	fi
}
touch "$tmp/notexec"
bad lava-job.sh "$tmp/tests/clean"
bad lava-job.sh --kernel debian-"$BASE_KVER"
bad lava-job.sh --kernel debian-"$BASE_KVER" "$tmp/notexec"
bad lava-job.sh --kernel debian-"$BASE_KVER" --url ftp://lab/x "$tmp/tests/clean"
bad lava-job.sh --kernel
bad lava-job.sh --frobnicate
bad lava-run.sh --cpu 'EPYC svm'
bad lava-run.sh --out
bad lava-run.sh --frobnicate
bad lava-run.sh "$tmp/tests"

# ---- 3. a real run in debian-BASE_KVER ----
job=$build/lava/job
if ! make -s lava-job BUILD="${BUILD:-build}" KERNEL="debian-$BASE_KVER" >"$tmp/job.log" 2>&1; then
	sed 's/^/# /' "$tmp/job.log"
	fail "make lava-job KERNEL=debian-$BASE_KVER failed"
fi
ok "make lava-job KERNEL=debian-$BASE_KVER: $(grep -c . "$job/tests.list") program(s), $job/job.yaml"

run=$build/lava/test-svm
start=$(date +%s)
BUILD=$build lava/lava-run.sh --out "$run" "$job" >"$tmp/run.log" 2>&1
rc=$?
secs=$(($(date +%s) - start))
sed 's/^/# /' "$tmp/run.log"
same "lava-run.sh in debian-$BASE_KVER: exit 0 ($secs s)" 0 "$rc"
results=$run/results.txt
if grep -qE '^kvm_setup +pass ' "$results" 2>/dev/null; then
	ok "debian-$BASE_KVER: kvm_setup passed"
else
	not_ok "debian-$BASE_KVER: kvm_setup did not pass"
fi
while read -r prog _; do
	[ -n "$prog" ] || continue
	if grep -qE "^$prog +(pass|skip|fail) " "$results" 2>/dev/null; then
		ok "debian-$BASE_KVER: a test case for program $prog"
	else
		not_ok "debian-$BASE_KVER: no test case for program $prog"
	fi
	# Every subtest its --list names (a program without --list is not
	# checked here), each with its own test case.
	names=$("$build/kvm-$BASE_KVER/$prog" --list 2>/dev/null | grep -E '^[a-z0-9_]+$') || continue
	missing=
	for name in $names; do
		grep -qE "^$prog/$name +(pass|skip|fail) " "$results" || missing+=" $name"
	done
	if [ -z "$missing" ]; then
		ok "debian-$BASE_KVER: each of the $(wc -w <<<"$names") subtests of $prog a test case ($(grep -cE "^$prog/[^ ]+ +pass " "$results") passed, $(grep -cE "^$prog/[^ ]+ +skip " "$results") skipped)"
	else
		not_ok "debian-$BASE_KVER: subtests of $prog without a test case:$missing"
	fi
done <"$job/tests.list"

# ---- 4. the judgement, on that log changed ----
# judged WHAT LOG KERNEL LINE: lava-run.sh --judge LOG, the job's kernel
# being KERNEL, exits 1 with the last line LINE (an extended regexp).
judged()
{
	local what=$1 log=$2 line=$4 out rc

	mkdir -p "$tmp/judge"
	cp "$job/job.yaml" "$job/tests.list" "$tmp/judge/"
	echo "$3" >"$tmp/judge/kernel.txt"
	out=$(BUILD=$build lava/lava-run.sh --judge "$log" --out "$tmp/judge/out" "$tmp/judge" 2>&1)
	rc=$?
	if [ "$rc" = 1 ] && tail -n 1 <<<"$out" | grep -qE "^lava-run.sh: $line"; then
		ok "judgement: $what: exit 1, $(tail -n 1 <<<"$out" | cut -c1-90)"
	else
		not_ok "judgement: $what: exit $rc" "$(tail -n 1 <<<"$out")"
	fi
}
log=$build/lava/test-svm/lava.log
if [ -f "$log" ]; then
	judged "a skip that a bzImage should not give" "$log" /boot/bzImage-7.3 \
		"1 test case\(s\) not as /boot/bzImage-7.3 should give: pvclock_drift_test/set_clock_guest skip"
	sed 's/\("case": "migrate", "definition": "[^"]*", \)\(.*\)"result": "pass"/\1\2"result": "fail"/' \
		"$log" >"$tmp/fail.log"
	judged "a failed subtest" "$tmp/fail.log" "debian-$BASE_KVER" \
		"1 test case\(s\) not as debian-$BASE_KVER should give: pvclock_drift_test/migrate fail"
	grep -vE '"case": "pvclock_drift_test", "definition"' "$log" >"$tmp/missing.log"
	judged "a program's test case missing" "$tmp/missing.log" "debian-$BASE_KVER" \
		"1 test case\(s\) not as debian-$BASE_KVER should give: pvclock_drift_test missing"
	{
		sed '/start: 1.2 apply-overlay-guest/q' "$log"
		echo '{"dt": "2026-12-07T18:36:40.598359", "lvl": "results", "msg": {"case": "job", "definition": "lava", "error_msg": "Unable to start libguestfs", "error_type": "Infrastructure", "result": "fail"}}'
	} >"$tmp/guestfs.log"
	judged "libguestfs not starting" "$tmp/guestfs.log" "debian-$BASE_KVER" \
		"no kvm_setup test case in debian-$BASE_KVER: Unable to start libguestfs"
	{
		sed '/start: 2.1.1 execute-qemu/q' "$log"
		echo '{"dt": "2026-12-07T18:41:38.647737", "lvl": "target", "msg": "qemu-system-x86_64: unable to find CPU model '"'NoSuchCPU'"'"}'
		echo '{"dt": "2026-12-07T18:41:38.769426", "lvl": "results", "msg": {"case": "job", "definition": "lava", "error_msg": "Connection closed", "error_type": "Infrastructure", "result": "fail"}}'
	} >"$tmp/qemu.log"
	{
		sed '/"lvl": "input", "msg": "mount \/dev\/disk\/by-uuid/q' "$log"
		echo '{"dt": "2026-12-07T18:45:07.988665", "lvl": "target", "msg": "mount: mounting /dev/disk/by-uuid/9eea45d0-d21b-410c-aa59-b891e2fa2210 on /lava-28164 failed: No such file or directory"}'
		echo '{"dt": "2026-12-07T18:50:08.598359", "lvl": "results", "msg": {"case": "job", "definition": "lava", "error_msg": "lava-test-shell timed out after 300 seconds", "error_type": "Infrastructure", "result": "fail"}}'
	} >"$tmp/mount.log"
	judged "the overlay's disk not mounted" "$tmp/mount.log" "debian-$BASE_KVER" \
		"no kvm_setup test case in debian-$BASE_KVER: lava-test-shell timed out after 300 seconds; the device did not mount the test overlay: mount: mounting /dev/disk/by-uuid/"
	judged "QEMU not starting" "$tmp/qemu.log" "debian-$BASE_KVER" \
		"no kvm_setup test case in debian-$BASE_KVER: Connection closed; qemu-system-x86_64: unable to find CPU model 'NoSuchCPU'"
else
	not_ok "judgement: no log of the run in debian-$BASE_KVER"
fi

# ---- 5. a CPU without SVM: KVM cannot load ----
run=$build/lava/test-nosvm
BUILD=$build lava/lava-run.sh --cpu EPYC,-svm --out "$run" "$job" >"$tmp/run.log" 2>&1
rc=$?
sed 's/^/# /' "$tmp/run.log"
same "lava-run.sh on a CPU without SVM: exit 1" 1 "$rc"
if grep -qE "^lava-run.sh: setup failed in debian-$BASE_KVER, no test ran: the CPU shows neither svm nor vmx" "$tmp/run.log"; then
	ok "without SVM: the last line says the setup failed, and why"
else
	not_ok "without SVM: no line says the setup failed and why"
fi
same "without SVM: kvm_setup failed, and no other test case" "kvm_setup fail" \
	"$(sed 1d "$run/results.txt" 2>/dev/null | awk '{ print $1, $2 }')"
echo "1..$n"
[ "$failed" = 0 ]
