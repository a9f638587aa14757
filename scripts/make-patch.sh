#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# make-patch.sh KSRC [OUTDIR]
#	Write a `git format-patch` series against the kernel tree KSRC: one
#	commit that adds pvclock_drift_test, its headers and the pvclock_ref
#	library to the KVM selftests and registers them in the kvm Makefile
#	(through scripts/install.sh).  The author and Signed-off-by are the
#	user's git config (user.name, user.email).  OUTDIR defaults to
#	build/patch/<tree name>; the patch files are the only lines on stdout.
#
#	KSRC may be a git repository (the series is made against its HEAD, in
#	a scratch clone) or a plain tree such as Debian's linux-source (a
#	throwaway history of its KVM selftests is started in a scratch copy).
#	KSRC itself is never written to.  The files come from this project's
#	last commit (HEAD), not from uncommitted changes.

set -euo pipefail

me=make-patch.sh
root=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD:-build}
case $build in
/*) ;;
*) build=$root/$build ;;
esac
KVM=tools/testing/selftests/kvm

die()
{
	echo "$me: $*" >&2
	exit 1
}

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
git -C "$root" archive HEAD x86_64 include lib | tar -x -C "$work/src"
head=$(git -C "$root" rev-parse --short HEAD)
"$root/scripts/install.sh" install "$work/tree" "$work/src" >&2
# install's bookkeeping is not part of an upstream change.
kvmdir=$work/tree/$KVM
rm -f "$kvmdir/.pvclock_drift_test.files"
mk=$kvmdir/Makefile
[ -f "$kvmdir/Makefile.kvm" ] && mk=$kvmdir/Makefile.kvm
sed -i -e '/^# >>> pvclock_drift_test: added by pvclock_ref make install$/d' \
	-e '/^# <<< pvclock_drift_test$/d' "$mk"

sign="$author_name <$author_email>"
msg=$work/message
sed "s|@SIGN@|$sign|" >"$msg" <<'MSG'
KVM: selftests: Add pvclock_drift_test for kvmclock reference updates

When KVM moves the reference point of a guest's kvmclock (a master clock
update, KVM_SET_CLOCK, or the proposed KVM_SET_CLOCK_GUEST), the guest's
clock can jump.  There are two sources.  Drift: the old pvclock
extrapolates with the guest's mul/shift while the host keeps time with
its own clocksource, and an update re-anchors to the host clock, so the
guest sees the accumulated difference at once.  Rounding: even when the
new reference is derived from the old pvclock itself (system_time =
read(old, T1)), the floor in the guest's read drops a fraction of a ns,
which is why the KVM_[GS]ET_CLOCK_GUEST test must allow +-1..2 ns.  No
test measures either on a real guest today.

pvclock_drift_test measures them.  Each subtest runs in a child process:

  masterclock_update  the guest snapshots its pvti, vCPU 0 forces a
                      master clock update after --interval-ms, and the
                      guest reports old minus new clock at one TSC value;
                      fails beyond --max-drift-ppb.
  set_clock           KVM_GET_CLOCK immediately followed by KVM_SET_CLOCK
                      with its data, with and without KVM_CLOCK_REALTIME;
                      fails beyond --max-set-clock-ns.
  reference_update    the host moves a pvti page of its own to a new
                      reference chosen three ways and the guest compares
                      old and new clocks at every read for 0.2 s.
  set_clock_guest     where KVM_SET_CLOCK_GUEST exists: the kernel's new
                      system_time must be the prediction from the saved
                      pvti, every read within --tolerance-ns.

The arithmetic lives in a small freestanding library, pvclock_ref (no
libc, no floating point, so guest code can call it): the guest's
pvclock_scale_delta(), kvm_get_time_scale() and kvm_scale_tsc() bit for
bit, and the choice of a new reference.  With d1 = T1 - T0 and
k = max(0, -shift), the old clock and the rebased one differ by 0 or 1
ns when d1 is a multiple of 2^k (by up to 2 ns otherwise, as KVM's own
updates can on hosts with a negative shift), and by nothing at all, at
any later TSC until the delta wraps, when the remainder
(d1 >> k) * (mul << max(0, shift)) mod 2^32 is 0.  The library finds the
valid candidate with the smallest remainder in a window of up to 2^40
TSC values in O(log 2^32) steps (a Euclid-like descent on a linear
function modulo 2^32), and exactly, though not always in O(log), for a
guest TSC faster than the host's.

Measured on an AMD EPYC host (2 vCPUs, 6.18, a paravirtual KVM, TSC
2596150 kHz, ten runs): a master clock update after 1 s moves the guest
clock forward by 57 to 59 ns (drift -57 to -58 ppb); KVM_GET_CLOCK +
KVM_SET_CLOCK moves it back 2.9 to 4.4 us with flags 0 and forward 0.38
to 0.73 us with KVM_CLOCK_REALTIME.  In reference_update, a reference at
the current TSC (what KVM does today) leaves 5 to 85 % of the guest's
reads 1 ns off, and up to 2 ns at 4.2 GHz; the best of the last 100
valid TSC values 0.2 to 4.6 % at KVM's rate and 33 % at 3.0 GHz; the
exact choice over 2^34 values leaves no read different at any rate.

Output is KTAP with '# metric NAME VALUE UNIT' lines, and the exit codes
are kselftest's.  The test and the library build with
-mgeneral-regs-only: some KVMs run guest code through the instruction
emulator, which cannot execute SSE.

Signed-off-by: @SIGN@
MSG

"${base_git[@]}" add -A "$KVM"
git -C "$work/tree" -c user.name="$author_name" -c user.email="$author_email" \
	-c commit.gpgsign=false commit -q -F "$msg" \
	--author="$author_name <$author_email>"
rm -rf "$out"
mkdir -p "$out"
git -C "$work/tree" format-patch -q -o "$out" HEAD~1 >/dev/null
echo "$me: project $head, series against $base in $out" >&2
find "$out" -name '*.patch' | sort
