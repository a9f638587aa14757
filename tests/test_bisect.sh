#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# scripts/bisect-run.sh against a fake test binary: the exit-code mapping
# (pass 0, fail 1, skip 125, crash or timeout 125), --only, and every usage
# error aborting the bisection (exit above 127) before the test runs.
# With a real selftest binary as $1, its own option parser is checked too,
# and the test that holds an --only subtest is found in its folder (the
# build of all the tests), a subtest no test has and an option none of the
# selected tests takes being usage errors;
# with a kernel as $2 (a bzImage, or debian-VERSION), the helper's --kernel
# boots it for real: a passing run is good (0), a threshold the clock
# cannot meet is bad (1), a file that is not a kernel cannot be tested
# (125), and the log names the booted kernel's release; subtests of two
# tests run in one boot, and a failure in either is bad.  bisect-demo's
# command line is checked too, and, where Debian's BASE_KVER tree is
# cached (build/trees/linux-BASE_KVER), that every edit it makes applies
# to that tree.
# TAP output.
#
# usage: tests/test_bisect.sh [PATH/TO/pvclock_drift_test [KERNEL [MODULES]]]

root=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=tests/tap.sh
. "$root/tests/tap.sh"
helper=$root/scripts/bisect-run.sh
real=${1:-}
vm_kernel=${2:-}
vm_modules=${3:-}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# A fake pvclock_drift_test: parses like the real one (in order, --help
# stops, a bad option is a one-line error and exit 1), then prints the
# TAP in $FAKE_TAP (one line per ';') and exits $FAKE_RC, or dies of
# SIGSEGV ($FAKE_RC=segv) or hangs ($FAKE_RC=hang).  Each run is counted.
fake=$tmp/fake_test
cat >"$fake" <<'FAKE'
#!/bin/bash
echo run >>"$FAKE_COUNT"
while [ $# -gt 0 ]; do
	case $1 in
	--help) echo "Usage: fake"; exit 0 ;;
	--list)
		printf '%s\n' masterclock_update set_clock reference_update \
			set_clock_guest stock_restore concurrent_update migrate \
			vcpu_hotplug
		exit 0 ;;
	--only) shift 2 ;;
	--max-drift-ppb=* | --max-set-clock-ns=* | --tolerance-ns=*)
		case ${1#*=} in
		'' | *[!0-9]*) echo "fake: $1 is not a number" >&2; exit 1 ;;
		esac
		shift ;;
	--max-drift-ppb | --max-set-clock-ns | --tolerance-ns | --interval-ms)
		case ${2:-} in
		'' | *[!0-9]*) echo "fake: $1 is not a number" >&2; exit 1 ;;
		esac
		shift 2 ;;
	*) echo "fake: unknown option '$1'" >&2; exit 1 ;;
	esac
done
echo "run" >>"$FAKE_COUNT.real"
printf '%s\n' "${FAKE_TAP:-}" | tr ';' '\n'
case $FAKE_RC in
segv) kill -SEGV $$ ;;
hang) sleep 30 ;;
esac
exit "$FAKE_RC"
FAKE
chmod +x "$fake"
export FAKE_COUNT=$tmp/count

# step WANT NAME [HELPER ARGS...]: the helper exits WANT
step()
{
	local want=$1 name=$2 rc out
	shift 2
	rm -f "$FAKE_COUNT" "$FAKE_COUNT.real"
	out=$("$helper" --log "$tmp/log" "$@" 2>&1)
	rc=$?
	if [ "$rc" = "$want" ]; then
		ok "$name -> $rc"
	else
		not_ok "$name -> $rc (want $want)" "$(printf '%s\n' "$out" | tail -n 3)"
	fi
}

