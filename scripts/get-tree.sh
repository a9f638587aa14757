#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# get-tree.sh VERSION TREES_DIR
#	Obtain Debian's linux-source-VERSION (6.1, 6.12, ...), extract it to
#	TREES_DIR/linux-VERSION once, make its headers, and print the tree's
#	path.  The .deb is kept in $PVCLOCK_DEB_CACHE (TREES_DIR/debs).
#
# get-tree.sh --headers TREE
#	Make the uapi headers of a tree of the user's (usr/include) if they
#	are missing, as the KVM selftests need them.
#
# Progress goes to stderr; the tree's path is the only line on stdout.

set -euo pipefail

me=get-tree.sh
# shellcheck source=scripts/lib.sh
. "$(dirname "$0")/lib.sh"

ensure_headers()
{
	local tree=$1

	if [ ! -f "$tree/Makefile" ] || [ ! -d "$tree/tools/testing/selftests/kvm" ]; then
		die "$tree is not a kernel tree with KVM selftests"
	fi
	if [ -d "$tree/usr/include/linux" ] && [ -f "$tree/usr/include/linux/kvm.h" ]; then
		return 0
	fi
	note "making the uapi headers of $tree"
	make -s -C "$tree" headers >&2 || die "'make headers' failed in $tree"
}

extract_tree()
{
	local ver=$1 deb=$2 dest=$3 tmp

	tmp=$(mktemp -d "$dest.tmp.XXXXXX")
	# shellcheck disable=SC2064
	trap "rm -rf '$tmp'" EXIT
	note "extracting $(basename "$deb")"
	linux_source_unpack "$deb" "$ver" "$tmp"
	rm -rf "$dest"
	mv "$tmp/linux-source-$ver" "$dest"
	rm -rf "$tmp"
	trap - EXIT
}

main()
{
	local ver trees dest deb

	if [ "${1:-}" = --headers ]; then
		[ $# -eq 2 ] || die "usage: $me --headers TREE"
		ensure_headers "$2"
		echo "$2"
		return 0
	fi
	[ $# -eq 2 ] || die "usage: $me VERSION TREES_DIR | $me --headers TREE"
	ver=$1
	trees=$2
	[[ $ver =~ ^[0-9]+\.[0-9]+$ ]] || die "bad version '$ver' (want e.g. 6.12)"
	mkdir -p "$trees"
	trees=$(cd "$trees" && pwd)
	dest="$trees/linux-$ver"

	# The stamp is written last: a tree without it is incomplete.
	if [ ! -f "$dest/.pvclock-tree-ok" ]; then
		deb=$(linux_source_deb "$ver" "${PVCLOCK_DEB_CACHE:-$trees/debs}")
		extract_tree "$ver" "$deb" "$dest"
		ensure_headers "$dest"
		basename "$deb" >"$dest/.pvclock-tree-ok"
	fi
	ensure_headers "$dest"
	echo "$dest"
}

main "$@"
