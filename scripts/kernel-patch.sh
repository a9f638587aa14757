#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# kernel-patch.sh [OUTDIR]
#	Write the project's kernel patches (kernel/patches, the series of
#	variant exact) and the test of their uapi as an RFC series into OUTDIR
#	(build/kernel-patch), based on Debian's source of BASE_KVER
#	(mk/versions.conf) plus the selftest series (scripts/make-patch.sh
#	against that source, which the RFC's test builds on): a cover letter
#	carrying the figures (kernel/rfc-cover.txt), 1/4 the
#	KVM_GET_CLOCK_GUEST/KVM_SET_CLOCK_GUEST stand-in, marked as such
#	(NOT-FOR-MERGE in its subject, a note below its message), 2/4 the
#	exact reference, 3/4 the dropped master clock updates, and 4/4
#	pvclock_clock_guest_test (scripts/kvm-tree.sh's part clock_guest,
#	its message scripts/series/clock_guest.txt), written for the tree
#	that 1/4 gives the uapi: no compatibility block for the ioctls.  The
#	selftest series goes to OUTDIR/base.  The author and Signed-off-by
#	are the user's git config (user.name, user.email).  Then it checks
#	the result: checkpatch.pl --strict of the BASE_KVER tree on each
#	patch (0 errors, 0 warnings, 0 checks); onto a fresh copy of the
#	files they touch from Debian's BASE_KVER tree (build/trees, only
#	read), git am of the selftest series and then of the RFC, and of the
#	selftest series, 1/4 and 3/4 (variant round-down), as 3/4 does not
#	need 2/4; the kernel built after each kernel patch
#	(scripts/build-kernel.sh --patches, the selftest series first, in the
#	O= folder `make kernel` uses, so each build is incremental; the images
#	are not kept); and after 4/4 the tree's KVM selftests built (every
#	KVM test, with no warning from ours) against the uapi headers of that
#	source.  git am takes no fuzz.

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

KVM=tools/testing/selftests/kvm
# shellcheck source=scripts/kvm-tree.sh
. "$root/scripts/kvm-tree.sh"

patches=()
read -r -a names < <(sed -n "s/^$variant: //p" "$patch_dir/series")
for p in "${names[@]}"; do
	[ -f "$patch_dir/$p" ] || die "series names $p, which is not in $patch_dir"
	patches+=("$patch_dir/$p")
