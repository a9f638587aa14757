#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# Tests of the host tool: its output against values computed here with
# shell arithmetic or with the tool's other commands, and every kind of bad
# input (exit 2, one line naming the problem).  TAP output.
#
# usage: tests/test_tool.sh PATH/TO/pvclock-ref

tool=${1:?usage: $0 PATH/TO/pvclock-ref}
# shellcheck source=tests/tap.sh
. "$(dirname "$0")/tap.sh"

# expect_out NAME WANT ARGS...: stdout is exactly WANT and the exit code 0
expect_out() {
	local name=$1 want=$2 got rc
	shift 2
	got=$("$tool" "$@" 2>&1)
	rc=$?
	if [ "$rc" = 0 ] && [ "$got" = "$want" ]; then
		ok "$name"
	else
		not_ok "$name" "exit $rc" "got:  $got" "want: $want"
	fi
}

# expect_fail NAME CODE PATTERN ARGS...: exit CODE, nothing on stdout, one
# line on stderr that matches PATTERN
expect_fail() {
	local name=$1 code=$2 pattern=$3 out err rc
	shift 3
	err=$("$tool" "$@" 2>&1 >/dev/null)
	rc=$?
	out=$("$tool" "$@" 2>/dev/null)
	if [ "$rc" = "$code" ] && [ -z "$out" ] &&
	   [ "$(printf '%s\n' "$err" | wc -l)" = 1 ] &&
	   printf '%s\n' "$err" | grep -q -- "$pattern"; then
		ok "$name"
	else
		not_ok "$name" "exit $rc (want $code)" "stderr: $err" \
			"stdout: $out"
	fi
}

# key KEY LINE: the value of KEY=... in LINE
key() {
	printf '%s\n' "$2" | tr ' ' '\n' | sed -n "s/^$1=//p"
}

echo "TAP version 13"

# ---- help ----
if "$tool" --help | grep -q '^usage: pvclock-ref'; then
	ok "--help prints the usage"
else
	not_ok "--help prints the usage"
fi

# ---- scale: known vectors ----
expect_out "scale 1 GHz" "shift=1 mul=$((1 << 31))" scale --hz 1000000000
# 3 GHz: halved once to 1.5 GHz, mul = 2^32 * 1e9 / 1.5e9
expect_out "scale 3 GHz" "shift=-1 mul=$(((1 << 32) * 2 / 3))" \
	scale --hz 3000000000
expect_out "scale 2596130 kHz" \
	"shift=-1 mul=$((1000000000 * (1 << 32) / 1298065000))" \
	scale --hz 2596130000
expect_out "scale hex input" "shift=1 mul=$((1 << 31))" scale --hz 0x3B9ACA00
# ns to ticks at 3 GHz (KVM uses it both ways): 3 = 0.75 * 2^2
expect_out "scale the other way" "shift=2 mul=$((3 << 30))" \
	scale --hz 1000000000 --scaled-hz 3000000000

# ---- read: shell arithmetic as the model ----
mul=$(((1 << 32) * 2 / 3))
for tsc in 0 1 3 7 3000000000 5000000001; do
	d=$((tsc >> 1))
	p=$((d * mul))	# fits in 63 bits for these values
	expect_out "read 3 GHz tsc=$tsc" \
		"ns=$((1000 + (p >> 32))) frac=$((p & 0xffffffff))" \
		read --tsc-timestamp 0 --system-time 1000 --mul "$mul" \
		--shift -1 --tsc "$tsc"
done
expect_out "read across the 64-bit wrap" "ns=7 frac=0" read \
	--tsc-timestamp 0xfffffffffffffffe --system-time 2 --mul $((1 << 31)) \
	--shift 1 --tsc 3

# ---- best ----
old="--tsc-timestamp 1000 --system-time 5000 --mul 3308745937 --shift -1"
line=$("$tool" best $old --end 1099511627776 --window 1 --method naive)
if [ "$(key host_tsc "$line")" = 1099511627776 ] &&
   [ "$(key guest_tsc "$line")" = 1099511627776 ] &&
   [ "$(key aligned "$line")" = 1 ]; then
	ok "best naive takes the newest candidate"
else
	not_ok "best naive takes the newest candidate" "$line"
fi
line=$("$tool" best $old --end 1099511627777 --window 1 --method naive)
if [ "$(key aligned "$line")" = 0 ]; then
	ok "best naive reports an unaligned choice"
else
	not_ok "best naive reports an unaligned choice" "$line"
fi

# exact and scan agree, and the rebased reference continues the old clock
for args in "--end 1099511627776 --window 5000" \
	    "--end 2000 --window 2000" \
	    "--end 1099511627776 --window 3000 --ratio 0x80000000 --frac-bits 32" \
	    "--end 1099511627776 --window 3000 --ratio 0x1800000000000 --offset 0xffffffffff000000"; do
	e=$("$tool" best $old $args --method exact)
	s=$("$tool" best $old $args --method scan)
	g=$(key guest_tsc "$e")
	r=$("$tool" read $old --tsc "$g")
	if [ -n "$e" ] && [ "$e" = "$s" ] &&
	   [ "$(key system_time "$e")" = "$(key ns "$r")" ] &&
	   [ "$(key remainder "$e")" = "$(key frac "$r")" ]; then
		ok "best exact = scan, rebased at the old clock ($args)"
	else
		not_ok "best exact = scan ($args)" "exact: $e" "scan:  $s" \
			"read:  $r"
	fi
done

# 3 GHz over 2^34 candidates, old reference 2^40 ticks back: remainder 0
line=$("$tool" best --tsc-timestamp 5 --system-time 0 --mul $mul --shift -1 \
	--end $(((1 << 40) + (1 << 34) + 77)) --window $((1 << 34)))
