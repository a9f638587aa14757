#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# kernel-patch.sh [OUTDIR]
#	Write the project's kernel patches (kernel/patches, the series of
#	variant exact) as an RFC series against Debian's 6.12 source, into
#	OUTDIR (build/kernel-patch): a cover letter carrying the figures
#	(kernel/rfc-cover.txt), 1/2 the KVM_GET_CLOCK_GUEST/KVM_SET_CLOCK_GUEST
#	stand-in, marked as such (NOT-FOR-MERGE in its subject, a note below
#	its message), and 2/2 the exact reference as the RFC
#	follow-up.  The author and Signed-off-by are the user's git config
#	(user.name, user.email).  Then it checks the result: checkpatch.pl
#	--strict of the 6.12 tree on each patch (0 errors, 0 warnings, 0
#	checks) and git am of the series onto a fresh copy of the files it
#	touches from Debian's 6.12 tree (build/trees, only read).

set -euo pipefail

me=kernel-patch.sh
root=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-build}
case $BUILD in
/*) ;;
*) BUILD=$root/$BUILD ;;
esac
out=${1:-$BUILD/kernel-patch}
case $out in
/*) ;;
*) out=$PWD/$out ;;
esac
variant=exact
cover=$root/kernel/rfc-cover.txt
patch_dir=$root/kernel/patches

die()
{
	echo "$me: $*" >&2
	exit 1
}

name=$(git -C "$root" config user.name || true)
email=$(git -C "$root" config user.email || true)
if [ -z "$name" ] || [ -z "$email" ]; then
	die "no git identity: set it with git config --global user.name 'Your Name' and user.email you@example.org (the patches' author and Signed-off-by)"
fi
[ -f "$cover" ] || die "$cover is missing"

patches=()
read -r -a names < <(sed -n "s/^$variant: //p" "$patch_dir/series")
for p in "${names[@]}"; do
	[ -f "$patch_dir/$p" ] || die "series names $p, which is not in $patch_dir"
	patches+=("$patch_dir/$p")
done
[ ${#patches[@]} = 2 ] || die "variant $variant should list two patches, not ${#patches[@]}"

tree=$("$root/scripts/get-tree.sh" 6.12 "$BUILD/trees")
[ -x "$tree/scripts/checkpatch.pl" ] || die "$tree has no scripts/checkpatch.pl"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# A repository of the files the series touches, as Debian ships them.
fresh()
{
	local dir=$1 f

	mkdir -p "$dir"
	while read -r f; do
		[ -f "$tree/$f" ] || die "$tree has no $f"
		mkdir -p "$dir/$(dirname "$f")"
		cp "$tree/$f" "$dir/$f"
	done < <(sed -n 's|^diff --git a/\([^ ]*\) b/.*|\1|p' "${patches[@]}" | sort -u)
	git -C "$dir" init -q
	git -C "$dir" -c user.name=base -c user.email=base@invalid add -A
	git -C "$dir" -c user.name=base -c user.email=base@invalid \
		-c commit.gpgsign=false commit -q -m base
}

g=(git -C "$work/series" -c user.name="$name" -c user.email="$email"
   -c commit.gpgsign=false)
fresh "$work/series"
for p in "${patches[@]}"; do
	"${g[@]}" am -q "$p" || die "$(basename "$p") does not apply to Debian's 6.12 source"
	# The user's authorship and sign-off instead of the project's.
	"${g[@]}" log -1 --format=%B |
		sed '/^Signed-off-by: /d' | sed -e :a -e '/^\n*$/{$d;N;ba' -e '}' >"$work/msg"
	printf '\nSigned-off-by: %s <%s>\n' "$name" "$email" >>"$work/msg"
	"${g[@]}" commit -q --amend --reset-author -F "$work/msg"
done

rm -rf "$out"
mkdir -p "$out"
"${g[@]}" format-patch -q --zero-commit --cover-letter --subject-prefix='RFC PATCH' \
	-o "$out" HEAD~2..HEAD

# The cover letter: the subject and the text of kernel/rfc-cover.txt (its
# first line, the SPDX tag, is not part of the letter).
letter=$out/0000-cover-letter.patch
sed '1{/^# SPDX-License-Identifier:/d}' "$cover" >"$work/cover"
subject=$(sed -n '1p' "$work/cover")
sed -n '3,$p' "$work/cover" >"$work/blurb"
awk -v subject="$subject" -v blurb="$work/blurb" '
	/\*\*\* SUBJECT HERE \*\*\*/ { sub(/\*\*\* SUBJECT HERE \*\*\*/, subject) }
	/^\*\*\* BLURB HERE \*\*\*$/ {
		while ((getline line < blurb) > 0)
			print line
		next
	}
	{ print }' "$letter" >"$work/letter"
mv "$work/letter" "$letter"

# 1/2 is the stand-in: say so in its subject and below its message.
first=$(ls "$out"/0001-*.patch)
awk 'done == 0 && /^Subject: \[RFC PATCH 1\/2\]/ {
	sub(/^Subject: \[RFC PATCH 1\/2\]/, "Subject: [RFC PATCH NOT-FOR-MERGE 1/2]")
}
done == 0 && /^---$/ {
	print
	print "Not for merging: a stand-in for the interface as proposed upstream,"
	print "written from its description, so that 2/2 applies and can be tested."
	print "Review 2/2 against the real KVM_SET_CLOCK_GUEST."
	print ""
	done = 1
	next
}
{ print }' "$first" >"$work/first"
mv "$work/first" "$first"

# Checks: checkpatch --strict, and the series onto fresh files.
bad=0
for p in "$out"/000[1-9]-*.patch; do
	res=$("$tree/scripts/checkpatch.pl" --strict --no-tree "$p" 2>&1 || true)
	if ! grep -q '^total: 0 errors, 0 warnings, 0 checks' <<<"$res"; then
		echo "$res" >&2
		echo "$me: checkpatch --strict: $(basename "$p") is not clean" >&2
		bad=1
	fi
done
fresh "$work/apply"
git -C "$work/apply" -c user.name=check -c user.email=check@invalid \
	-c commit.gpgsign=false am -q "$out"/000[1-9]-*.patch ||
	{ echo "$me: the series does not apply to Debian's 6.12 source" >&2; bad=1; }
[ $bad = 0 ] || exit 1

echo "# kernel-patch: checkpatch --strict clean; applies to $(basename "$tree") (Debian's source)" >&2
ls "$out"/*.patch
