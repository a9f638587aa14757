#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# fuzz/run.sh [SECONDS]
#	Build the libFuzzer harness (clang, AddressSanitizer + UBSan), replay
#	the committed seed corpus, then fuzz for SECONDS (default 60).  TAP
#	output; exits non-zero on any mismatch, sanitizer report or crash.
#	New corpus entries go to $BUILD/fuzz/corpus, crashing inputs to
#	$BUILD/fuzz/crash-*; fuzz/corpus is only read.
#	CLANG (default clang) picks the compiler.

set -uo pipefail

# shellcheck source=tests/tap.sh
. "$(dirname "$0")/../tests/tap.sh"	# root, build: scripts/lib.sh
seconds=${1:-60}
clang=${CLANG:-clang}
out=$build/fuzz
bin=$out/fuzz_pvclock_ref

case $seconds in
'' | *[!0-9]*)
	echo "fuzz/run.sh: SECONDS must be a positive number, not '$seconds'" >&2
	exit 2
	;;
esac
if [ "$seconds" -lt 1 ]; then
	echo "fuzz/run.sh: SECONDS must be at least 1" >&2
	exit 2
fi

echo "TAP version 13"
echo "1..3"
mkdir -p "$out/corpus"
if "$clang" -std=gnu11 -O1 -g -Wall -Wextra -Wshadow -Werror \
	-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
	-fno-omit-frame-pointer -I"$root/include" -o "$bin" \
	"$root/fuzz/fuzz_pvclock_ref.c" "$root/lib/pvclock_ref.c" \
	>"$out/build.log" 2>&1; then
	ok "build the harness ($("$clang" --version | head -n 1))"
else
	not_ok "build the harness"
	sed 's/^/# /' "$out/build.log"
	echo "# is the libFuzzer runtime installed? (Debian: libclang-rt-14-dev)"
	exit 1
fi

export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

# The seed corpus alone: every committed input still passes.
if "$bin" -runs=0 -artifact_prefix="$out/" "$root/fuzz/corpus" \
	>"$out/replay.log" 2>&1; then
	ok "seed corpus replays clean ($(find "$root/fuzz/corpus" -type f | wc -l) inputs)"
else
	not_ok "seed corpus replays clean"
	grep -E 'mismatch|ERROR|SUMMARY|runtime error' "$out/replay.log" |
		head -n 20 | sed 's/^/# /'
fi

"$bin" -max_total_time="$seconds" -timeout=20 -rss_limit_mb=2048 \
	-print_final_stats=1 -artifact_prefix="$out/" \
	"$out/corpus" "$root/fuzz/corpus" >"$out/fuzz.log" 2>&1
rc=$?
runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$out/fuzz.log")
rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$out/fuzz.log")
units=$(find "$out/corpus" -type f | wc -l)
cov=$(grep -o 'cov: [0-9]*' "$out/fuzz.log" | tail -n 1)
if [ "$rc" = 0 ] && ! grep -qE 'mismatch|ERROR: |runtime error' "$out/fuzz.log"; then
	ok "fuzz ${seconds} s: $runs inputs, $rate/s, ${cov:-cov: ?} edges, corpus $units"
else
	not_ok "fuzz ${seconds} s (exit $rc): see $out/fuzz.log"
	grep -E 'mismatch|ERROR|SUMMARY|runtime error|Test unit written' \
		"$out/fuzz.log" | head -n 20 | sed 's/^/# /'
fi
[ "$failed" = 0 ]
