#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# Run TAP-producing test commands and count their results.
# usage: tests/run.sh NAME COMMAND [NAME COMMAND ...]
# Prints each command's TAP, then "check: N passed, N failed, N skipped".
# A command that exits non-zero without a "not ok" line counts as a failure.

passed=0
failed=0
skipped=0
while [ $# -ge 2 ]; do
	name=$1 cmd=$2
	shift 2
	echo "# ---- $name: $cmd"
	out=$(mktemp)
	start=$(date +%s)
	$cmd >"$out" 2>&1
	rc=$?
	cat "$out"
	p=$(grep -E '^ok ' "$out" | grep -vc '# SKIP')
	s=$(grep -cE '^ok .*# SKIP' "$out")
	f=$(grep -c '^not ok ' "$out")
	rm -f "$out"
	if [ "$rc" != 0 ] && [ "$f" = 0 ]; then
		echo "not ok - $name exited $rc"
		f=1
	fi
	echo "# $name: $p passed, $f failed, $s skipped in $(($(date +%s) - start)) s"
	passed=$((passed + p))
	failed=$((failed + f))
	skipped=$((skipped + s))
done
echo "check: $passed passed, $failed failed, $skipped skipped"
[ "$failed" = 0 ]
