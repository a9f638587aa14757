#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# test_subtests.sh: the subtests' names live in one table per test (its
# subtests[], which --list, --only and usage() read); this checks every
# text that names them against it.  For each test program (x86_64/*_test.c),
# built against the 6.1 tree (whose library lets --list run without
# /dev/kvm), every subtest --list names must be in the test's --help, in
# the comment that opens its file, in Documentation/selftest.rst (a term of
# its own there, the line that starts its description) and in the
# description of the patch that adds the test: the series message whose
# first line names it (scripts/series/), or the message of the kernel patch
# whose subject names it (kernel/patches/), and the RFC's cover letter
# (kernel/rfc-cover.txt) for a test that travels with the kernel series.  selftest.rst's table of the tests must give each
# test the count and the names, in order, that its --list gives, and name
# no test that does not exist.  No name may belong to two tests, so that
# --only and make vm-run ONLY= name one subtest each.  TAP.

set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
# shellcheck source=tests/tap.sh
. tests/tap.sh

ver=6.1
doc=Documentation/selftest.rst

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

# The subject of patch file $1, its folded lines joined.
patch_subject()
{
	awk '/^Subject:/ { on = 1; s = $0; next }
	     on && /^[ \t]/ { s = s $0; next }
	     on { exit }
	     END { print s }' "$1"
}

# The message of patch file $1: from its subject to the "---" line that
# ends it (the diff after it holds the test's own source, which names
# every subtest whatever the message says).
patch_message()
{
	awk '/^Subject:/ { on = 1 } on && /^---$/ { exit } on { print }' "$1"
}

# The descriptions of the patch that adds test $1 (source $2), one a line:
# a series message whose first line names it (scripts/series/), or a kernel
# patch whose subject names it (kernel/patches/); and the RFC's cover letter
# for a test that travels with the kernel series, as one that needs the
# proposed uapi does (its source names KVM_[GS]ET_CLOCK_GUEST or
# KVM_CAP_CLOCK_GUEST).
descriptions()
{
	local f

	{
		for f in scripts/series/*.txt; do
			head -n 1 "$f" | grep -qw -- "$1" && echo "$f"
		done
		for f in kernel/patches/*.patch; do
			if patch_subject "$f" | grep -qw -- "$1"; then
				echo "$f"
				echo kernel/rfc-cover.txt
			fi
		done
		if grep -qE 'KVM_(GET|SET)_CLOCK_GUEST|KVM_CAP_CLOCK_GUEST' "$2"; then
			echo kernel/rfc-cover.txt
		fi
	} | sort -u
}

# The text of description $1: a kernel patch's message, any other file whole.
description_text()
{
	case $1 in
	*.patch) patch_message "$1" ;;
	*) cat "$1" ;;
	esac
}

# selftest.rst's table of the tests, one line per test: "NAME COUNT
# SUBTEST...".  It is the simple table whose header starts "Test" and
# names "Subtests"; a row whose first column is empty continues the one
# before it.
doc_table()
{
	awk '
	/^=+( +=+)+ *$/ { if (table) { rule++; if (rule == 3) exit }; next }
	!table && /^Test  / && /Subtests/ { table = 1; rule = 1; next }
	table && rule == 2 && /^[^ ]/ { if (row != "") print row; row = $0; next }
	table && rule == 2 && /^ +[^ ]/ { row = row " " $0; next }
	END { if (row != "") print row }' "$doc" | tr -s ', ' '  '
}

table=$(doc_table)
all=
for src in x86_64/*_test.c; do
	prog=$(basename "$src" .c)
	bin=$build/kvm-$ver/$prog
	names=$("$bin" --list 2>/dev/null | grep -E '^[a-z_]+$')
	if [ -z "$names" ]; then
		not_ok "$prog --list names no subtest"
		continue
	fi
	all+="$names"$'\n'
	help=$("$bin" --help 2>/dev/null)
	comment=$(opening_comment "$src")
	mapfile -t descs < <(descriptions "$prog" "$src")
	if ! printf '%s\n' "${descs[@]}" | grep -qvx kernel/rfc-cover.txt; then
		not_ok "$prog: no description of the patch that adds it" \
			"(a scripts/series/*.txt whose first line names it, or a kernel/patches/*.patch whose Subject does)"
	fi
	for name in $names; do
		missing=
		grep -qw -- "$name" <<<"$help" || missing+=" usage()"
		grep -qw -- "$name" <<<"$comment" || missing+=" $src's comment"
		grep -qx -- "$name" "$doc" || missing+=" $doc (a line of its own)"
		for d in "${descs[@]}"; do
			description_text "$d" | grep -qw -- "$name" ||
				missing+=" $d"
		done
		if [ -z "$missing" ]; then
			ok "$prog: $name is in usage(), its file's comment, $doc and ${descs[*]:-no description}"
		else
			not_ok "$prog: $name is missing from:$missing"
		fi
	done

	want="$prog $(wc -l <<<"$names") $(tr '\n' ' ' <<<"$names")"
	got=$(awk -v p="$prog" '$1 == p' <<<"$table")
	if [ "${got% }" = "${want% }" ]; then
		ok "$doc's table: $prog, $(wc -l <<<"$names") subtests, as --list gives them"
	else
		not_ok "$doc's table of the tests: $prog's row is not --list's count and names in order" \
			"want: ${want% }" "got:  ${got:-(no row)}"
	fi
done

# A row for a test that is not there.
while read -r prog _; do
	[ -n "$prog" ] || continue
	if [ -f "x86_64/$prog.c" ]; then
		continue
	fi
	not_ok "$doc's table names $prog, which has no x86_64/$prog.c"
done <<<"$table"

dups=$(sort <<<"${all%$'\n'}" | uniq -d | tr '\n' ' ')
if [ -z "$dups" ]; then
	ok "no subtest name belongs to two tests ($(grep -c . <<<"$all") names)"
else
	not_ok "subtest names in more than one test: ${dups% }"
fi
echo "1..$n"
[ "$failed" = 0 ]
