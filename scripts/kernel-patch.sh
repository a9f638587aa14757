#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# kernel-patch.sh [OUTDIR]
#	Write the project's kernel patches (kernel/patches, the series of
#	variant exact) as an RFC series against Debian's source of BASE_KVER
#	(mk/versions.conf), into OUTDIR (build/kernel-patch): a cover letter
#	carrying the figures (kernel/rfc-cover.txt), 1/3 the
#	KVM_GET_CLOCK_GUEST/KVM_SET_CLOCK_GUEST stand-in, marked as such
#	(NOT-FOR-MERGE in its subject, a note below its message), 2/3 the
#	exact reference and 3/3 the dropped master clock updates, the RFC's
#	follow-ups.  The author and Signed-off-by are the user's git config
#	(user.name, user.email).  Then it checks the result: checkpatch.pl
#	--strict of the BASE_KVER tree on each patch (0 errors, 0 warnings, 0
#	checks), git am of the series onto a fresh copy of the files it
#	touches from Debian's BASE_KVER tree (build/trees, only read), git am
#	of 1/3 and 3/3 alone (variant round-down), as 3/3 does not need 2/3,
#	and the kernel built after each patch (scripts/build-kernel.sh
#	--patches, in the O= folder `make kernel` uses, so each build is
#	incremental; the images are not kept).

set -euo pipefail

me=kernel-patch.sh
# shellcheck source=scripts/lib.sh
. "$(dirname "$0")/lib.sh"
out=${1:-$build/kernel-patch}
case $out in
/*) ;;
*) out=$PWD/$out ;;
esac
variant=exact
cover=$root/kernel/rfc-cover.txt
patch_dir=$root/kernel/patches

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
count=${#patches[@]}
[ "$count" = 3 ] || die "variant $variant should list three patches, not $count"

tree=$("$root/scripts/get-tree.sh" "$BASE_KVER" "$build/trees")
[ -x "$tree/scripts/checkpatch.pl" ] || die "$tree has no scripts/checkpatch.pl"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# A repository of the files the series changes, as Debian ships them
# (a file a patch creates has "--- /dev/null" and is not copied).
fresh()
{
	local dir=$1 f

	mkdir -p "$dir"
	while read -r f; do
		[ -f "$tree/$f" ] || die "$tree has no $f"
		mkdir -p "$dir/$(dirname "$f")"
		cp "$tree/$f" "$dir/$f"
	done < <(sed -n 's|^--- a/||p' "${patches[@]}" | sort -u)
	git -C "$dir" init -q
	git -C "$dir" -c user.name=base -c user.email=base@invalid add -A
	git -C "$dir" -c user.name=base -c user.email=base@invalid \
		-c commit.gpgsign=false commit -q -m base
}

g=(git -C "$work/series" -c user.name="$name" -c user.email="$email"
   -c commit.gpgsign=false)
fresh "$work/series"
for p in "${patches[@]}"; do
	"${g[@]}" am -q "$p" || die "$(basename "$p") does not apply to Debian's $BASE_KVER source"
	# The user's authorship and sign-off instead of the project's.
	"${g[@]}" log -1 --format=%B |
		sed '/^Signed-off-by: /d' | sed -e :a -e '/^\n*$/{$d;N;ba' -e '}' >"$work/msg"
	printf '\nSigned-off-by: %s <%s>\n' "$name" "$email" >>"$work/msg"
	"${g[@]}" commit -q --amend --reset-author -F "$work/msg"
done

rm -rf "$out"
mkdir -p "$out"
# -C: the uapi pvclock-abi.h that 1/3 adds shows as a copy of the kernel's
# header, with its changes alone.
"${g[@]}" format-patch -q -C --zero-commit --cover-letter --subject-prefix='RFC PATCH' \
	-o "$out" "HEAD~$count..HEAD"

# The cover letter: the subject and the text of kernel/rfc-cover.txt (its
# first line, the SPDX tag, is not part of the letter).
letter=$out/0000-cover-letter.patch
sed '1{/^# SPDX-License-Identifier:/d}' "$cover" >"$work/cover"
subject=$(sed -n '1p' "$work/cover")
sed -n '3,$p' "$work/cover" >"$work/blurb"
cover_letter "$letter" "$subject" "$work/blurb"

# 1/3 is the stand-in: say so in its subject and below its message.
first=$(ls "$out"/0001-*.patch)
awk -v n="$count" 'done == 0 && index($0, "Subject: [RFC PATCH 1/" n "]") == 1 {
	sub(/^Subject: \[RFC PATCH /, "Subject: [RFC PATCH NOT-FOR-MERGE ")
}
done == 0 && /^---$/ {
	print
	print "Not for merging: a stand-in for the interface as posted upstream"
	print "(v6), written for this series so that 2/3 and 3/3 apply and can be"
	print "tested.  Review them against the real KVM_SET_CLOCK_GUEST."
	print ""
	done = 1
	next
}
{ print }' "$first" >"$work/first"
mv "$work/first" "$first"
grep -q '^Subject: \[RFC PATCH NOT-FOR-MERGE 1/' "$first" ||
	die "$(basename "$first"): no subject to mark NOT-FOR-MERGE"

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
	{ echo "$me: the series does not apply to Debian's $BASE_KVER source" >&2; bad=1; }
# 3/3 without 2/3, as variant round-down carries it.
fresh "$work/apply-13"
git -C "$work/apply-13" -c user.name=check -c user.email=check@invalid \
	-c commit.gpgsign=false am -q "$out"/0001-*.patch "$out"/0003-*.patch ||
	{ echo "$me: 3/3 does not apply to Debian's $BASE_KVER source with 1/3 alone" >&2; bad=1; }
[ $bad = 0 ] || exit 1

# Each patch builds: the kernel after 1/3, after 2/3 and after 3/3.
built=
series_files=("$out"/000[1-9]-*.patch)
for ((i = 1; i <= count; i++)); do
	upto=("${series_files[@]:0:i}")
	start=$SECONDS
	BUILD=$build "$root/scripts/build-kernel.sh" --variant "rfc-$i" \
		--patches "${upto[*]}" >"$work/build-$i.log" 2>&1 ||
		{ cat "$work/build-$i.log" >&2; die "the kernel does not build after $i/$count"; }
	# A check, not a kernel to keep: its image goes (the O= folder stays).
	img=$(tail -n 1 "$work/build-$i.log")
	case $img in
	"$build"/kernel/images/rfc-*/bzImage) rm -rf "$(dirname "$img")" ;;
	esac
	built="$built${built:+, }$i/$count in $((SECONDS - start)) s"
done

echo "# kernel-patch: Debian linux-source-$BASE_KVER ($(basename "$tree")): checkpatch --strict clean; applies, and 3/3 with 1/3 alone; builds after each patch ($built)" >&2
ls "$out"/*.patch