# usage_error NAME ARGS...: exit above 127, and the test never ran for real
usage_error()
{
	local name=$1 rc out
	shift
	rm -f "$FAKE_COUNT" "$FAKE_COUNT.real"
	out=$("$helper" --log "$tmp/log" "$@" 2>&1)
	rc=$?
	if [ "$rc" -gt 127 ] && [ ! -e "$FAKE_COUNT.real" ] &&
	   [ "$(printf '%s\n' "$out" | wc -l)" = 1 ]; then
		ok "usage error aborts: $name -> $rc"
	else
		not_ok "usage error aborts: $name -> $rc" "$out"
	fi
}

echo "TAP version 13"
T=(--test "$fake")
th=(--max-drift-ppb 200)

pass_tap='ok 1 masterclock_update;ok 2 set_clock # SKIP no'
FAKE_RC=0 FAKE_TAP=$pass_tap step 0 "pass is good" "${T[@]}" "${th[@]}"
FAKE_RC=0 FAKE_TAP='ok 1 masterclock_update # SKIP no;ok 2 set_clock # SKIP no' \
	step 125 "exit 0 with every subtest skipped cannot test" "${T[@]}" "${th[@]}"
FAKE_RC=0 step 125 "exit 0 with no subtest at all cannot test" "${T[@]}" "${th[@]}"
FAKE_RC=1 step 1 "fail is bad" "${T[@]}" "${th[@]}"
FAKE_RC=4 step 125 "skip cannot test" "${T[@]}" "${th[@]}"
FAKE_RC=2 step 125 "an exit code kselftests do not use" "${T[@]}" "${th[@]}"
FAKE_RC=segv step 125 "a crash of the test" "${T[@]}" "${th[@]}"
FAKE_RC=hang step 125 "a hang (--timeout 1)" "${T[@]}" --timeout 1 "${th[@]}"
FAKE_RC=1 step 1 "options after --" "${T[@]}" -- --max-drift-ppb=200
FAKE_RC=0 FAKE_TAP=$pass_tap step 0 "--no-threshold" "${T[@]}" --no-threshold
FAKE_RC=0 FAKE_TAP=$pass_tap PVCLOCK_TEST=$fake step 0 "\$PVCLOCK_TEST" "${th[@]}"

# --only: a failure elsewhere does not mark the commit bad
tap='ok 1 masterclock_update;not ok 2 set_clock;ok 3 reference_update # SKIP no'
FAKE_RC=1 FAKE_TAP=$tap step 0 "--only a passing subtest" "${T[@]}" \
	--only masterclock_update "${th[@]}"
FAKE_RC=1 FAKE_TAP=$tap step 1 "--only a failing subtest" "${T[@]}" \
	--only set_clock "${th[@]}"
FAKE_RC=1 FAKE_TAP=$tap step 125 "--only a skipped subtest" "${T[@]}" \
	--only reference_update "${th[@]}"
FAKE_RC=1 FAKE_TAP=$tap step 1 "--only a failing and a skipped one" \
	"${T[@]}" --only reference_update --only set_clock "${th[@]}"
FAKE_RC=0 FAKE_TAP='ok 1 set_clock' step 125 "--only a subtest not run" \
	"${T[@]}" --only masterclock_update "${th[@]}"
FAKE_RC=segv FAKE_TAP=$tap step 125 "--only, then a crash" "${T[@]}" \
	--only masterclock_update "${th[@]}"
moved='# vcpu_hotplug: the reference moved: a step of 5 ns (old - new)'
out=$(FAKE_RC=1 FAKE_TAP="$moved;not ok 1 vcpu_hotplug" "$helper" --log "$tmp/log" \
	"${T[@]}" --only vcpu_hotplug --no-threshold 2>&1)
rc=$?
if [ "$rc" = 1 ] && grep -qxF "$moved" <<<"$out"; then
	ok "a moved reference is bad, and its step is printed"
else
	not_ok "a moved reference is bad, and its step is printed (exit $rc)" "$out"
fi
FAKE_RC=0 step 0 "--check starts the test only" "${T[@]}" --check "${th[@]}"
if [ ! -e "$FAKE_COUNT.real" ]; then
	ok "--check does not run the test"
else
	not_ok "--check does not run the test"
