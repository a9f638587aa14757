#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# checkpatch.sh [TREE]
#	Run a kernel tree's scripts/checkpatch.pl (--no-tree) on every tracked
#	.c and .h file of this project, twice: on the file (-f) and on a patch
#	that adds it, as a maintainer would see it (in -f mode checkpatch only
#	notes lines over 100 columns; in a patch they are warnings).  TAP: one
#	line per file; exits non-zero when either run has an error or a
#	warning ("added file, does MAINTAINERS need updating?" aside).  The
#	kernel patches in kernel/patches are checked as they are, against the
#	tree, Signed-off-by included.  TREE defaults to Debian's BASE_KVER
#	tree (mk/versions.conf) in build/trees (fetched with
#	scripts/get-tree.sh if missing).

set -uo pipefail

me=checkpatch.sh
# shellcheck source=scripts/lib.sh
. "$(dirname "$0")/lib.sh"
# Exit 2 when it cannot check; 1 when a file has findings.
die_exit=2

tree=${1:-}
if [ -z "$tree" ]; then
	tree=$("$root/scripts/get-tree.sh" "$BASE_KVER" "$build/trees") ||
		die "cannot obtain the $BASE_KVER tree (pass a kernel tree instead)"
fi
cp=$tree/scripts/checkpatch.pl
[ -f "$cp" ] || die "$cp not found"
command -v perl >/dev/null || die "perl is required"

cd "$root" || die "cannot enter $root"
mapfile -t files < <(git ls-files -- '*.c' '*.h')
[ ${#files[@]} -gt 0 ] || die "no tracked .c or .h files"
mapfile -t patches < <(git ls-files -- 'kernel/patches/*.patch')

# One TAP line for file $1, with checkpatch's findings $2 (none: ok), a
# "# " line each.
report()
{
	local findings

	if [ -z "$2" ]; then
		ok "$1"
	else
		mapfile -t findings <<<"$2"
		not_ok "$1" "${findings[@]}"
	fi
}

echo "TAP version 13"
echo "1..$((${#files[@]} + ${#patches[@]}))"
for f in "${files[@]}"; do
	out=$(perl "$cp" --no-tree --terse --show-types --no-summary \
		-f "$f" 2>&1
	      git diff --no-index /dev/null "$f" |
		perl "$cp" --no-tree --no-signoff --terse --show-types \
			--no-summary --ignore FILE_PATH_CHANGES - 2>&1 |
		awk -v f="$f" -F: -v OFS=: '
			# a line of the patch is 6 after the line of the file
			/^-:[0-9]+:/ { $1 = f; $2 = $2 - 6 " (as a patch)" }
			{ print }')
	issues=$(printf '%s\n' "$out" | grep -E ': (ERROR|WARNING):' || true)
	report "$f" "$issues"
done
for f in "${patches[@]}"; do
	# checkpatch.pl finds its tree from its own path.  The absolute path:
	# given as kernel/..., 6.12's checkpatch.pl reports trailing
	# whitespace on the patch's blank context lines.
	issues=$(perl "$cp" --terse --show-types --no-summary "$root/$f" 2>&1 |
		grep -E ': (ERROR|WARNING|CHECK):' || true)
	report "$f" "$issues"
done
echo "# checkpatch: $((n - failed)) of $n files clean (0 errors, 0 warnings)"
[ "$failed" = 0 ]
