#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# patch-check.sh [KVER...]
#	For each Debian tree (default: OLD_KVERS and BASE_KVER of
#	mk/versions.conf, 6.12, 6.1 and 7.3; 7.3 has the x86/ layout and
#	Makefile.kvm of 6.14 on): make the patch series against it
#	(scripts/make-patch.sh), check that no patch defines or uses in code
#	the proposed KVM_[GS]ET_CLOCK_GUEST or KVM_CAP_CLOCK_GUEST (a
#	comment may name them), run the tree's checkpatch.pl --strict on
#	each patch (any error, warning or check fails, the MAINTAINERS
#	notice aside), apply the series with `git am` to a fresh copy of the
#	tree (under a throwaway history, as Debian's trees are not git
#	repositories), build with the tree's own KVM selftest makefile after
#	each patch the tests added so far and kvm_clock_test (which links
#	every LIBKVM object), with no warning from our files, and check that
#	each test starts (--help).  For BASE_KVER also the kernel patches
#	(kernel/patches, against Debian's BASE_KVER source): checkpatch.pl
#	--strict on each, and each variant's series of kernel/patches/series
#	applied with `git am` to a fresh copy of the files it changes (so 0003
#	on 0001 alone and on 0001 + 0002).  TAP output; logs in
#	build/patch-check.  With no git identity configured, a temporary one
#	signs the series.

set -uo pipefail

me="patch-check.sh"
# shellcheck source=scripts/lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=scripts/kvm-tree.sh
. "$root/scripts/kvm-tree.sh"
export BUILD=$build
KVM=tools/testing/selftests/kvm
logs=$build/patch-check

# An identity for CI machines that have none; the user's own otherwise.
if [ -z "$(git -C "$root" config user.name)" ] ||
   [ -z "$(git -C "$root" config user.email)" ]; then
	export GIT_CONFIG_COUNT=2
	export GIT_CONFIG_KEY_0=user.name GIT_CONFIG_VALUE_0="pvclock CI"
	export GIT_CONFIG_KEY_1=user.email GIT_CONFIG_VALUE_1=ci@invalid
fi

# What the KVM selftests build needs of a tree, about 110 MB of it: and
# what the links in tools/ point to elsewhere in the tree (7.3's libvfio
# includes tools/include/linux/pci_ids.h, a link to include/linux/).
copy_tree()
{
	local target

	mkdir -p "$2/include" &&
	cp -a "$1/Makefile" "$1/scripts" "$1/tools" "$1/usr" "$2/" &&
	cp -a "$1/include/uapi" "$2/include/" || return 1
	(cd "$1" && find tools -type l -exec realpath -e --relative-to=. {} + 2>/dev/null) |
		grep -vE '^(\.\./|tools/|usr/|include/uapi/)' | sort -u |
		while read -r target; do
			(cd "$1" && cp -a --parents "$target" "$2/") || exit 1
		done
}

# checkpatch.pl --strict on one patch: 0 errors, warnings and checks but
# the MAINTAINERS notice of a patch that adds files.
checkpatch_strict()
{
	local tree=$1 patch=$2 log=$3 total issues

	perl "$tree/scripts/checkpatch.pl" --strict --no-tree --show-types \
		"$patch" >"$log" 2>&1
	total=$(grep -E '^total:' "$log")
	issues=$(grep -E '^(ERROR|WARNING|CHECK):' "$log" |
		grep -v '^WARNING:FILE_PATH_CHANGES:' || true)
	if [ -z "$issues" ]; then
		ok "$ver: checkpatch --strict $(basename "$patch"): $total"
	else
		not_ok "$ver: checkpatch --strict $(basename "$patch"): $total" "$log"
		printf '%s\n' "$issues" | sort | uniq -c | sed 's/^/#   /'
	fi
}

