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
#   3. make lava-run in debian-BASE_KVER (CI's one run of it): exit 0; its
#      job's tests.list is make's SELFTEST_PROGS, subtests.list each
#      program's --list, and lava/expected names only subtests that exist;
#      the table is every subtest of every program and each program, with
#      the results the contract gives Debian's kernels (the clock-guest
#      subtests skip, a program made only of them skips, the rest pass).
#   4. the judgement (lava-run.sh --judge) of that run's log: again exit 0;
#      changed, or of a bzImage (which must pass what Debian's skip) or of
#      debian-6.1 (where vcpu_hotplug must fail, lacking v6.8's fix), a
#      failed subtest, a program's or a subtest's case missing, libguestfs
#      and QEMU not starting, the overlay's disk not mounted: each exit 1
#      with a line naming it.  A kernel without virtio_blk (a modules
#      tree whose modules.builtin lacks it): lava-job.sh says so and
#      lava-run.sh stops at once, exit 1, with that line.
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
case crash/crash.ktap_plan fail
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
# What the tests' contract says of Debian's kernels: no KVM_GET/SET_CLOCK_GUEST,
# so these subtests skip, a program all of whose subtests are among them
# skips as a whole (exit 4), and every other test case passes.
debian_skips=" set_clock_guest migrate_clock_guest "
job=$build/lava/job
run=$build/lava/run
# The command CI is for: make lava-run, which writes the job and runs it.
start=$(date +%s)
make -s --no-print-directory lava-run BUILD="${BUILD:-build}" KERNEL="debian-$BASE_KVER" \
	LAVA_CPU=EPYC,+svm >"$tmp/run.log" 2>&1
rc=$?
secs=$(($(date +%s) - start))
grep -E '^(lava-|  )' "$tmp/run.log" | sed 's/^/# /'
same "make lava-run KERNEL=debian-$BASE_KVER: exit 0 ($secs s)" 0 "$rc"
# The programs make builds, as make itself names them.
# shellcheck disable=SC2016 # make expands it
progs=$(make -s --no-print-directory BUILD="${BUILD:-build}" \
	--eval 'lava-test-progs: ; @echo $(SELFTEST_PROGS)' lava-test-progs)
same "the job: tests.list is make's SELFTEST_PROGS, in order ($(wc -w <<<"$progs") programs)" \
	"$progs" "$(tr '\n' ' ' <"$job/tests.list" | sed 's/ $//')"
# Each program's subtests, as its own --list names them.
listed=
for prog in $progs; do
	for name in $("$build/kvm-$BASE_KVER/$prog" --list 2>/dev/null | grep -E '^[a-z0-9_]+$'); do
		listed+="$prog $name"$'\n'
	done
done
same "the job: subtests.list is each program's --list" "${listed%$'\n'}" "$(cat "$job/subtests.list")"
# lava/expected names subtests that exist (a renamed one would otherwise
# leave its expectation unused).
unknown=
while read -r kind name _; do
	[ "$kind" = needs ] || [ "$kind" = checks ] || continue
	grep -qE " $name\$" "$job/subtests.list" || unknown+=" $name"
done <lava/expected
same "lava/expected: each subtest it names is one a program lists" "" "$unknown"

results=$run/results.txt
# The recorded results (not lava-run.sh's EXPECTED column) against the
# contract: each case of the table, in the table's order.
want="kvm_setup pass"$'\n'
for prog in $progs; do
	all_skip=1
	names=$(awk -v p="$prog" '$1 == p { print $2 }' "$job/subtests.list")
	[ -n "$names" ] || all_skip=0
	for name in $names; do
		if [[ $debian_skips == *" $name "* ]]; then
			want+="$prog/$name skip"$'\n'
		else
			want+="$prog/$name pass"$'\n'
			all_skip=0
		fi
	done
	if [ "$all_skip" = 1 ]; then
		want+="$prog skip"$'\n'
	else
		want+="$prog pass"$'\n'
	fi
done
same "debian-$BASE_KVER: every subtest of every program a test case, as the contract says ($(grep -cE ' pass +pass' "$results" 2>/dev/null) passed, $(grep -cE ' skip +skip' "$results" 2>/dev/null) skipped)" \
	"${want%$'\n'}" "$(sed 1d "$results" 2>/dev/null | awk '{ print $1, $2 }')"

