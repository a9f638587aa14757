#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# bisect-run.sh [HELPER OPTIONS] [--] TEST OPTIONS...
#	One step of `git bisect run`: run the tests (or the one test that
#	holds the subtests --only names) with the user's thresholds, on the
#	running kernel or (--kernel) inside the step's kernel booted by the
#	VM runner, and map their verdict to what git bisect expects:
#
#	  pass -> 0 (good)   fail -> 1 (bad)   skip -> 125 (cannot test)
#
#	A run in which no subtest passed or failed (every one skipped) is a
#	skip too, and so is a boot that gave no result (no kernel file, a
#	panic, a hang, no /dev/kvm inside).
#
#	A usage error (a helper option, a test option the test rejects, a
#	test binary that does not start) exits 255, which makes git bisect
#	stop instead of marking the commit bad.  Anything else the test does
#	(a crash, a timeout, an exit code kselftests do not use) is 125.
#
# Helper options:
#   --kernel K       boot K (a bzImage, or debian-X.Y such as debian-7.3) with
#                    scripts/vm-run.sh and run the test inside it; the
#                    test must then be static, as this project builds it
#   --modules DIR    with --kernel: the step's modules, for a modular KVM
#   --test PATH      the folder of the tests (a build of them: default
#                    build/kvm-BASE_KVER of this project, or
#                    $PVCLOCK_TEST), or one test binary.  In a folder the
#                    VM runner (scripts/vm-run.sh --build) finds the test
#                    of each --only name, and each test option goes to
#                    the tests that take it; a binary runs alone with the
#                    options as given, unless it lacks an --only name:
#                    then its folder is searched.  Across v6.8 use the
#                    6.1 build (build/kvm-6.1): the builds of later trees
#                    skip everything on kernels before 6.8, the 6.1 one
#                    runs on both
#   --only NAME      run only this subtest (repeatable; the tests' --list
#                    names them, in whichever test) and judge by its TAP
#                    line alone; a missing line is a skip
#   --timeout SECS   give up on a run after SECS (default 600): a skip
#   --log FILE       append each step's verdict and output (default:
#                    build/bisect/bisect.log of this project)
#   --no-threshold   allow a run without --max-drift-ppb, --max-set-clock-ns,
#                    --tolerance-ns or --restore-tolerance-ns (without one,
#                    little can fail)
#   --check          only check the arguments and that the test starts,
#                    exit 0; do it once before `git bisect run`
#
# Everything else, or everything after --, goes to the test.  Before each
# run the test options are checked by the tests themselves: the helper
# runs TEST OPTIONS --help (for a folder, through vm-run.sh --plan), which
# parses them in order and stops with an error at the first bad one.

set -uo pipefail

me=bisect-run.sh
# shellcheck source=scripts/lib.sh
. "$(dirname "$0")/lib.sh"
USAGE_EXIT=255
GOOD=0
BAD=1
SKIP=125
KSFT_PASS=0
KSFT_FAIL=1
KSFT_SKIP=4
VM_NO_RESULT=125
VM_USAGE=2

usage_exit=$USAGE_EXIT
usage_hint=" (bisection aborted: exit $USAGE_EXIT)"

test_bin=${PVCLOCK_TEST:-$build/kvm-$BASE_KVER}
kernel=
modules=
log=$build/bisect/bisect.log
timeout=600
only=()
no_threshold=0
check_only=0
targs=()

