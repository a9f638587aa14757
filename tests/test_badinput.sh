#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# Bad command lines for the host tool and each test, every option of each:
# a missing, empty, malformed, negative, zero, out-of-range or
# beyond-64-bit value, an unknown option, a stray argument; for the tests
# also an option given twice, an abbreviated one, each option of the other
# tests (a usage error there) and --only with a subtest of another test.
# Each must exit with the program's usage code (2 for the host tool, 1 for
# the tests, as kselftests do) with exactly one line on stderr, starting
# with the program's name, and nothing else: no crash, no sanitizer
# report, no silent default.  What each test takes and names is the
# interface's (Documentation/selftest.rst), written out below.  TAP output.
#
# usage: tests/test_badinput.sh tool PATH/TO/pvclock-ref
#        tests/test_badinput.sh selftest BUILD/kvm-VERSION
# The selftest form checks every test of SELFTEST_PROGS (mk/selftest.mk) in
# that folder; a missing binary is a skip (it needs a kernel tree to
# build).

kind=${1:?usage: $0 tool PROGRAM | selftest FOLDER}
prog=${2:?usage: $0 tool PROGRAM | selftest FOLDER}
dir=$prog
# shellcheck source=tests/tap.sh
. "$(dirname "$0")/tap.sh"

echo "TAP version 13"

# The selftest's KVM library prints "Random seed: ..." on stdout from a
# constructor, before main() runs: that line is not the test's output.
strip_seed()
{
	if [ "$kind" = selftest ]; then
		grep -v '^Random seed: ' || true
	else
		cat
	fi
}

# expect_bad ARGS...: the usage exit code, one line on stderr, no stdout
expect_bad()
{
	local out err rc errf
	errf=$(mktemp)
	out=$("$prog" "$@" 2>"$errf" | strip_seed; exit "${PIPESTATUS[0]}")
	rc=$?
	err=$(cat "$errf")
	rm -f "$errf"
	if [ "$rc" = "$code" ] && [ -z "$out" ] && [ -n "$err" ] &&
	   [ "$(printf '%s\n' "$err" | wc -l)" = 1 ] &&
	   printf '%s\n' "$err" | grep -q "^$name: "; then
		ok "rejects: $(printf "'%s' " "$@")"
	else
		not_ok "rejects: $(printf "'%s' " "$@")" "exit $rc (want $code)" \
			"stderr: $(printf '%s\n' "$err" | head -n 5)" \
			"stdout: $(printf '%s\n' "$out" | head -n 3)"
	fi
}

# expect_good ARGS...: exit 0 (a control, so that the matrix tests values
# rather than a command line that fails for another reason)
expect_good()
{
	local rc
	"$prog" "$@" >/dev/null 2>&1
	rc=$?
	if [ "$rc" = 0 ]; then
		ok "accepts: $(printf "'%s' " "$@")"
	else
		not_ok "accepts: $(printf "'%s' " "$@")" "exit $rc"
	fi
}

# Values that are never numbers, and values beyond 64 bits.
malformed=(abc 1x x1 ' 1' '1 ' +1 1.5 1e3 0x 0xg '' - -- '1,2')
beyond=(18446744073709551616 99999999999999999999999 0x10000000000000000)

# bad_values OPT MIN MAX [NEGATIVE_OK] ARGS...: the matrix for one option
# given after ARGS (the rest of a good command line)
bad_values()
{
	local opt=$1 min=$2 max=$3 negok=$4 v
	shift 4
	expect_bad "$@" "$opt"
	for v in "${malformed[@]}" "${beyond[@]}"; do
		expect_bad "$@" "$opt" "$v"
	done
	[ "$negok" = 1 ] || expect_bad "$@" "$opt" -1
	[ "$min" -gt 0 ] && expect_bad "$@" "$opt" 0
	[ -n "$max" ] && expect_bad "$@" "$opt" "$max"
	expect_bad "$@" "$opt" 1 stray
	expect_bad "$@" "$opt"1 1
}

if [ "$kind" = tool ] && [ ! -x "$prog" ]; then
	echo "ok 1 $kind bad input # SKIP $prog not built"
	exit 0
fi