# ---- 4. the judgement, on that log changed ----
# judged WHAT LOG KERNEL LINE: lava-run.sh --judge LOG, the job's kernel
# being KERNEL, exits 1 with the last line LINE (an extended regexp).
judged()
{
	local what=$1 log=$2 line=$4 out rc

	mkdir -p "$tmp/judge"
	cp "$job/job.yaml" "$job/tests.list" "$job/subtests.list" "$tmp/judge/"
	echo "$3" >"$tmp/judge/kernel.txt"
	out=$(BUILD=$build lava/lava-run.sh --judge "$log" --out "$tmp/judge/out" "$tmp/judge" 2>&1)
	rc=$?
	if [ "$rc" = 1 ] && tail -n 1 <<<"$out" | grep -qE "^lava-run.sh: $line"; then
		ok "judgement: $what: exit 1, $(tail -n 1 <<<"$out" | cut -c1-90)"
	else
		not_ok "judgement: $what: exit $rc" "$(tail -n 1 <<<"$out")"
	fi
}
log=$run/lava.log
first_prog=$(head -n 1 "$job/tests.list")
# A subtest that passed, and the last one listed.
passed=$(sed 1d "$results" | awk '$1 ~ /\// && $2 == "pass" { print $1; exit }')
last=$(tail -n 1 "$job/subtests.list" | tr ' ' /)
if [ "$rc" = 0 ] && [ -f "$log" ] && [ -n "$passed" ]; then
	out=$(BUILD=$build lava/lava-run.sh --judge "$log" --out "$tmp/judge-same" "$job" 2>&1)
	same "judgement: the log judged again: exit 0" 0 "$?"
	# The project's kernel (a bzImage) has KVM_GET/SET_CLOCK_GUEST: what
	# skipped in Debian's must pass there, the program too.
	skipped=$(sed 1d "$results" | awk '$2 == "skip" { printf "%s%s skip", s, $1; s = " " }')
	judged "skips that a bzImage should not give" "$log" /boot/bzImage-7.3 \
		"$(grep -o ' skip' <<<"$skipped" | wc -l) test case\(s\) not as /boot/bzImage-7.3 should give: $skipped"
	# Debian 12's 6.1 lacks v6.8's fix of the master clock update on vCPU
	# hotplug (selftest.rst): vcpu_hotplug and its program must fail there.
	hotplug=$(awk '$2 == "vcpu_hotplug" { print $1 "/" $2 }' "$job/subtests.list")
	judged "passes that 6.1 should not give" "$log" debian-6.1 \
		"2 test case\(s\) not as debian-6.1 should give: $hotplug pass ${hotplug%/*} pass"
	sed "s/\(\"case\": \"${passed#*/}\", \"definition\": \"[^\"]*\", \)\(.*\)\"result\": \"pass\"/\1\2\"result\": \"fail\"/" \
		"$log" >"$tmp/fail.log"
	judged "a failed subtest" "$tmp/fail.log" "debian-$BASE_KVER" \
		"1 test case\(s\) not as debian-$BASE_KVER should give: $passed fail"
	grep -vE "\"case\": \"$first_prog\", \"definition\"" "$log" >"$tmp/missing.log"
	judged "a program's test case missing" "$tmp/missing.log" "debian-$BASE_KVER" \
		"1 test case\(s\) not as debian-$BASE_KVER should give: $first_prog missing"
	grep -vE "\"case\": \"${last#*/}\", \"definition\"" "$log" >"$tmp/missing.log"
	judged "a subtest's test case missing" "$tmp/missing.log" "debian-$BASE_KVER" \
		"1 test case\(s\) not as debian-$BASE_KVER should give: $last missing"
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
	judged "QEMU not starting" "$tmp/qemu.log" "debian-$BASE_KVER" \
		"no kvm_setup test case in debian-$BASE_KVER: Connection closed; qemu-system-x86_64: unable to find CPU model 'NoSuchCPU'"
	{
		sed '/"lvl": "input", "msg": "mount \/dev\/disk\/by-uuid/q' "$log"
		echo '{"dt": "2026-12-07T18:45:07.988665", "lvl": "target", "msg": "mount: mounting /dev/disk/by-uuid/9eea45d0-d21b-410c-aa59-b891e2fa2210 on /lava-28164 failed: No such file or directory"}'
		echo '{"dt": "2026-12-07T18:50:08.598359", "lvl": "results", "msg": {"case": "job", "definition": "lava", "error_msg": "lava-test-shell timed out after 300 seconds", "error_type": "Infrastructure", "result": "fail"}}'
	} >"$tmp/mount.log"
	judged "the overlay's disk not mounted" "$tmp/mount.log" "debian-$BASE_KVER" \
		"no kvm_setup test case in debian-$BASE_KVER: lava-test-shell timed out after 300 seconds; the device did not mount the test overlay: mount: mounting /dev/disk/by-uuid/"
else
	not_ok "judgement: no successful run in debian-$BASE_KVER to judge again"
fi

# A kernel that cannot mount LAVA's test overlay disk: Debian's, its
# modules folder made a modules_install tree of KVM's modules only, with a
# modules.builtin that names ext4 (so that what is built in is known).
if [ -f "$job/no-overlay-disk" ]; then
	not_ok "debian-$BASE_KVER: lava-job.sh says it cannot mount the overlay: $(cat "$job/no-overlay-disk")"
else
	ok "debian-$BASE_KVER: lava-job.sh finds the overlay's disk mountable (no no-overlay-disk)"
fi
fetched=$(BUILD=$build scripts/vm-run.sh --kernel "debian-$BASE_KVER" --fetch 2>/dev/null)
kimage=$(sed -n 1p <<<"$fetched")
release=$(basename "$(dirname "$kimage")")
mods=$tmp/mods/lib/modules/$release
mkdir -p "$mods"
(cd "$(sed -n 2p <<<"$fetched")/$release" &&
	find kernel/arch/x86/kvm kernel/virt -name '*.ko*' -exec cp --parents {} "$mods/" \;)
echo kernel/fs/ext4/ext4.ko >"$mods/modules.builtin"
BUILD=$build lava/lava-job.sh --kernel "$kimage" --modules "$tmp/mods" --out "$tmp/nodisk" \
	"$build/kvm-$BASE_KVER/$first_prog" >/dev/null 2>"$tmp/nodisk.log"
same "lava-job.sh, a kernel without virtio_blk: exit 0, and it says so" \
	"0 lava-job.sh: $kimage ($release) has no virtio_blk, neither built in nor as a module" \
	"$? $(grep -o '^lava-job.sh: .* as a module' "$tmp/nodisk.log")"
start=$(date +%s)
out=$(BUILD=$build lava/lava-run.sh --out "$tmp/nodisk-run" "$tmp/nodisk" 2>&1)
rc=$?
same "lava-run.sh, a kernel without virtio_blk: exit 1 at once ($(($(date +%s) - start)) s), not run" \
	"1 lava-run.sh: not run: $kimage ($release) has no virtio_blk" "$rc $(cut -d, -f1 <<<"$out")"

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
