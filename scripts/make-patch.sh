#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# make-patch.sh KSRC [OUTDIR]
#	Write a `git format-patch` series against the kernel tree KSRC, with a
#	cover letter (scripts/series/cover.txt): one commit for each part of
#	scripts/kvm-tree.sh's KVM_PARTS, in order: the pvclock_ref library,
#	the pvclock_restore library, the shared code with pvclock_drift_test,
#	the migration flow with pvclock_restore_test.  Each has its message
#	from scripts/series/PART.txt and its lines in the kvm Makefile where
#	the lists keep them (the libraries among the other LIBKVM_<arch>
#	objects, the tests in sorted order among the x86 tests).  Each file
#	takes the form of KSRC's selftest API, with no compatibility header,
#	and no build flag is added.  The series runs on released kernels: it
#	fails if a patch defines or uses in code the proposed
#	KVM_[GS]ET_CLOCK_GUEST or KVM_CAP_CLOCK_GUEST (their test,
#	pvclock_clock_guest_test, goes with the kernel series: make
#	kernel-patch).  The author and Signed-off-by are
#	the user's git config (user.name, user.email).  OUTDIR defaults to
#	build/patch/<tree name>; the patch files are the only lines on stdout,
#	the cover letter first.
#
#	KSRC may be a git repository (the series is made against its HEAD, in
#	a scratch clone) or a plain tree such as Debian's linux-source (a
#	throwaway history of its KVM selftests is started in a scratch copy).
#	KSRC itself is never written to.  The files come from this project's
#	last commit (HEAD), not from uncommitted changes.

set -euo pipefail

me=make-patch.sh
# shellcheck source=scripts/lib.sh
. "$(dirname "$0")/lib.sh"
KVM=tools/testing/selftests/kvm
# shellcheck source=scripts/kvm-tree.sh
. "$root/scripts/kvm-tree.sh"

if [ $# -lt 1 ] || [ $# -gt 2 ]; then
	die "usage: $me KSRC [OUTDIR]"
fi
[ -n "$1" ] || die "KSRC is empty: make patch KSRC=/path/to/linux"
ksrc=$(cd "$1" 2>/dev/null && pwd) || die "$1: no such folder"
[ -d "$ksrc/$KVM" ] || die "$ksrc is not a kernel tree with KVM selftests"
name=$(basename "$ksrc")
out=${2:-$build/patch/$name}

author_name=$(git -C "$root" config user.name || true)
author_email=$(git -C "$root" config user.email || true)
if [ -z "$author_name" ] || [ -z "$author_email" ]; then
	die "no git identity: set it with git config --global user.name 'Your Name' and user.email you@example.org (the patch's author and Signed-off-by)"
fi

work=$build/patch-work/$name
rm -rf "$work"
mkdir -p "$work"
base_git=(git -C "$work/tree" -c user.name=pvclock-base \
	-c user.email=pvclock-base@invalid -c commit.gpgsign=false)

if git -C "$ksrc" rev-parse --is-inside-work-tree >/dev/null 2>&1 &&
   [ "$(git -C "$ksrc" rev-parse --show-toplevel)" = "$ksrc" ]; then
	# A git tree: its HEAD, the KVM selftests checked out alone.
	git clone -q --shared --no-checkout "$ksrc" "$work/tree"
	git -C "$work/tree" sparse-checkout set "$KVM" >/dev/null
	git -C "$work/tree" checkout -q HEAD
	git -C "$work/tree" checkout -q -b pvclock-drift-test
	base="$(git -C "$ksrc" rev-parse --short HEAD) of $ksrc"
else
	# A plain tree: a throwaway history holding its KVM selftests, which
	# is all the patch touches; the blobs, and so the patch, are the same
	# as in any git tree with these files.
	mkdir -p "$work/tree/$(dirname "$KVM")"
	cp -a "$ksrc/$KVM" "$work/tree/$KVM"
	git -C "$work/tree" init -q
	"${base_git[@]}" add -f "$KVM"
	"${base_git[@]}" commit -q -m "base: $KVM of $ksrc"
	base="a throwaway history of $ksrc"
fi

# The project's committed files, not work in progress.
mkdir -p "$work/src"
git -C "$root" archive HEAD x86_64 include lib scripts/series | tar -x -C "$work/src"
head=$(git -C "$root" rev-parse --short HEAD)
why=$(kvm_detect_layout "$work/tree") || die "$why"
kvm_detect_layout "$work/tree"

sign="$author_name <$author_email>"
author_git=(git -C "$work/tree" -c user.name="$author_name"
	-c user.email="$author_email" -c commit.gpgsign=false)
n=0
for part in $KVM_PARTS; do
	kvm_put_part "$part" "$work/src" || die "cannot write the $part files"
	while read -r var value; do
		kvm_add_sorted "$var" "$value"
	done < <(kvm_part_make "$part")
	sed "s|@SIGN@|$sign|" "$work/src/scripts/series/$part.txt" >"$work/message"
	"${author_git[@]}" add -A "$KVM"
	"${author_git[@]}" commit -q -F "$work/message" --author="$sign"
	n=$((n + 1))
done

rm -rf "$out"
mkdir -p "$out"
"${author_git[@]}" format-patch -q --cover-letter -o "$out" "HEAD~$n" >/dev/null
# The cover letter's subject and blurb.
cover=$(find "$out" -name '0000-cover-letter.patch')
subject=$(head -n 1 "$work/src/scripts/series/cover.txt")
tail -n +3 "$work/src/scripts/series/cover.txt" >"$work/blurb"
cover_letter "$cover" "$subject" "$work/blurb"
bad=$(kvm_proposed_uapi_in_code "$out"/*.patch)
[ -z "$bad" ] || die "the series uses the proposed uapi in code: $(head -n 1 <<<"$bad")"
echo "$me: project $head, $n patches against $base in $out" >&2
find "$out" -name '*.patch' | sort
