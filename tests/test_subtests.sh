#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# test_subtests.sh: the subtests' names live in one table per test (its
# subtests[], which --list, --only and usage() read); this checks every
# text that names them against it.  For each test program (x86_64/*_test.c),
# built against the 6.1 tree (whose library lets --list run without
# /dev/kvm), every subtest --list names must be in the test's --help, in
# the comment that opens its file, in Documentation/selftest.rst and in the
# description of the series patch that adds the test (scripts/series/,
# kernel/rfc-cover.txt for a test that travels with the kernel series);
# selftest.rst's count of them ("Eight subtests") must be --list's.  TAP.

set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
# shellcheck source=tests/tap.sh
. tests/tap.sh

words=(zero one two three four five six seven eight nine ten eleven twelve)
ver=6.1

if ! make -s selftest KVER=$ver >"$build/test_subtests-build.log" 2>&1; then
	not_ok "make selftest KVER=$ver, see $build/test_subtests-build.log"
	echo "1..$n"
	exit 1
fi

# The opening comment of C file $1.
opening_comment()
{
	awk '/^\/\*/ { on = 1 } on { print } on && /\*\// { exit }' "$1"
}

# The descriptions of the patch that adds test $1: a series message whose
# subject names it (scripts/series/), or a kernel patch whose subject names
# it (kernel/patches/) and then the RFC's cover letter too.
descriptions()
{
	local f

	for f in scripts/series/*.txt; do
		head -n 1 "$f" | grep -qw -- "$1" && echo "$f"
	done
	for f in kernel/patches/*.patch; do
		if grep -m1 '^Subject:' "$f" | grep -qw -- "$1"; then
			echo "$f"
			echo kernel/rfc-cover.txt
		fi
	done | sort -u
}

total=0
for src in x86_64/*_test.c; do
	prog=$(basename "$src" .c)
	bin=$build/kvm-$ver/$prog
	names=$("$bin" --list 2>/dev/null | grep -E '^[a-z_]+$')
	if [ -z "$names" ]; then
		not_ok "$prog --list names no subtest"
		continue
	fi
	help=$("$bin" --help 2>/dev/null)
	comment=$(opening_comment "$src")
	mapfile -t descs < <(descriptions "$prog")
	if [ ${#descs[@]} -eq 0 ]; then
		not_ok "$prog: no series description names it"
		continue
	fi
	for name in $names; do
		total=$((total + 1))
		missing=
		grep -qw -- "$name" <<<"$help" || missing+=" usage()"
		grep -qw -- "$name" <<<"$comment" || missing+=" $src's comment"
		grep -qw -- "$name" Documentation/selftest.rst ||
			missing+=" Documentation/selftest.rst"
		for d in "${descs[@]}"; do
			grep -qw -- "$name" "$d" || missing+=" $d"
		done
		if [ -z "$missing" ]; then
			ok "$prog: $name is in usage(), its file's comment, selftest.rst and ${descs[*]}"
		else
			not_ok "$prog: $name is missing from:$missing"
		fi
	done
done

word=${words[$total]:-$total}
if grep -qi "^${word} subtests, in this order" Documentation/selftest.rst; then
	ok "Documentation/selftest.rst counts $total subtests, as --list does"
else
	not_ok "Documentation/selftest.rst does not say '${word^} subtests, in this order' ($total by --list)"
fi
echo "1..$n"
[ "$failed" = 0 ]