# The kernel patches against Debian's tree $2 (version $1): checkpatch, and
# each variant's series with git am onto a fresh copy of the files it
# changes (a file a patch creates is not copied).
check_kernel_series()
{
	local ver=$1 tree=$2 log=$logs/$1/kernel variant names pn f dir
	local patch_dir=$root/kernel/patches list files
	local gitc=(-c user.name=pvclock-base -c user.email=pvclock-base@invalid -c commit.gpgsign=false)

	mkdir -p "$log"
	for f in "$patch_dir"/*.patch; do
		checkpatch_strict "$tree" "$f" "$log/checkpatch-$(basename "$f" .patch).log"
	done
	while read -r variant names; do
		variant=${variant%:}
		files=()
		for pn in $names; do
			files+=("$patch_dir/$pn")
		done
		list=$(for pn in $names; do printf '%s ' "${pn%%-*}"; done)
		dir=$log/am-$variant
		rm -rf "$dir"
		mkdir -p "$dir"
		if ! sed -n 's|^--- a/||p' "${files[@]}" | sort -u |
			while read -r f; do
				mkdir -p "$dir/$(dirname "$f")" &&
				cp "$tree/$f" "$dir/$f" || exit 1
			done ||
		   ! git -C "$dir" init -q ||
		   ! git -C "$dir" "${gitc[@]}" add -A ||
		   ! git -C "$dir" "${gitc[@]}" commit -q -m "base: $ver"; then
			not_ok "$ver: kernel series $variant: a fresh copy of Debian's files"
			continue
		fi
		if git -C "$dir" "${gitc[@]}" am -q "${files[@]}" \
			>"$log/am-$variant.log" 2>&1; then
			ok "$ver: kernel series $variant (${list% }) applies with git am to Debian's files"
		else
			not_ok "$ver: kernel series $variant (${list% }) applies with git am to Debian's files" \
				"$log/am-$variant.log"
		fi
		rm -rf "$dir"
	done < <(grep -E '^[a-z0-9_-]+:' "$patch_dir/series")
}

check_tree()
{
	local ver=$1 tree copy out series log patch i=0 bad
	local parts=() progs=() targets var value bin why
	local gitc=(-c user.name=pvclock-base -c user.email=pvclock-base@invalid -c commit.gpgsign=false)

	log=$logs/$ver
	mkdir -p "$log"
	tree=$("$root/scripts/get-tree.sh" "$ver" "$build/trees" 2>"$log/get-tree.log") || {
		not_ok "$ver: fetch the tree" "$log/get-tree.log"
		return
	}
	# The kernel patches are against Debian's BASE_KVER.
	[ "$ver" = "$BASE_KVER" ] && check_kernel_series "$ver" "$tree"
	series=$("$root/scripts/make-patch.sh" "$tree" "$build/patch/linux-$ver" \
		2>"$log/make-patch.log") || {
		not_ok "$ver: make patch" "$log/make-patch.log"
		return
	}
	series=$(printf '%s\n' "$series" | grep -v '/0000-cover-letter.patch$')
	ok "$ver: make patch: $(printf '%s\n' "$series" | wc -l) patches and a cover letter"
	# shellcheck disable=SC2086 # one file a line, no spaces
	bad=$(kvm_proposed_uapi_in_code $series)
	if [ -z "$bad" ]; then
		ok "$ver: no patch defines or uses KVM_[GS]ET_CLOCK_GUEST or KVM_CAP_CLOCK_GUEST in code"
	else
		not_ok "$ver: the series defines or uses the proposed uapi in code" \
			"$(head -n 1 <<<"$bad")"
	fi
	for patch in $series; do
		checkpatch_strict "$tree" "$patch" "$log/checkpatch-$(basename "$patch" .patch).log"
	done

	copy=$build/patch-check/$ver/linux
	out=$build/patch-check/$ver/out
	rm -rf "$copy" "$out"
	copy_tree "$tree" "$copy" || {
		not_ok "$ver: copy the tree"
		return
	}
	if ! { git -C "$copy" init -q &&
	       git -C "$copy" "${gitc[@]}" add -f "$KVM" &&
	       git -C "$copy" "${gitc[@]}" commit -q -m "base: linux-source-$ver"; }; then
		not_ok "$ver: a throwaway history for the copy"
		return
	fi
	why=$(kvm_detect_layout "$copy") || { not_ok "$ver: $why"; return; }
	kvm_detect_layout "$copy"
	read -r -a parts <<<"$KVM_PARTS"
	mkdir -p "$out"
	# Each patch applies and the tree still builds: the series bisects.
	for patch in $series; do
		i=$((i + 1))
		if ! git -C "$copy" "${gitc[@]}" am -q "$patch" >"$log/am-$i.log" 2>&1; then
			not_ok "$ver: git am $(basename "$patch")" "$log/am-$i.log"
			return
		fi
		# The patch's tests and those before it; kvm_clock_test links
		# the LIBKVM objects the patch may add.
		while read -r var value; do
			[ "$var" != "$progvar" ] || progs+=("$out/$value")
		done < <(kvm_part_make "${parts[$((i - 1))]}")
		targets=("$out/$archdir/kvm_clock_test" "${progs[@]}")
		if make -C "$copy/$KVM" OUTPUT="$out" -j2 "${targets[@]}" \
			>"$log/build-$i.log" 2>&1 &&
		   ! grep -qE 'pvclock[a-z_]*\.[ch]:[0-9]+(:[0-9]+)?: (warning|error)' \
			"$log/build-$i.log"; then
			ok "$ver: patch $i applies on a fresh copy and the tree's kvm Makefile builds $(printf '%s ' "${targets[@]##*/}")with no warnings"
		else
			not_ok "$ver: patch $i: the tree's kvm Makefile builds" "$log/build-$i.log"
			return
		fi
	done
	for bin in "${progs[@]}"; do
		if [ -x "$bin" ] && "$bin" --help 2>&1 | grep -q -- '--only'; then
			ok "$ver: $(basename "$bin") starts (--help)"
		else
			not_ok "$ver: $(basename "$bin") starts (--help)"
		fi
	done
	rm -rf "$copy"
}

echo "TAP version 13"
# shellcheck disable=SC2086 # a list of versions
[ $# -gt 0 ] || set -- ${OLD_KVERS//,/ } "$BASE_KVER"
for ver in "$@"; do
	[[ $ver =~ ^[0-9]+\.[0-9]+$ ]] ||
		usage_error "'$ver' is not a version such as 6.12 or $BASE_KVER"
	check_tree "$ver"
done
echo "1..$n"
[ "$failed" = 0 ]