# The tests: their subtests, the options each takes, and each numeric
# option's largest value and whether 0 is allowed.
tests=$(sed -n 's/^SELFTEST_PROGS :\{0,1\}= *//p' "$(dirname "$0")/../mk/selftest.mk")
declare -A subtests=(
	[pvclock_drift_test]="masterclock_update set_clock reference_update concurrent_update vcpu_hotplug"
	[pvclock_restore_test]="stock_restore migrate"
	[pvclock_clock_guest_test]="set_clock_guest migrate_clock_guest"
)
declare -A options=(
	[pvclock_drift_test]="interval-ms max-drift-ppb max-set-clock-ns reads"
	[pvclock_restore_test]="interval-ms reads restore-tolerance-ns restore-attempts restore-ms"
	[pvclock_clock_guest_test]="interval-ms reads tolerance-ns clock-guest-mode"
)
declare -A max=(
	[interval-ms]=3600000 [max-drift-ppb]=1000000000
	[max-set-clock-ns]=1000000000000 [reads]=100000000 [tolerance-ns]=1000000
	[restore-tolerance-ns]=1000000 [restore-attempts]=1000 [restore-ms]=600000
)
nonzero=" interval-ms reads restore-attempts restore-ms "

# The checks of one test, $name at $prog.
selftest_bad()
{
	local opt v t other mine=" ${options[$name]} " first

	expect_bad stray
	expect_bad -x
	expect_bad -- stray
	expect_bad --bogus
	expect_bad --bogus 1
	expect_bad --interval-ms=5 extra
	# getopt_long() takes unambiguous prefixes; the tests do not
	expect_bad --interval 5
	expect_bad --interval-m 5
	expect_bad --rea 5
	expect_bad --he
	expect_bad --lis
	for opt in ${options[$name]}; do
		[ "$opt" = clock-guest-mode ] && continue
		expect_bad "--$opt"
		expect_bad "--$opt="
		expect_bad "--$opt" --reads 5
		expect_bad "--$opt" 5 "--$opt" 5
		for v in "${malformed[@]}" "${beyond[@]}" 2^10 -1; do
			expect_bad "--$opt" "$v"
			expect_bad "--$opt=$v"
		done
		[[ $nonzero != *" $opt "* ]] || expect_bad "--$opt" 0
		expect_bad "--$opt" $((max[$opt] + 1))
		expect_good "--$opt" "${max[$opt]}" --help
	done
	# Each option of the other tests is unknown here.
	for t in $tests; do
		[ "$t" = "$name" ] && continue
		for opt in ${options[$t]}; do
			[[ $mine == *" $opt "* ]] && continue
			if [ "$opt" = clock-guest-mode ]; then
				expect_bad --clock-guest-mode exact
			else
				expect_bad "--$opt" 5
			fi
		done
	done
	# knobs no user needed, dropped: unknown options now
	for opt in freq-khz=host candidates=100 window=5 duration-ms=2000; do
		expect_bad "--$opt"
	done
	if [[ $mine == *" clock-guest-mode "* ]]; then
		expect_bad --clock-guest-mode
		expect_bad --clock-guest-mode=
		expect_bad --clock-guest-mode --reads 5
		expect_bad --clock-guest-mode exact --clock-guest-mode exact
		expect_bad --clock-guest exact
		for v in '' auto round Round-down 'round-down,' ' exact' 1; do
			expect_bad --clock-guest-mode "$v"
			expect_bad "--clock-guest-mode=$v"
		done
		expect_good --clock-guest-mode round-down --help
		expect_good --clock-guest-mode=exact -h
	fi
	first=${subtests[$name]%% *}
	expect_bad --only
	expect_bad --only=
	expect_bad --only "$first" --only "$first"
	expect_bad --list=1
	for v in bogus "$first," ",$first" "$first,$first" "${first^}" "$first "; do
		expect_bad --only "$v"
	done
	# A subtest of another test is not one of this test's.
	for t in $tests; do
		[ "$t" = "$name" ] || expect_bad --only "${subtests[$t]%% *}"
	done
	# good values pass the parser, which stops at --help
	expect_good --only "${subtests[$name]// /,}" --help
	expect_good --interval-ms=3000 --reads 0x10 --help
	expect_good --reads 010 -h
	# --list: every subtest's name, one a line, and nothing run
	v=$("$prog" --list 2>/dev/null | grep -E '^[a-z_]+$' | paste -sd' ')
	if [ "$v" = "${subtests[$name]}" ]; then
		ok "$name --list names its subtests: $v"
	else
		not_ok "$name --list names '$v', not '${subtests[$name]}'"
	fi
	v=$("$prog" --help 2>/dev/null)
	other=
	for opt in ${options[$name]} only list help; do
		grep -q -- "--$opt" <<<"$v" || other+=" lacks --$opt"
	done
	for t in $tests; do
		for opt in ${options[$t]}; do
			[[ $mine == *" $opt "* ]] || ! grep -q -- "--$opt\b" <<<"$v" ||
				other+=" lists --$opt"
		done
	done
	if [ -z "$other" ]; then
		ok "$name --help lists its options and no other test's"
	else
		not_ok "$name --help:$other"
	fi
}