fi
if grep -q 'verdict 1' "$tmp/log" && grep -q '^ok 1 masterclock_update' "$tmp/log"; then
	ok "the log keeps each step's verdict and TAP"
else
	not_ok "the log keeps each step's verdict and TAP"
fi

export FAKE_RC=0
usage_error "a typo in a test option" "${T[@]}" --max-drift-pbb 200
usage_error "a bad threshold value" "${T[@]}" --max-drift-ppb 2x
usage_error "a threshold without its value" "${T[@]}" --max-drift-ppb
usage_error "no threshold" "${T[@]}"
usage_error "an unknown helper option value" "${T[@]}" --only masterclock "${th[@]}"
usage_error "--only without a value" "${T[@]}" "${th[@]}" --only
usage_error "--timeout 0" "${T[@]}" --timeout 0 "${th[@]}"
usage_error "--timeout abc" "${T[@]}" --timeout abc "${th[@]}"
usage_error "--test followed by an option" --test --max-drift-ppb 200
usage_error "a missing test binary" --test "$tmp/nope" "${th[@]}"
usage_error "a folder without the tests" --test "$tmp" "${th[@]}"
: >"$tmp/plain"
usage_error "a test binary without the x bit" --test "$tmp/plain" "${th[@]}"
printf '#!/bin/sh\nexit 1\n' >"$tmp/broken"
chmod +x "$tmp/broken"
usage_error "a test whose --help fails" --test "$tmp/broken" "${th[@]}"
usage_error "--help among the test options" "${T[@]}" "${th[@]}" --help
usage_error "--help after --" "${T[@]}" -- "${th[@]}" --help
usage_error "an unwritable log" "${T[@]}" --log /proc/nope/log "${th[@]}"

# bisect-demo's command line: each mistake is one line and exit 2, before
# anything is built or written.
demo=$root/scripts/bisect-demo.sh
demo_usage_error()
{
	local name=$1 rc out
	shift
	out=$(BUILD=$tmp/demo-build "$demo" --test "$fake" "$@" 2>&1)
	rc=$?
	if [ "$rc" = 2 ] && [ "$(printf '%s\n' "$out" | wc -l)" = 1 ] &&
	   [ ! -e "$tmp/demo-build" ]; then
		ok "bisect-demo: $name -> 2"
	else
		not_ok "bisect-demo: $name -> $rc" "$out"
	fi
}
demo_usage_error "a threshold without --drift-ppb" --threshold-ppb 200
demo_usage_error "--drift-ppb 0" --drift-ppb 0
demo_usage_error "--drift-ppb of 10 %" --drift-ppb 100000000
demo_usage_error "--drift-ppb 4e2" --drift-ppb 4e2
demo_usage_error "--drift-ppb without a value" --drift-ppb
demo_usage_error "--threshold-ppb 0" --drift-ppb 400 --threshold-ppb 0
demo_usage_error "a threshold the test refuses" --drift-ppb 400 --threshold-ppb 1000000001
demo_usage_error "a seed beyond 64 bits" --seed 99999999999999999999
demo_usage_error "--jobs 0" --jobs 0
demo_usage_error "an unknown argument" --drift 400
if "$demo" --help | grep -q -- '--drift-ppb N'; then
	ok "bisect-demo: --help names --drift-ppb"
else
	not_ok "bisect-demo: --help names --drift-ppb"
fi
demo_usage_error "--check-edits without a tree" --check-edits

# The demo's commits and both regressions on the base it builds: each
# text it replaces is there, once.
base_tree=$build/trees/linux-$BASE_KVER
if [ -d "$base_tree/arch/x86/kvm" ]; then
	if out=$("$demo" --check-edits "$base_tree" 2>&1); then
		ok "bisect-demo: every edit applies to Debian's $BASE_KVER tree"
	else
		not_ok "bisect-demo: its edits do not apply to Debian's $BASE_KVER tree" "$out"
	fi
else
	echo "ok $((n + 1)) bisect-demo's edits on $BASE_KVER # SKIP $base_tree not fetched"
	n=$((n + 1))