# A helper option's value: present, not empty, not the next option.
need_value()
{
	if [ $# -lt 2 ] || [ -z "$2" ] || [[ $2 == --* ]]; then
		usage_error "$1 needs a value"
	fi
}

while [ $# -gt 0 ]; do
	case $1 in
	--test)
		need_value "$@"
		test_bin=$2
		shift 2
		;;
	--kernel)
		need_value "$@"
		kernel=$2
		shift 2
		;;
	--modules)
		need_value "$@"
		modules=$2
		shift 2
		;;
	--only)
		need_value "$@"
		only+=("$2")
		shift 2
		;;
	--timeout)
		need_value "$@"
		case $2 in
		*[!0-9]* | 0*) usage_error "--timeout: '$2' is not a positive number of seconds" ;;
		esac
		timeout=$2
		shift 2
		;;
	--log)
		need_value "$@"
		log=$2
		shift 2
		;;
	--no-threshold)
		no_threshold=1
		shift
		;;
	--check)
		check_only=1
		shift
		;;
	--help | -h)
		# Only alone: exit 0 inside a bisection would mark it good.
		if [ $# != 1 ] || [ ${#targs[@]} != 0 ]; then
			usage_error "$1 is allowed only on its own"
		fi
		usage_text '4,/^$/'
		exit 0
		;;
	--)
		shift
		targs+=("$@")
		break
		;;
	*)
		targs+=("$1")
		shift
		;;
	esac
done

[ -e "$test_bin" ] || usage_error "test binary '$test_bin' not found (make selftest, or --test PATH)"
for a in "${targs[@]}"; do
	case $a in
	--help | -h) usage_error "'$a' is not a test option here" ;;
	esac
done
# tests: the folder of the tests, when the VM runner picks them; empty
# when the binary runs alone.
tests=
if [ -d "$test_bin" ]; then
	tests=$test_bin
elif [ ! -f "$test_bin" ] || [ ! -x "$test_bin" ]; then
	usage_error "test binary '$test_bin' is not an executable file"
elif [ ${#only[@]} -gt 0 ]; then
	# The names the binary knows; a name it lacks sends the search to
	# its folder.
	names=$(subtests_of "$test_bin" | tr '\n' ' ')
	for t in "${only[@]}"; do
		case " $names " in
		*" $t "*) ;;
		*) tests=$(dirname "$test_bin") ;;
		esac
	done
fi
if [ -n "$tests" ]; then
	sel=(--build "$tests")
	for t in "${only[@]}"; do
		sel+=(--only "$t")
	done