if [ "$kind" = tool ]; then
	code=2 name=pvclock-ref
	# top level
	expect_bad
	expect_bad bogus
	expect_bad --bogus
	expect_bad ''
	expect_bad -x
	for cmd in scale read best sweep; do
		expect_bad "$cmd" --bogus 1
		expect_bad "$cmd" stray
		expect_bad "$cmd" -h
	done

	# scale: --hz and --scaled-hz in [1000, 10^12]
	expect_good scale --hz 1000
	expect_good scale --hz 1000000000000 --scaled-hz 1000
	bad_values --hz 1 1000000000001 0 scale
	expect_bad scale --hz 999
	bad_values --scaled-hz 1 1000000000001 0 scale --hz 3000000000
	expect_bad scale --hz 3000000000 --scaled-hz 999
	expect_bad scale --scaled-hz 1000000000
	expect_bad scale --hz 1000000000 --hz 1000000000

	# read
	clk=(--tsc-timestamp 0 --system-time 0 --mul 2863311530 --shift -1)
	expect_good read "${clk[@]}" --tsc 5
	bad_values --tsc 0 '' 0 read "${clk[@]}"
	bad_values --tsc-timestamp 0 '' 0 read --system-time 0 --mul 1 \
		--shift 0 --tsc 1
	bad_values --system-time 0 '' 0 read --tsc-timestamp 0 --mul 1 \
		--shift 0 --tsc 1
	bad_values --mul 1 4294967296 0 read --tsc-timestamp 0 \
		--system-time 0 --shift 0 --tsc 1
	bad_values --shift 0 32 1 read --tsc-timestamp 0 --system-time 0 \
		--mul 1 --tsc 1
	expect_bad read --tsc-timestamp 0 --system-time 0 --mul 1 --tsc 1 \
		--shift -32
	expect_bad read --tsc-timestamp 0 --system-time 0 --mul 1 --tsc 1 \
		--shift -9223372036854775809
	expect_bad read --tsc-timestamp 0 --system-time 0 --mul 1 --tsc 1 \
		--shift --1
	expect_bad read "${clk[@]}"
	expect_bad read "${clk[@]}" --tsc 1 --tsc 1

	# best
	old=(--tsc-timestamp 0 --system-time 0 --mul 2863311530 --shift -1)
	win=(--end 100000 --window 1000)
	expect_good best "${old[@]}" "${win[@]}"
	expect_good best "${old[@]}" "${win[@]}" --ratio 0x80000000 \
		--frac-bits 32 --offset 7 --method scan
	bad_values --end 0 '' 0 best "${old[@]}" --window 1000
	expect_bad best "${old[@]}" --window 1000 --end 998
	bad_values --window 1 1099511627777 0 best "${old[@]}" --end 100000
	bad_values --ratio 1 '' 0 best "${old[@]}" "${win[@]}"
	bad_values --frac-bits 0 65 0 best "${old[@]}" "${win[@]}"
	expect_bad best "${old[@]}" "${win[@]}" --frac-bits 0
	expect_bad best "${old[@]}" "${win[@]}" --frac-bits 31
	expect_bad best "${old[@]}" "${win[@]}" --frac-bits 64
	bad_values --offset 0 '' 0 best "${old[@]}" "${win[@]}"
	expect_bad best "${old[@]}" "${win[@]}" --method
	expect_bad best "${old[@]}" "${win[@]}" --method ''
	expect_bad best "${old[@]}" "${win[@]}" --method EXACT
	expect_bad best "${old[@]}" "${win[@]}" --method seed
	expect_bad best "${old[@]}" "${win[@]}" --method 2
	expect_bad best "${old[@]}" "${win[@]}" --method exact --method scan
	bad_values --mul 1 4294967296 0 best --tsc-timestamp 0 \
		--system-time 0 --shift 0 "${win[@]}"
	expect_bad best "${old[@]}" --end 1

	# sweep (the good control is cut short with small values; below 4,
	# a window may hold no candidate on the 2^2 grid of a 4.2 GHz row)
	expect_good sweep --window 4 --reads 1
	bad_values --window 1 1099511627777 0 sweep --reads 1
	bad_values --reads 1 4294967297 0 sweep --window 4
	bad_values --seed 0 '' 0 sweep --window 4 --reads 1
else
	code=1
	for name in $tests; do
		prog=$dir/$name
		if [ -x "$prog" ]; then
			selftest_bad
		else
			echo "ok $((n + 1)) $name bad input # SKIP $prog not built"
			n=$((n + 1))
		fi
	done
fi

echo "1..$n"
echo "# $kind bad input: $n cases, $failed failed"
[ "$failed" = 0 ]