if [ "$(key remainder "$line")" = 0 ] && [ "$(key aligned "$line")" = 1 ] &&
   [ "$(key first_divergence "$line")" = never ] &&
   [ "$(key guest_tsc "$line")" -gt $(((1 << 40) + 5)) ]; then
	ok "best exact finds a zero remainder at 3 GHz"
else
	not_ok "best exact finds a zero remainder at 3 GHz" "$line"
fi

# first_divergence: the reads differ there and not one tick before
line=$("$tool" best $old --end 1099511627776 --window 1 --method naive)
u=$(key first_divergence "$line")
new="--tsc-timestamp $(key guest_tsc "$line") --system-time $(key system_time "$line") --mul 3308745937 --shift -1"
at() { key ns "$("$tool" read $1 --tsc $(($(key guest_tsc "$line") + $2)))"; }
if [ "$u" -gt 0 ] && [ "$(at "$old" "$u")" != "$(at "$new" "$u")" ] &&
   [ "$(at "$old" $((u - 1)))" = "$(at "$new" $((u - 1)))" ]; then
	ok "best: first_divergence is where the clocks part ($u ticks)"
else
	not_ok "best: first_divergence is where the clocks part" "$line"
fi

expect_fail "best: every candidate before the old reference" 3 \
	"no valid candidate" best $old --end 999 --window 1000
expect_fail "best: no aligned candidate" 3 "no valid candidate" \
	best $old --end 1001 --window 1 --method exact

# ---- sweep ----
sweep=$("$tool" sweep --reads 20000)
rows=$(printf '%s\n' "$sweep" | grep -c '^ *[0-9]')
exact_clean=$(printf '%s\n' "$sweep" | grep '^ *[0-9]' |
	awk -F'|' '$5 ~ /^ +0 +0\.00% +0 +never$/' | wc -l)
if [ "$rows" = 30 ] && [ "$exact_clean" = 30 ] &&
   printf '%s\n' "$sweep" | grep -q 'seed=20261125'; then
	ok "sweep: 30 rates, exact column 0 differing reads and never diverges"
else
	not_ok "sweep: 30 rates, exact column clean" "rows $rows clean $exact_clean"
fi
if printf '%s\n' "$sweep" | grep '^ *[0-9]' | awk -F'|' '{ print $3 }' |
   grep -q '  [1-9][0-9]*\.[0-9][0-9]%'; then
	ok "sweep: scan100 leaves differing reads somewhere (the table measures)"
else
	not_ok "sweep: scan100 never differs: the table measures nothing"
fi

# ---- bad input: exit 2, one line naming the problem ----
expect_fail "no command" 2 "a command is required"
expect_fail "unknown command" 2 "unknown command 'frob'" frob
expect_fail "unknown option" 2 "unknown option '--frob'" scale --frob 1
expect_fail "stray argument" 2 "unexpected argument 'x'" scale x
expect_fail "missing value" 2 "--hz needs a value" scale --hz
expect_fail "missing required option" 2 "--hz is required" scale
expect_fail "option given twice" 2 "--hz given twice" \
	scale --hz 1000000 --hz 1000000
for bad in 12a 0x 0xg "" " 1" 1.5 +3; do
	expect_fail "malformed number '$bad'" 2 "--hz: '$bad' is not a number" \
		scale --hz "$bad"
done
expect_fail "number beyond 64 bits" 2 "does not fit\|not a number" \
	read $old --tsc 18446744073709551616
expect_fail "negative tsc" 2 "--tsc: '-5' must not be negative" \
	read $old --tsc -5
expect_fail "hz below 1 kHz" 2 "--hz: 999 is out of range" scale --hz 999
expect_fail "hz above 1 THz" 2 "--hz: 1000000000001 is out of range" \
	scale --hz 1000000000001
base="--tsc-timestamp 0 --system-time 0 --tsc 1"
expect_fail "mul 0" 2 "--mul: 0 is out of range" read $base --mul 0 --shift 0
expect_fail "mul beyond 32 bits" 2 "--mul: 4294967296 is out of range" \
	read $base --mul 4294967296 --shift 0
expect_fail "shift -32" 2 "--shift: -32 is out of range" \
	read $base --mul 1 --shift -32
expect_fail "shift 32" 2 "--shift: 32 is out of range" \
	read $base --mul 1 --shift 32
expect_fail "shift not a number" 2 "--shift: 'x' is not a number" \
	read $base --mul 1 --shift x
expect_fail "window 0" 2 "--window: 0 is out of range" \
	best $old --end 10 --window 0
expect_fail "window above 2^40" 2 "--window: 1099511627777 is out of range" \
	best $old --end 0xffffffffffff --window 1099511627777
expect_fail "end below window - 1" 2 "below --window - 1" \
	best $old --end 10 --window 12
expect_fail "frac-bits 40" 2 "--frac-bits must be 32 or 48" \
	best $old --end 10 --window 1 --frac-bits 40
expect_fail "ratio 0" 2 "--ratio: 0 is out of range" \
	best $old --end 10 --window 1 --ratio 0
expect_fail "unknown method" 2 "unknown method 'best'" \
	best $old --end 10 --window 1 --method best
expect_fail "sweep reads 0" 2 "--reads: 0 is out of range" sweep --reads 0
expect_fail "sweep window 0" 2 "--window: 0 is out of range" sweep --window 0
expect_fail "sweep window 3" 2 "--window: 3 is out of range" sweep --window 3

echo "1..$n"
[ "$failed" = 0 ]
