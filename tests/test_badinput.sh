#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# Bad command lines for both programs, every option of each: a missing,
# empty, malformed, negative, zero, out-of-range or beyond-64-bit value,
# an unknown option, a stray argument; for the selftest also an option
# given twice and an abbreviated one.  Each must exit with the program's
# usage code (2 for the host tool, 1 for the selftest, as kselftests do)
# with exactly one line on stderr and nothing else: no crash, no sanitizer
# report, no silent default.  TAP output.
#
# usage: tests/test_badinput.sh tool PATH/TO/pvclock-ref
#        tests/test_badinput.sh selftest PATH/TO/pvclock_drift_test
# A missing selftest binary is a skip (it needs a kernel tree to build).

kind=${1:?usage: $0 tool|selftest PROGRAM}
prog=${2:?usage: $0 tool|selftest PROGRAM}
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

if [ ! -x "$prog" ]; then
	echo "ok 1 $kind bad input # SKIP $prog not built"
	exit 0
fi

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
	code=1 name=pvclock_drift_test
	expect_bad stray
	expect_bad -x
	expect_bad -- stray
	expect_bad --bogus
	expect_bad --bogus 1
	expect_bad --interval-ms=5 extra
	# getopt_long() takes unambiguous prefixes; the test does not
	expect_bad --max-d 5
	expect_bad --max-drift=5
	expect_bad --max-d
	expect_bad --interval 5
	expect_bad --freq host
	expect_bad --he
	for opt in interval-ms max-drift-ppb max-set-clock-ns reads \
		   tolerance-ns restore-tolerance-ns restore-attempts \
		   restore-ms; do
		expect_bad "--$opt"
		expect_bad "--$opt="
		expect_bad "--$opt" --reads 5
		expect_bad "--$opt" 5 "--$opt" 5
		for v in "${malformed[@]}" "${beyond[@]}" 2^10 -1; do
			expect_bad "--$opt" "$v"
			expect_bad "--$opt=$v"
		done
	done
	for opt in interval-ms reads restore-attempts restore-ms; do
		expect_bad "--$opt" 0
	done
	expect_bad --interval-ms 3600001
	expect_bad --max-drift-ppb 1000000001
	expect_bad --max-set-clock-ns 1000000000001
	expect_bad --reads 100000001
	expect_bad --tolerance-ns 1000001
	expect_bad --restore-tolerance-ns 1000001
	expect_bad --restore-attempts 1001
	expect_bad --restore-ms 600001
	# knobs no user needed, dropped: unknown options now
	for opt in freq-khz=host candidates=100 window=5 duration-ms=2000; do
		expect_bad "--$opt"
	done
	expect_bad --clock-guest-mode
	expect_bad --clock-guest-mode=
	expect_bad --clock-guest-mode --reads 5
	expect_bad --clock-guest-mode exact --clock-guest-mode exact
	expect_bad --clock-guest exact
	for v in '' auto round Round-down round-down, ' exact' 1; do
		expect_bad --clock-guest-mode "$v"
		expect_bad "--clock-guest-mode=$v"
	done
	expect_bad --only
	expect_bad --only=
	expect_bad --only migrate --only migrate
	expect_bad --list=1
	for v in bogus migrate, ,migrate migrate,migrate Migrate 'migrate '; do
		expect_bad --only "$v"
	done
	# good values pass the parser, which stops at --help
	expect_good --only migrate,set_clock --help
	expect_good --clock-guest-mode round-down --help
	expect_good --clock-guest-mode=exact -h
	expect_good --tolerance-ns 0x2 --interval-ms=3000 --help
	expect_good --max-drift-ppb 0 --reads 010 -h
	# --list: every subtest's name, one a line, and nothing run
	names=$("$prog" --list 2>/dev/null | grep -E '^[a-z_]+$' | tr '\n' ' ')
	if [ "$names" = "masterclock_update set_clock reference_update set_clock_guest stock_restore concurrent_update migrate vcpu_hotplug " ]; then
		ok "--list names the subtests"
	else
		not_ok "--list names the subtests: '$names'"
	fi
	if "$prog" --help 2>/dev/null | grep -q -- '--max-drift-ppb'; then
		ok "--help lists the options"
	else
		not_ok "--help lists the options"
	fi
fi

echo "1..$n"
echo "# $kind bad input: $n cases, $failed failed"
[ "$failed" = 0 ]