elif [ ${#only[@]} -gt 0 ]; then
	targs+=(--only "$(IFS=,; echo "${only[*]}")")
fi
if [ "$no_threshold" = 0 ]; then
	have=0
	for a in "${targs[@]}"; do
		case $a in
		--max-drift-ppb | --max-drift-ppb=* | --max-set-clock-ns | \
		--max-set-clock-ns=* | --tolerance-ns | --tolerance-ns=* | \
		--restore-tolerance-ns | --restore-tolerance-ns=*) have=1 ;;
		esac
	done
	[ "$have" = 1 ] ||
		usage_error "no threshold: give --max-drift-ppb N, --max-set-clock-ns N, --tolerance-ns N or --restore-tolerance-ns N (or --no-threshold)"
fi

# The test parses its options in order and stops at --help: exit 0 means
# every option is good and the binary starts; its one-line error otherwise.
# The VM runner's --plan does that for each test it picks, and names the
# subtest or option that no test has.
vmrun=$root/scripts/vm-run.sh
if [ -n "$tests" ]; then
	err=$("$vmrun" "${sel[@]}" --plan -- "${targs[@]}" 2>&1)
	rc=$?
	[ "$rc" = 0 ] ||
		usage_error "'$test_bin ${targs[*]}': $(printf '%s\n' "$err" | grep -v '^# vm: ' | head -n 1)"
	# "TEST ARGS; ...": each test by its name, its arguments quoted.
	what=$(sed "s,^'[^']*/\([^/']*\)',\1," <<<"$err" | paste -sd';' | sed 's/;/; /g')
else
	err=$("$test_bin" "${targs[@]}" --help 2>&1 >/dev/null)
	rc=$?
	if [ "$rc" != 0 ]; then
		usage_error "'$test_bin ${targs[*]}' does not start: exit $rc: $(printf '%s\n' "$err" | grep -v '^Random seed' | head -n 1)"
	fi
	what="$test_bin ${targs[*]}"
fi
[ "$check_only" = 1 ] && {
	echo "$me: ok: $what"
	exit 0
}

mkdir -p "$(dirname "$log")" 2>/dev/null ||
	usage_error "cannot create the folder of the log $log"
touch "$log" 2>/dev/null || usage_error "cannot write the log $log"

out=$(mktemp) || usage_error "mktemp failed"
trap 'rm -f "$out"' EXIT
release=$(uname -r)
rc=
if [ -n "$kernel" ]; then
	if [[ $kernel != debian-* ]] && [ ! -f "$kernel" ]; then
		# This step's build failed or went elsewhere: cannot test.
		rc=no-kernel
	else
		vm=(--kernel "$kernel" --timeout "$timeout")
		[ -z "$modules" ] || vm+=(--modules "$modules")
		if [ -n "$tests" ]; then
			"$vmrun" "${vm[@]}" "${sel[@]}" -- "${targs[@]}" >"$out" 2>&1
		else
			"$vmrun" "${vm[@]}" -- "$test_bin" "${targs[@]}" >"$out" 2>&1
		fi
		rc=$?
		release=$(sed -n 's/^# vm: kernel \([^ ]*\).*/\1/p' "$out")
		release=${release:-"$kernel (not booted)"}
	fi
elif [ -n "$tests" ]; then
	# The tests on this machine, one after another, under one deadline.
	"$vmrun" --no-vm --timeout "$timeout" "${sel[@]}" -- "${targs[@]}" >"$out" 2>&1
	rc=$?
elif command -v timeout >/dev/null; then
	timeout --kill-after=10 "$timeout" "$test_bin" "${targs[@]}" >"$out" 2>&1
	rc=$?
else
	"$test_bin" "${targs[@]}" >"$out" 2>&1
	rc=$?
fi

verdict=$SKIP
why="exit $rc"
if [ ${#only[@]} -gt 0 ]; then
	verdict=$GOOD
	for t in "${only[@]}"; do
		line=$(grep -E "^(not )?ok [0-9]+ $t( |$)" "$out" | tail -n 1)
		if [ -z "$line" ] || [[ $line == *"# SKIP"* ]]; then
			[ "$verdict" = "$BAD" ] || verdict=$SKIP
			why="$why; $t: ${line:-no result}"
		elif [[ $line == "not ok"* ]]; then
			verdict=$BAD
			why="$why; $t failed"
		else
			why="$why; $t passed"
		fi
	done
	case $rc in
	"$KSFT_PASS" | "$KSFT_FAIL" | "$KSFT_SKIP") ;;
	*) verdict=$SKIP why="$why; the test did not finish normally" ;;
	esac
else
	case $rc in
	"$KSFT_PASS") verdict=$GOOD ;;
	"$KSFT_FAIL") verdict=$BAD ;;
	"$KSFT_SKIP") verdict=$SKIP ;;
	124 | 137) why="timed out after $timeout s" ;;
	*) why="exit $rc: not a kselftest verdict (a crash?)" ;;
	esac
	if [ "$verdict" = "$GOOD" ] &&
	   ! grep -E '^ok [0-9]+ ' "$out" | grep -qv '# SKIP'; then
		verdict=$SKIP
		why="$why; every subtest skipped"
	fi
fi
case $rc in
no-kernel)
	verdict=$SKIP why="no kernel at $kernel (did this step's build fail?)" ;;
"$VM_NO_RESULT")
	if [ -n "$kernel" ]; then
		verdict=$SKIP
		why="the VM gave no result: $(grep -m1 '^vm-run.sh: no result' "$out")"
	fi
	;;
"$VM_USAGE")
	[ -z "$kernel$tests" ] || usage_error "the VM runner refused: $(grep -m1 '^vm-run.sh: ' "$out")" ;;
esac

commit=$(git rev-parse --short HEAD 2>/dev/null || echo '?')
{
	echo "=== $(date -u '+%F %T') commit $commit kernel $release: verdict $verdict ($why)"
	grep -E '^(not )?ok |^# metric |^# Totals' "$out"
} >>"$log"
echo "$me: commit $commit, kernel $release: $why -> exit $verdict"
# What a bisection reads at a glance: the drift, a moved reference.
grep -E '^# metric masterclock_update|^# metric vcpu_hotplug\.moves |^# vcpu_hotplug: the reference moved|^not ok ' "$out"
exit "$verdict"
