#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# install.sh install|uninstall KSRC [PVCLOCK_SRC]
#
# install: copy pvclock_drift_test, its headers and the pvclock_ref library
# into KSRC's KVM selftests and register them in its Makefile, so that
# `make -C tools/testing/selftests TARGETS=kvm` builds the test and the
# kselftest runner runs it.  Running it again refreshes the copies.
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

die()
{
	echo "$me: $*" >&2
	exit 1
}

# Sets kvm, mkfile, archdir and progvar for the tree in $1.
detect_layout()
{
	kvm=$1/tools/testing/selftests/kvm
	[ -d "$kvm" ] || die "$1 has no tools/testing/selftests/kvm"
	if [ -f "$kvm/Makefile.kvm" ]; then
		mkfile=$kvm/Makefile.kvm
		archdir=x86
	else
		mkfile=$kvm/Makefile
		archdir=x86_64
	fi
	progvar=TEST_GEN_PROGS_$archdir
	[ -d "$kvm/$archdir" ] || die "$kvm has no $archdir/ directory"
	grep -q "^${progvar}[[:space:]]*+\?=" "$mkfile" ||
		die "$mkfile has no $progvar list: unknown KVM selftest layout"
}

# Destination (relative to the kvm dir) of each installed file, with its source.
file_map()
{
	echo "$archdir/pvclock_drift_test.c x86_64/pvclock_drift_test.c"
	echo "$archdir/pvclock_compat.h x86_64/pvclock_compat.h"
	echo "$archdir/pvclock_drift.h x86_64/pvclock_drift.h"
	echo "include/pvclock_ref.h include/pvclock_ref.h"
	echo "lib/pvclock_ref.c lib/pvclock_ref.c"
}

makefile_block()
{
	cat <<EOF
$BEGIN_MARK
$progvar += $archdir/pvclock_drift_test
LIBKVM_$archdir += lib/pvclock_ref.c
# Guest code runs these; KVM may emulate guest code without SSE.
%/lib/pvclock_ref.o: CFLAGS += -mgeneral-regs-only
%/$archdir/pvclock_drift_test.o: CFLAGS += -mgeneral-regs-only
$END_MARK
EOF
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

do_install()
{
	local src=$1 dst from

	if [ ! -f "$src/x86_64/pvclock_drift_test.c" ] || [ ! -f "$src/lib/pvclock_ref.c" ]; then
		die "$src is not a pvclock_ref checkout"
	fi
	# Never overwrite a file of the tree's own.
	if [ ! -f "$kvm/$MANIFEST" ]; then
		while read -r dst from; do
			[ ! -e "$kvm/$dst" ] || die "$kvm/$dst exists and was not installed by this script"
		done < <(file_map)
	fi
	: >"$kvm/$MANIFEST"
	while read -r dst from; do
		cp "$src/$from" "$kvm/$dst"
		echo "$dst" >>"$kvm/$MANIFEST"
	done < <(file_map)
	remove_block
	add_block
	echo "$me: installed into $kvm ($archdir/, $(basename "$mkfile"))"
}

do_uninstall()
{
	local dst from base

	while read -r dst from; do
		rm -f "$kvm/$dst"
	done < <(file_map)
	# What an in-tree build without O= made of the installed files.
	for base in "$archdir/pvclock_drift_test" lib/pvclock_ref; do
		rm -f "$kvm/$base.o" "$kvm/$base.d"
	done
	rm -f "$kvm/$archdir/pvclock_drift_test" "$kvm/$MANIFEST"
	remove_block
	echo "$me: removed from $kvm"
}

main()
{
	if [ $# -lt 2 ] || [ $# -gt 3 ]; then
		die "usage: $me install|uninstall KSRC [PVCLOCK_SRC]"
	fi
	detect_layout "$2"
	case $1 in
	install)
		do_install "${3:-$(cd "$(dirname "$0")/.." && pwd)}"
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