fi

if [ -n "$real" ] && [ -x "$real" ]; then
	R=(--test "$real")
	usage_error "real test: a typo" "${R[@]}" --max-drift-pbb 200
	usage_error "real test: a bad value" "${R[@]}" --max-drift-ppb -5
	usage_error "real test: out of range" "${R[@]}" --max-drift-ppb 1000000001
	usage_error "real test: an abbreviated option" "${R[@]}" \
		--max-drift-ppb 200 --max-set 5000
	usage_error "real test: an option given twice" "${R[@]}" \
		--max-drift-ppb 200 --max-drift-ppb 300
	usage_error "real test: a stray argument" "${R[@]}" --max-drift-ppb 200 5
	usage_error "real test: a value swallowed" "${R[@]}" --max-drift-ppb --interval-ms 5
	step 0 "real test: --check" "${R[@]}" --check --max-drift-ppb 200 \
		--interval-ms 3000
	# The test that holds the subtest, wherever it is in the build.
	tests=$(dirname "$real")
	for t in "$tests" "$real"; do
		out=$("$helper" --log "$tmp/log" --test "$t" --only migrate --check \
			--restore-tolerance-ns 1 2>&1)
		rc=$?
		if [ "$rc" = 0 ] && grep -q "pvclock_restore_test --only 'migrate'" <<<"$out"; then
			ok "--test ${t#"$root"/} --only migrate: found in pvclock_restore_test"
		else
			not_ok "--test ${t#"$root"/} --only migrate: exit $rc" "$out"
		fi
	done
	usage_error "folder: a subtest no test has" --test "$tests" --only migrat --no-threshold
	usage_error "folder: an option no selected test takes" --test "$tests" \
		--only migrate --max-drift-ppb 200
	usage_error "folder: a bad value" --test "$tests" --only migrate \
		--restore-tolerance-ns 1x
elif [ -n "$real" ]; then
	echo "ok $((n + 1)) real test binary # SKIP $real not built"
	n=$((n + 1))
fi

if [[ $vm_kernel == debian-* ]]; then
	# The same kernel as a plain bzImage path and a modules folder, as a
	# bisection's build steps leave them.
	{ read -r vm_kernel && read -r vm_modules; } < <("$root/scripts/vm-run.sh" --kernel "$vm_kernel" --fetch)
fi
if [ -n "$vm_kernel" ] && [ -x "$real" ]; then
	R=(--test "$real" --kernel "$vm_kernel")
	[ -z "$vm_modules" ] || R+=(--modules "$vm_modules")
	step 0 "real boot of $vm_kernel: passing" "${R[@]}" --max-drift-ppb 100000
	release=$(tail -n +1 "$tmp/log" | sed -n 's/^=== .* kernel \([^ ]*\): verdict.*/\1/p' | tail -n 1)
	if [ -n "$release" ] && [ "$release" != "$(uname -r)" ]; then
		ok "the log names the booted kernel: $release"
	else
		not_ok "the log names kernel '$release' (this machine runs $(uname -r))"
	fi
	step 1 "real boot of $vm_kernel: a threshold no clock meets" "${R[@]}" \
		--only set_clock --max-set-clock-ns 1
	echo 'not a kernel' >"$tmp/bzImage"
	step 125 "real boot of a file that is not a kernel" --test "$real" \
		--kernel "$tmp/bzImage" --max-drift-ppb 100000
	step 125 "a step whose kernel is missing" --test "$real" \
		--kernel "$tmp/no-bzImage" --max-drift-ppb 100000
	step 0 "real boot: subtests of two tests, one boot" "${R[@]}" \
		--only migrate --only vcpu_hotplug --no-threshold
	step 1 "real boot: a failure in one of two tests" "${R[@]}" \
		--only stock_restore --only set_clock --max-set-clock-ns 1
fi

echo "1..$n"
echo "# bisect helper: $n checks, $failed failed"
[ "$failed" = 0 ]
