#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# tests/test_uapi.sh [TREE|VARIANT]...
#	The uapi of the project's kernel patches, as userspace sees it: for
#	each kernel source tree (a directory), or each variant name (its tree
#	is $BUILD/kernel/src, which `scripts/build-kernel.sh --variant NAME
#	--source-only` checks out with the variant's patches), run `make
#	headers_install` into a temporary directory (with O= there too, so
#	the tree is not written to; without rsync, which headers_install
#	uses, `make headers` and the same copy),
#	then compile with gcc -Wall -Werror against those headers alone:
#	  - a program that includes <linux/kvm.h> and nothing of the kernel's
#	    else, and uses KVM_GET_CLOCK_GUEST, KVM_SET_CLOCK_GUEST,
#	    KVM_CAP_CLOCK_GUEST and struct pvclock_vcpu_time_info, with the
#	    ioctl encodings, the capability's number (the one the selftest
#	    falls back to, x86_64/pvclock_compat.h: upstream's next free,
#	    252) and the structure's layout checked at compile time; it runs
#	    and prints them;
#	  - <asm/pvclock-abi.h> included before <linux/kvm.h> (one definition).
#	TAP output.  Default: the variants exact and round-down.

set -uo pipefail

me=test_uapi.sh
# shellcheck source=tests/tap.sh
. "$(dirname "$0")/tap.sh"	# root, build: scripts/lib.sh
cc=${CC:-gcc}

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# The kernel's number must be the one the selftest uses where a tree's
# headers have none.
cap=$(sed -n 's/^#define KVM_CAP_CLOCK_GUEST[[:space:]]\{1,\}\([0-9]\{1,\}\)$/\1/p' \
	"$root/x86_64/pvclock_compat.h")
[ -n "$cap" ] || { echo "$me: no KVM_CAP_CLOCK_GUEST number in x86_64/pvclock_compat.h" >&2; exit 2; }

# The program: only <linux/kvm.h>, plus libc.
cat >"$work/clock_guest.c" <<EOF
// SPDX-License-Identifier: GPL-2.0-only
#include <stddef.h>
#include <stdio.h>
#include <linux/kvm.h>

_Static_assert(sizeof(struct pvclock_vcpu_time_info) == 32, "size");
_Static_assert(offsetof(struct pvclock_vcpu_time_info, tsc_timestamp) == 8,
	       "tsc_timestamp");
_Static_assert(offsetof(struct pvclock_vcpu_time_info, system_time) == 16,
	       "system_time");
_Static_assert(offsetof(struct pvclock_vcpu_time_info, tsc_to_system_mul) == 24,
	       "tsc_to_system_mul");
_Static_assert(offsetof(struct pvclock_vcpu_time_info, tsc_shift) == 28,
	       "tsc_shift");
_Static_assert(offsetof(struct pvclock_vcpu_time_info, flags) == 29, "flags");
_Static_assert(offsetof(struct pvclock_vcpu_time_info, pad) == 30, "pad");
_Static_assert(PVCLOCK_TSC_STABLE_BIT == 1, "PVCLOCK_TSC_STABLE_BIT");
_Static_assert(KVM_SET_CLOCK_GUEST ==
	       _IOW(KVMIO, 0xd6, struct pvclock_vcpu_time_info), "SET");
_Static_assert(KVM_GET_CLOCK_GUEST ==
	       _IOR(KVMIO, 0xd7, struct pvclock_vcpu_time_info), "GET");
_Static_assert(_IOC_SIZE(KVM_SET_CLOCK_GUEST) == 32, "SET size");
_Static_assert(_IOC_SIZE(KVM_GET_CLOCK_GUEST) == 32, "GET size");
_Static_assert(KVM_CAP_CLOCK_GUEST == $cap, "KVM_CAP_CLOCK_GUEST");

int main(void)
{
	struct pvclock_vcpu_time_info pvti = { .flags = PVCLOCK_TSC_STABLE_BIT };
	unsigned long ioctls[] = { KVM_GET_CLOCK_GUEST, KVM_SET_CLOCK_GUEST };

	printf("KVM_GET_CLOCK_GUEST %#lx KVM_SET_CLOCK_GUEST %#lx KVM_CAP_CLOCK_GUEST %d sizeof %zu flags %u\n",
	       ioctls[0], ioctls[1], KVM_CAP_CLOCK_GUEST, sizeof(pvti),
	       (unsigned int)pvti.flags);
	return 0;
}
EOF
cat >"$work/both.c" <<'EOF'
// SPDX-License-Identifier: GPL-2.0-only
#include <asm/pvclock-abi.h>
#include <linux/kvm.h>

