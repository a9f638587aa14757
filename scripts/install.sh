#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# install.sh install|uninstall KSRC [PVCLOCK_SRC]
#
# install: copy the three pvclock tests (pvclock_drift_test,
# pvclock_restore_test, pvclock_clock_guest_test), the code they share and
# the pvclock_ref and pvclock_restore libraries into KSRC's KVM selftests,
# where the upstream series and the kernel series put them
# (scripts/kvm-tree.sh: the shared code in include/ARCH/ and lib/ARCH/, the
# tests in ARCH/, each file in the form of that tree's API), and register
# them in its Makefile in one marked block, with -mgeneral-regs-only for
# the objects that guest code runs, so that `make -C tools/testing/selftests
# TARGETS=kvm` builds the tests and the kselftest runner runs them.
# Running it again refreshes the copies.
#
# uninstall: remove exactly what install added (and the objects an in-tree
# build made of those files), leaving the tree as it was.
#
# Trees before 6.14 keep x86 tests in x86_64/ and list them in Makefile;
# later trees use x86/ and Makefile.kvm.  Both are detected.

set -euo pipefail

me=install.sh
BEGIN_MARK='# >>> pvclock_drift_test: added by pvclock_ref make install'
END_MARK='# <<< pvclock_drift_test'
MANIFEST=.pvclock_drift_test.files
# shellcheck source=scripts/lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=scripts/kvm-tree.sh
. "$(dirname "$0")/kvm-tree.sh"

# "destination source" of each installed file (destination relative to the
# kvm dir).
installed_files()
{
	local part

	for part in $KVM_INSTALL_PARTS; do
		kvm_part_files "$part"
	done
}

# The host-only objects: the option parser and pvclock_restore(), which a
# VMM runs.  Every other installed object holds guest code.
HOST_ONLY="pvclock_drift_opts.c pvclock_restore.c"

makefile_block()
{
	local part var value dst from

	echo "$BEGIN_MARK"
	for part in $KVM_INSTALL_PARTS; do
		kvm_part_make "$part" | while read -r var value; do
			echo "$var += $value"
		done
	done
	echo "# Guest code runs these; KVM may emulate guest code without SSE."
	installed_files | while read -r dst from; do
		case " $HOST_ONLY " in
		*" $(basename "$dst") "*) continue ;;
		esac
		[[ $dst != *.c ]] || echo "%/${dst%.c}.o: CFLAGS += -mgeneral-regs-only"
	done
	echo "$END_MARK"
}

remove_block()
{
	local tmp

	tmp=$(mktemp "$mkfile.XXXXXX")
	awk -v b="$BEGIN_MARK" -v e="$END_MARK" '
		$0 == b { skip = 1; next }
		$0 == e { skip = 0; next }
		!skip { print }' "$mkfile" >"$tmp"
	cat "$tmp" >"$mkfile"	# keeps the file's mode and owner
	rm -f "$tmp"
}

# The block goes after the last line of the x86 test list, where the list
# is complete but not yet used.
add_block()
{
	local tmp last

	last=$(grep -n "^${progvar}[[:space:]]*+\?=" "$mkfile" | tail -n 1 | cut -d: -f1)
	tmp=$(mktemp "$mkfile.XXXXXX")
	{
		head -n "$last" "$mkfile"
		makefile_block
		tail -n "+$((last + 1))" "$mkfile"
	} >"$tmp"
	cat "$tmp" >"$mkfile"
	rm -f "$tmp"
}

# What the last install left: its manifest, or today's list.
previous_files()
{
	if [ -f "$kvm/$MANIFEST" ]; then
		cat "$kvm/$MANIFEST"
	else
		installed_files | cut -d' ' -f1
	fi
}

# The installed files, and what an in-tree build without O= made of them.
remove_files()
{
	local dst

	while read -r dst; do
		rm -f "$kvm/$dst"
		case $dst in
		*.c) rm -f "$kvm/${dst%.c}.o" "$kvm/${dst%.c}.d" ;;
		esac
		case $dst in
		*_test.c) rm -f "$kvm/${dst%.c}" ;;
		esac
	done < <(previous_files)
}

do_install()
{
	local src=$1 dst from part

	if [ ! -f "$src/x86_64/pvclock_drift_test.c" ] || [ ! -f "$src/lib/pvclock_ref.c" ]; then
		die "$src is not a pvclock_ref checkout"
	fi
	if [ -f "$kvm/$MANIFEST" ]; then
		remove_files
	else
		# Never overwrite a file of the tree's own.
		while read -r dst from; do
			[ ! -e "$kvm/$dst" ] || die "$kvm/$dst exists and was not installed by this script"
		done < <(installed_files)
	fi
	for part in $KVM_INSTALL_PARTS; do
		kvm_put_part "$part" "$src" || die "cannot install the $part files"
	done
	installed_files | cut -d' ' -f1 >"$kvm/$MANIFEST"
	remove_block
	add_block
	echo "$me: installed into $kvm ($archdir/, $(basename "$mkfile"))"
}

do_uninstall()
{
	remove_files
	rm -f "$kvm/$MANIFEST"
	remove_block
	echo "$me: removed from $kvm"
}

main()
{
	local why

	if [ $# -lt 2 ] || [ $# -gt 3 ]; then
		die "usage: $me install|uninstall KSRC [PVCLOCK_SRC]"
	fi
	why=$(kvm_detect_layout "$2") || die "$why"
	kvm_detect_layout "$2"
	case $1 in
	install)
		do_install "${3:-$root}"
		;;
	uninstall)
		do_uninstall
		;;
	*)
		die "unknown action '$1' (install or uninstall)"
		;;
	esac
}

main "$@"
