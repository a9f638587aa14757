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

die()
{
	echo "$me: $*" >&2
	exit 1
}

ensure_headers()
{
	local tree=$1

	if [ ! -f "$tree/Makefile" ] || [ ! -d "$tree/tools/testing/selftests/kvm" ]; then
		die "$tree is not a kernel tree with KVM selftests"
	fi
	if [ -d "$tree/usr/include/linux" ] && [ -f "$tree/usr/include/linux/kvm.h" ]; then
		return 0
	fi
	echo "$me: making the uapi headers of $tree" >&2
	make -s -C "$tree" headers >&2 || die "'make headers' failed in $tree"
}

# The one .deb of linux-source-$1 in the cache, downloaded when absent.
fetch_deb()
{
	local ver=$1 cache=$2 pkg="linux-source-$1" deb

	mkdir -p "$cache"
	deb=$(find "$cache" -maxdepth 1 -name "${pkg}_*_all.deb" | sort -V | tail -n 1)
	if [ -n "$deb" ]; then
		echo "$deb"
		return 0
	fi
	if ! apt-cache show "$pkg" >/dev/null 2>&1; then
		# Lists may simply never have been fetched on a fresh machine.
		if [ "$(id -u)" = 0 ]; then
			echo "$me: $pkg not in the package lists; running apt-get update" >&2
			apt-get update -qq >&2 || true
		fi
		apt-cache show "$pkg" >/dev/null 2>&1 ||
			die "package $pkg is not in the package list (run 'apt-get update' as root, or pass KSRC=/path/to/linux)"
	fi
	echo "$me: downloading $pkg" >&2
	# apt drops to the _apt user unless told otherwise; it could not
	# write into a root-owned cache folder.
	(cd "$cache" && apt-get download -q -o APT::Sandbox::User=root "$pkg" >&2) ||
		die "apt-get download $pkg failed (network or package list unavailable; pass KSRC=/path/to/linux instead)"
	deb=$(find "$cache" -maxdepth 1 -name "${pkg}_*_all.deb" | sort -V | tail -n 1)
	[ -n "$deb" ] || die "apt-get download left no ${pkg}_*_all.deb in $cache"
	echo "$deb"
}

extract_tree()
{
	local ver=$1 deb=$2 dest=$3 tmp tarball

	tmp=$(mktemp -d "$dest.tmp.XXXXXX")
	# shellcheck disable=SC2064
	trap "rm -rf '$tmp'" EXIT
	echo "$me: extracting $(basename "$deb")" >&2
	dpkg-deb -x "$deb" "$tmp/deb" || die "dpkg-deb -x $deb failed"
	tarball=$(find "$tmp/deb/usr/src" -maxdepth 1 -name "linux-source-$ver.tar.*" | head -n 1)
	[ -n "$tarball" ] || die "$deb holds no linux-source-$ver tarball"
	tar -xf "$tarball" -C "$tmp" || die "cannot unpack $tarball"
	rm -rf "$tmp/deb"
	[ -d "$tmp/linux-source-$ver" ] || die "$tarball has no linux-source-$ver/"
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
		deb=$(fetch_deb "$ver" "${PVCLOCK_DEB_CACHE:-$trees/debs}")
		extract_tree "$ver" "$deb" "$dest"
		ensure_headers "$dest"
		basename "$deb" >"$dest/.pvclock-tree-ok"
	fi
	ensure_headers "$dest"
	echo "$dest"
}

main "$@"