int main(void)
{
	struct pvclock_vcpu_time_info pvti = { 0 };

	return (int)(sizeof(pvti) + KVM_GET_CLOCK_GUEST) & 0;
}
EOF
# x86-64 encodings: _IOR/_IOW(0xAE, nr, 32 bytes)
want="KVM_GET_CLOCK_GUEST 0x8020aed7 KVM_SET_CLOCK_GUEST 0x4020aed6 KVM_CAP_CLOCK_GUEST $cap sizeof 32 flags 1"

# kmake TREE DIR ARGS...: the tree's make, its output in DIR/obj, with no
# variables or jobserver from a calling make.
kmake()
{
	local tree=$1 dir=$2

	shift 2
	env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL -u MAKEOVERRIDES \
		make -s -C "$tree" O="$dir/obj" ARCH=x86_64 "$@"
}

# The tree's uapi headers in DIR/hdr/include.  headers_install copies them
# with rsync; without it, `make headers` and the same copy by hand.
how=
command -v rsync >/dev/null || how=" (make headers and a copy: no rsync here)"
install_headers()
{
	local tree=$1 dir=$2

	if [ -z "$how" ]; then
		kmake "$tree" "$dir" headers_install INSTALL_HDR_PATH="$dir/hdr"
		return
	fi
	kmake "$tree" "$dir" headers &&
	mkdir -p "$dir/hdr" &&
	(cd "$dir/obj/usr" && find include -name '*.h' -print0 |
		xargs -0 cp --parents -t "$dir/hdr")
}

check_tree()
{
	local name=$1 tree=$2 dir out='' lines

	dir=$work/$(printf '%s' "$name" | tr -c 'A-Za-z0-9_-' _)
	mkdir -p "$dir"
	if [ ! -f "$tree/Makefile" ] || [ ! -d "$tree/include/uapi/linux" ]; then
		not_ok "$name: headers_install ($tree is not a kernel source tree)"
		not_ok "$name: <linux/kvm.h> gives KVM_[GS]ET_CLOCK_GUEST, KVM_CAP_CLOCK_GUEST and the struct" "skipped: no headers"
		not_ok "$name: <asm/pvclock-abi.h> and <linux/kvm.h> together" "skipped: no headers"
		return
	fi
	if install_headers "$tree" "$dir" >"$dir/install.log" 2>&1; then
		ok "$name: make headers_install$how"
	else
		mapfile -t lines < <(tail -n 5 "$dir/install.log")
		not_ok "$name: make headers_install$how" "${lines[@]}"
	fi

	if "$cc" -I"$dir/hdr/include" -Wall -Werror -o "$dir/clock_guest" \
		"$work/clock_guest.c" >"$dir/cc.log" 2>&1 &&
	   out=$("$dir/clock_guest") && [ "$out" = "$want" ]; then
		ok "$name: <linux/kvm.h> gives KVM_[GS]ET_CLOCK_GUEST, KVM_CAP_CLOCK_GUEST and the struct"
	else
		mapfile -t lines < <(head -n 8 "$dir/cc.log"; [ -z "${out:-}" ] || echo "got: $out")
		not_ok "$name: <linux/kvm.h> gives KVM_[GS]ET_CLOCK_GUEST, KVM_CAP_CLOCK_GUEST and the struct" \
			"${lines[@]}"
	fi

	if "$cc" -I"$dir/hdr/include" -Wall -Werror -o "$dir/both" \
		"$work/both.c" >"$dir/both.log" 2>&1; then
		ok "$name: <asm/pvclock-abi.h> and <linux/kvm.h> together"
	else
		mapfile -t lines < <(head -n 8 "$dir/both.log")
		not_ok "$name: <asm/pvclock-abi.h> and <linux/kvm.h> together" "${lines[@]}"
	fi
}

echo "TAP version 13"
command -v "$cc" >/dev/null || { echo "$me: no $cc" >&2; exit 2; }
[ $# -gt 0 ] || set -- exact round-down
for arg in "$@"; do
	if [ -d "$arg" ]; then
		check_tree "$(basename "$arg")" "$(cd "$arg" && pwd)"
	else
		case $arg in
		'' | *[!a-z0-9_-]*)
			echo "$me: '$arg' is neither a directory nor a variant name" >&2
			exit 2 ;;
		esac
		if tree=$(BUILD=$build "$root/scripts/build-kernel.sh" --variant "$arg" \
			--source-only 2>"$work/source.log" | tail -n 1); then
			check_tree "$arg" "$tree"
		else
			mapfile -t lines < <(tail -n 5 "$work/source.log")
			not_ok "$arg: the variant's source (build-kernel.sh --source-only)" \
				"${lines[@]}"
		fi
	fi
done
echo "1..$n"
[ "$failed" = 0 ]