done
kcount=${#patches[@]}
[ "$kcount" = 3 ] || die "variant $variant should list three patches, not $kcount"
count=$((kcount + 1))

tree=$("$root/scripts/get-tree.sh" "$BASE_KVER" "$build/trees")
[ -x "$tree/scripts/checkpatch.pl" ] || die "$tree has no scripts/checkpatch.pl"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# The selftest series that the RFC is based on, against the same tree.
BUILD=$build "$root/scripts/make-patch.sh" "$tree" "$work/base" >"$work/base.list" ||
	die "make patch against Debian's $BASE_KVER source failed"
mapfile -t base < <(grep -v '/0000-cover-letter\.patch$' "$work/base.list")
[ ${#base[@]} -gt 0 ] || die "make patch wrote no selftest series"

# The project's committed files, as make patch takes them.
mkdir -p "$work/src"
git -C "$root" archive HEAD x86_64 include lib scripts/series | tar -x -C "$work/src"

# A repository of the files the series changes, as Debian ships them (a
# file a patch creates has "--- /dev/null" and is not copied), and the KVM
# selftests, which the selftest series and 4/4 change.
fresh()
{
	local dir=$1 f

	mkdir -p "$dir/$(dirname "$KVM")"
	cp -a "$tree/$KVM" "$dir/$KVM"
	while read -r f; do
		[ -f "$tree/$f" ] || die "$tree has no $f"
		mkdir -p "$dir/$(dirname "$f")"
		cp "$tree/$f" "$dir/$f"
	done < <(sed -n 's|^--- a/||p' "${patches[@]}" | sort -u)
	git -C "$dir" init -q
	git -C "$dir" -c user.name=base -c user.email=base@invalid add -f -A
	git -C "$dir" -c user.name=base -c user.email=base@invalid \
		-c commit.gpgsign=false commit -q -m base
}

g=(git -C "$work/series" -c user.name="$name" -c user.email="$email"
   -c commit.gpgsign=false)
fresh "$work/series"
"${g[@]}" am -q "${base[@]}" ||
	die "the selftest series does not apply to Debian's $BASE_KVER source"
for p in "${patches[@]}"; do
	"${g[@]}" am -q "$p" || die "$(basename "$p") does not apply to Debian's $BASE_KVER source"
	# The user's authorship and sign-off instead of the project's.
	"${g[@]}" log -1 --format=%B |
		sed '/^Signed-off-by: /d' | sed -e :a -e '/^\n*$/{$d;N;ba' -e '}' >"$work/msg"
	printf '\nSigned-off-by: %s <%s>\n' "$name" "$email" >>"$work/msg"
	"${g[@]}" commit -q --amend --reset-author -F "$work/msg"
done
# 4/4: the test of the uapi, in the form of the tree 1/4 makes.
kvm_detect_layout "$work/series" >/dev/null || die "$work/series: unknown KVM selftest layout"
kvm_put_part clock_guest "$work/src" || die "cannot write the clock_guest files"
while read -r var value; do
	kvm_add_sorted "$var" "$value"
done < <(kvm_part_make clock_guest)
sed "s|@SIGN@|$name <$email>|" "$work/src/scripts/series/clock_guest.txt" >"$work/msg"
"${g[@]}" add -A "$KVM"
"${g[@]}" commit -q -F "$work/msg"

rm -rf "$out"
mkdir -p "$out"
# -C: the uapi pvclock-abi.h that 1/4 adds shows as a copy of the kernel's
# header, with its changes alone.
"${g[@]}" format-patch -q -C --zero-commit --cover-letter --subject-prefix='RFC PATCH' \
	-o "$out" "HEAD~$count..HEAD"
mkdir -p "$out/base"
cp "$work/base"/*.patch "$out/base/"

# The cover letter: the subject and the text of kernel/rfc-cover.txt (its
# first line, the SPDX tag, is not part of the letter).
letter=$out/0000-cover-letter.patch
sed '1{/^# SPDX-License-Identifier:/d}' "$cover" >"$work/cover"
subject=$(sed -n '1p' "$work/cover")
sed -n '3,$p' "$work/cover" >"$work/blurb"
cover_letter "$letter" "$subject" "$work/blurb"

# 1/4 is the stand-in: say so in its subject and below its message.
first=$(ls "$out"/0001-*.patch)
awk -v n="$count" 'done == 0 && index($0, "Subject: [RFC PATCH 1/" n "]") == 1 {
	sub(/^Subject: \[RFC PATCH /, "Subject: [RFC PATCH NOT-FOR-MERGE ")
}
done == 0 && /^---$/ {
	print
	print "Not for merging: a stand-in for the interface as posted upstream"
	print "(v6), written for this series so that 2/" n " and 3/" n " apply and can be"
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
	res=$("$tree/scripts/checkpatch.pl" --strict --no-tree --show-types "$p" 2>&1 || true)
	# 4/4 adds files: checkpatch's MAINTAINERS notice is no finding.
	if ! grep -q '^total: ' <<<"$res" ||
	   grep -E '^(ERROR|WARNING|CHECK):' <<<"$res" | grep -qv '^WARNING:FILE_PATH_CHANGES:'; then
		echo "$res" >&2
		echo "$me: checkpatch --strict: $(basename "$p") is not clean" >&2
		bad=1
	fi
done
series_files=("$out"/000[1-9]-*.patch)
gc=(-c user.name=check -c user.email=check@invalid -c commit.gpgsign=false)
fresh "$work/apply"
git -C "$work/apply" "${gc[@]}" am -q "${base[@]}" "${series_files[@]}" ||
	{ echo "$me: the selftest series and the RFC do not apply to Debian's $BASE_KVER source" >&2; bad=1; }
# 3/4 without 2/4, as variant round-down carries it.
fresh "$work/apply-13"
git -C "$work/apply-13" "${gc[@]}" am -q "${base[@]}" "$out"/0001-*.patch "$out"/0003-*.patch ||
	{ echo "$me: 3/$count does not apply to Debian's $BASE_KVER source with 1/$count alone" >&2; bad=1; }
[ $bad = 0 ] || exit 1
rm -rf "$work/apply" "$work/apply-13"

# Each kernel patch builds: the kernel after 1/4, 2/4 and 3/4, each on
# the selftest series.
built=
for ((i = 1; i <= kcount; i++)); do
	upto=("${base[@]}" "${series_files[@]:0:i}")
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

# 4/4 builds: the source with the whole series (build-kernel.sh's, checked
# out and never built in), its uapi headers made into a folder of ours,
# and the tree's KVM selftests, every test, built against them.
start=$SECONDS
src=$(BUILD=$build "$root/scripts/build-kernel.sh" --variant "rfc-$count" --source-only \
	--patches "${base[*]} ${series_files[*]}" 2>"$work/source.log" | tail -n 1) ||
	{ cat "$work/source.log" >&2; die "the series does not apply to build-kernel.sh's source"; }
# build-kernel.sh's lock, so that no other build checks another series
# out meanwhile.
exec 9>"$build/kernel/.lock"
flock 9
[ -f "$src/$KVM/x86/pvclock_clock_guest_test.c" ] &&
	[ -z "$(git -C "$src" status --porcelain --untracked-files=no)" ] ||
	die "$src is not at the whole series"
no_make_env make -s -C "$src" O="$work/hdr" ARCH=x86_64 headers >"$work/headers.log" 2>&1 ||
	{ cat "$work/headers.log" >&2; die "make headers failed after $count/$count"; }
no_make_env nice -n 10 make -C "$src/$KVM" OUTPUT="$work/kvm" \
	KHDR_INCLUDES="-isystem $work/hdr/usr/include" -j2 >"$work/kvm.log" 2>&1 ||
	{ tail -n 20 "$work/kvm.log" >&2; die "the KVM selftests do not build after $count/$count"; }
! grep -E 'pvclock[a-z_]*\.[ch]:[0-9]+(:[0-9]+)?: (warning|error)' "$work/kvm.log" >&2 ||
	die "warnings from the pvclock files after $count/$count"
[ -x "$work/kvm/x86/pvclock_clock_guest_test" ] ||
	die "the KVM selftests made no pvclock_clock_guest_test after $count/$count"
flock -u 9
built="$built, $count/$count (the KVM selftests, $(find "$work/kvm" -type f -perm -u+x -name '*[a-z]' ! -name '*.*' | wc -l) programs) in $((SECONDS - start)) s"

echo "# kernel-patch: Debian linux-source-$BASE_KVER ($(basename "$tree")) and the selftest series (${#base[@]} patches, $out/base): checkpatch --strict clean; applies, and 3/$count with 1/$count alone; builds after each patch ($built)" >&2
ls "$out"/*.patch
