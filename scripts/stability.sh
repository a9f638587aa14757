#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# stability.sh [--test PATH] [--out DIR] [--kernel K] RUNS [-- TEST OPTIONS...]
#	Run the tests RUNS times in a row on this machine (or, with --kernel,
#	each time in a fresh boot of K by the VM runner: a bzImage or
#	debian-X.Y such as debian-7.3) and report passes, failures and skips
#	(overall and per subtest), and the spread (min, median, max over the
#	runs) of every '# metric NAME VALUE UNIT' line.  Each run's output is
#	kept in DIR (default build/stability); the report is printed and
#	written to DIR/report.txt.  Exits 0 only when every run passed.
#	Needs /dev/kvm (or the CPU) to itself: not part of CI.
#
#	Each run is one call of scripts/vm-run.sh (--no-vm without --kernel):
#	every test of the build that matches the kernel, or of --test's
#	folder, in turn; --only NAME,... among the test options runs those
#	subtests wherever they live, and each option goes to the tests that
#	take it, as `make vm-run` does.  A run passes when the runner exits 0
#	(every test 0 or 4, a subtest passed), fails on 1, is skipped on 4.
#	--test a binary runs that one program with the options as given.

set -uo pipefail

me=stability.sh
# shellcheck source=scripts/lib.sh
. "$(dirname "$0")/lib.sh"
test_bin=${PVCLOCK_TEST:-}
out=$build/stability
kernel=

# Every error is the command line's: usage_error, exit 2.
while [ $# -gt 0 ]; do
	case $1 in
	--test)
		[ $# -ge 2 ] || usage_error "--test needs a value"
		test_bin=$2
		shift 2
		;;
	--out)
		[ $# -ge 2 ] || usage_error "--out needs a value"
		out=$2
		shift 2
		;;
	--kernel)
		[ $# -ge 2 ] || usage_error "--kernel needs a value"
		kernel=$2
		shift 2
		;;
	-*) usage_error "unknown option '$1'" ;;
	*) break ;;
	esac
done
runs=${1:-}
case $runs in
'' | *[!0-9]* | 0*) usage_error "RUNS must be a positive number, not '$runs'" ;;
esac
shift
if [ $# -gt 0 ]; then
	[ "$1" = -- ] || usage_error "unexpected argument '$1' (test options go after --)"
	shift
fi
# where: the runner's options for a run; what: the tests, or the program.
vmrun=$root/vm/vm-run.sh
if [ -n "$kernel" ]; then
	where=(--kernel "$kernel")
else
	where=(--no-vm)
fi
what=()
if [ -d "$test_bin" ]; then
	what=(--build "$test_bin")
elif [ -n "$test_bin" ]; then
	[ -x "$test_bin" ] || usage_error "$test_bin: not an executable (make selftest first)"
	err=$("$test_bin" "$@" --help 2>&1 >/dev/null) ||
		usage_error "the test rejects its options: $(printf '%s\n' "$err" | grep -v '^Random seed' | head -n 1)"
fi
if [ -z "$test_bin" ] || [ -d "$test_bin" ]; then
	# The runner's plan: the tests, their options checked by each.
	plan=$(BUILD=$build "$vmrun" "${where[@]}" "${what[@]}" --plan -- "$@" 2>&1) ||
		usage_error "$(printf '%s\n' "$plan" | grep -v '^# vm: ' | head -n 1)"
	# "TEST ARGS; ...": each test by its name, its arguments quoted.
	plan=$(grep -v '^# vm: ' <<<"$plan" | sed "s,^'[^']*/\([^/']*\)',\1," |
		paste -sd';' | sed 's/;/; /g')
	what+=(--)
else
	plan="$test_bin $*"
	what=(-- "$test_bin")
fi

rm -rf "$out"
mkdir -p "$out" || usage_error "cannot create $out"
pass=0 fail=0 skip=0 other=0
failed_runs=()
start=$(date +%s)
for ((i = 1; i <= runs; i++)); do
	log=$out/run-$i.log
	BUILD=$build "$vmrun" "${where[@]}" "${what[@]}" "$@" >"$log" 2>&1
	rc=$?
	case $rc in
	0) pass=$((pass + 1)) ;;
	1) fail=$((fail + 1)) failed_runs+=("$i") ;;
	4) skip=$((skip + 1)) ;;
	*) other=$((other + 1)) failed_runs+=("$i(exit $rc)") ;;
	esac
	printf '%s: run %d/%d: exit %d\n' "$me" "$i" "$runs" "$rc" >&2
done
elapsed=$(($(date +%s) - start))

{
	echo "stability: $runs runs of $plan in $elapsed s on" \
		"${kernel:-$(uname -r)}$([ -z "$kernel" ] || echo " (VM runner, $(sed -n 's/^# vm: kernel \([^ ]*\).*accel \([a-z]*\).*/\1, \2/p' "$out/run-1.log"))")"
	echo "runs: $pass passed, $fail failed, $skip skipped, $other other"
	[ ${#failed_runs[@]} -eq 0 ] ||
		echo "failed runs: ${failed_runs[*]} (logs in $out)"
	echo
	echo "subtests (passed/failed/skipped):"
	cat "$out"/run-*.log | awk '
		/^(not )?ok [0-9]+ [a-z_]+/ {
			skip = $0 ~ /# SKIP/
			name = $1 == "not" ? $4 : $3
			if (!(name in seen)) { seen[name] = 1; order[n++] = name }
			if ($1 == "not") f[name]++
			else if (skip) s[name]++
			else p[name]++
		}
		END {
			for (i = 0; i < n; i++)
				printf "  %-22s %d/%d/%d\n", order[i],
				       p[order[i]], f[order[i]], s[order[i]]
		}'
	echo
	echo "metrics (runs, min, median, max, unit):"
	grep -h '^# metric ' "$out"/run-*.log |
		awk '{ print $3, $4, $5 }' | sort -k1,1 -k2,2g |
		awk '
		function flush() {
			if (name == "")
				return
			med = c % 2 ? v[(c + 1) / 2] : (v[c / 2] + v[c / 2 + 1]) / 2
			printf "  %-48s %4d %14s %14s %14s %s\n", name, c, v[1],
			       med, v[c], unit
		}
		$1 != name { flush(); name = $1; c = 0; unit = $3 }
		{ v[++c] = $2 }
		END { flush() }'
} | tee "$out/report.txt"
[ "$pass" = "$runs" ]
