#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# patch-check.sh [KVER...]
#	For each Debian tree (default 6.12): make the patch series against it
#	(scripts/make-patch.sh), apply it with `git am` to a fresh copy of the
#	tree (under a throwaway history, as Debian's trees are not git
#	repositories), build the test there with the tree's own KVM selftest
#	makefile, and check that the binary starts; also run the tree's
#	checkpatch.pl on the series.  TAP output; logs in build/patch-check.
#	With no git identity configured, a temporary one signs the series.

set -uo pipefail

me=patch-check.sh
root=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=tests/tap.sh
. "$root/tests/tap.sh"
build=${BUILD:-build}
case $build in
/*) ;;
*) build=$root/$build ;;
esac
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

check_tree()
{
	local ver=$1 tree copy out series bin log
	local gitc=(-c user.name=pvclock-base -c user.email=pvclock-base@invalid -c commit.gpgsign=false)

	log=$logs/$ver
	mkdir -p "$log"
	tree=$("$root/scripts/get-tree.sh" "$ver" "$build/trees" 2>"$log/get-tree.log") || {
		not_ok "$ver: fetch the tree" "$log/get-tree.log"
		return
	}
	series=$("$root/scripts/make-patch.sh" "$tree" "$build/patch/linux-$ver" \
		2>"$log/make-patch.log") || {
		not_ok "$ver: make patch" "$log/make-patch.log"
		return
	}
	ok "$ver: make patch: $(basename "$series")"
	# Informational: scripts/checkpatch.sh is the gate for the files.
	perl "$tree/scripts/checkpatch.pl" --no-tree --show-types "$series" \
		>"$log/checkpatch.log" 2>&1
	echo "# $ver: checkpatch.pl on the series: $(grep -E '^total:' "$log/checkpatch.log")"
	grep -E '^(ERROR|WARNING):' "$log/checkpatch.log" | sort | uniq -c |
		sed 's/^/#   /'

	copy=$build/patch-check/$ver/linux
	out=$build/patch-check/$ver/out
	rm -rf "$copy" "$out"
	cp -a "$tree" "$copy" || {
		not_ok "$ver: copy the tree"
		return
	}
	if git -C "$copy" init -q &&
	   git -C "$copy" "${gitc[@]}" add -f "$KVM" &&
	   git -C "$copy" "${gitc[@]}" commit -q -m "base: linux-source-$ver" &&
	   git -C "$copy" "${gitc[@]}" am -q "$series" >"$log/am.log" 2>&1; then
		ok "$ver: git am on a fresh copy: $(git -C "$copy" log -1 --format=%s)"
	else
		not_ok "$ver: git am on a fresh copy" "$log/am.log"
		return
	fi
	mkdir -p "$out"
	bin=$out/x86_64/pvclock_drift_test
	if make -C "$copy/$KVM" OUTPUT="$out" -j2 "$bin" \
		>"$log/build.log" 2>&1 && [ -x "$bin" ] &&
	   ! grep -qE 'pvclock[a-z_]*\.[ch]:[0-9]+(:[0-9]+)?: (warning|error)' \
		"$log/build.log"; then
		ok "$ver: the tree's kvm Makefile builds it, no warnings"
	else
		not_ok "$ver: the tree's kvm Makefile builds it" "$log/build.log"
		return
	fi
	if "$bin" --help 2>&1 | grep -q -- '--max-drift-ppb'; then
		ok "$ver: the built test starts (--help)"
	else
		not_ok "$ver: the built test starts (--help)"
	fi
	rm -rf "$copy"
}

echo "TAP version 13"
for ver in "${@:-6.12}"; do
	case $ver in
	*[!0-9.]* | '') echo "$me: '$ver' is not a version such as 6.12" >&2; exit 2 ;;
	esac
	check_tree "$ver"
done
echo "1..$n"
[ "$failed" = 0 ]
