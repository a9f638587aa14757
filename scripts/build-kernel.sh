#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# build-kernel.sh [--variant NAME] [--patches 'FILE...'] [--config-extra 'ITEMS']
#		  [--make-flags 'FLAGS'] [--jobs N] [--verbose] [--source-only]
#	Build a minimal x86-64 KVM host kernel from Debian's linux-source of
#	BASE_KVER (mk/versions.conf) with the project's kernel patches
#	(kernel/patches, the variant's list in kernel/patches/series; exact
#	by default) and config fragment (kernel/config/kvm-host.config), and
#	print the bzImage's path as the last line of output.
#
#	--patches       these patch files instead of the variant's list (the
#			variant then only names the build, e.g. kernel-patch.sh's)
#	--config-extra  more config: fragment files and CONFIG_X=y / CONFIG_X=n
#			items, space-separated, merged after the fragment
#	--make-flags    more arguments for the kernel's make, e.g. W=1
#	--source-only   check the source out with the patches applied, print
#			its path and build nothing (for headers_install)
#
# Everything lives in $BUILD/kernel (BUILD defaults to build):
#	src/		the pristine Debian source as a git repository (commit
#			tagged "base"), checked out at the variant's patches;
#			never built in.  Every series applied is kept as a chain
#			of commits, each tagged series/HASH by the content of
#			the patches up to it, so another variant checks out the
#			longest prefix it shares and applies the rest: git
#			rewrites only the files that differ.
#	obj[-X]/	the O= output, one for every variant; X is a hash of
#			--config-extra and --make-flags, so that check builds
#			keep their own
#	images/VARIANT-KEY/bzImage
#			the result, and its modules in lib/modules/RELEASE; KEY
#			a hash of the Debian source version, the patches, the
#			config and the make flags
#
# A build whose KEY has an image is not run again (a clean clone builds
# each variant once).  The variants share src/ and obj/: switching from
# one to another rewrites only the files their patches change, so only
# those and what depends on them are compiled again (the variants of
# kernel/patches differ in arch/x86/kvm/x86.c alone).  The kernel's own
# output goes to obj*/build.log; progress notes go to stderr.

set -euo pipefail

me="build-kernel.sh"
# shellcheck source=scripts/lib.sh
. "$(dirname "$0")/lib.sh"
note_prefix='# kernel: '
usage_lines=4,19

kver=$BASE_KVER
variant=exact
patch_list=
config_extra=
make_flags=
jobs=${KERNEL_JOBS:-2}
verbose=0
source_only=0

# A bad command line, or --help: the usage above on stderr, exit 2.
while [ $# -gt 0 ]; do
	case $1 in
	--variant)	[ $# -ge 2 ] || usage_error; variant=$2; shift 2 ;;
	--patches)	[ $# -ge 2 ] || usage_error; patch_list=$2; shift 2 ;;
	--config-extra)	[ $# -ge 2 ] || usage_error; config_extra=$2; shift 2 ;;
	--make-flags)	[ $# -ge 2 ] || usage_error; make_flags=$2; shift 2 ;;
	--jobs)		[ $# -ge 2 ] || usage_error; jobs=$2; shift 2 ;;
	--verbose)	verbose=1; shift ;;
	--source-only)	source_only=1; shift ;;
	-h | --help)	usage_error ;;
	*)		usage_error "unknown argument '$1'" ;;
	esac
done

case $variant in
'' | *[!a-z0-9_-]*) die "bad variant name '$variant'" ;;
esac
case $jobs in
'' | *[!0-9]* | 0) die "bad --jobs '$jobs'" ;;
esac

patch_dir=$root/kernel/patches
series=$patch_dir/series
fragment=$root/kernel/config/kvm-host.config
[ -f "$series" ] || die "$series is missing"
[ -f "$fragment" ] || die "$fragment is missing"

# The variant's patches, in order: "VARIANT: PATCH..." lines in series,
# or the --patches list.
patches=()
if [ -n "$patch_list" ]; then
	for p in $patch_list; do
		[ -f "$p" ] || die "--patches: no file $p"
		patches+=("$(cd "$(dirname "$p")" && pwd)/$(basename "$p")")
	done
else
	found=0
	while read -r name rest; do
		case $name in
		'' | '#'*) continue ;;
		esac
		if [ "$name" = "$variant:" ]; then
			found=1
			for p in $rest; do
				[ -f "$patch_dir/$p" ] || die "series names $p, which is not in $patch_dir"
				patches+=("$patch_dir/$p")
			done
		fi
	done <"$series"
	if [ $found = 0 ]; then
		die "no variant '$variant' in $series (known: $(sed -n 's/^\([a-z0-9_-]*\):.*/\1/p' "$series" | tr '\n' ' '))"
	fi
fi

# The extra config: files are read, items taken as they are.
extra_frag=$(mktemp)
trap 'rm -f "$extra_frag"' EXIT
for item in $config_extra; do
	case $item in
	CONFIG_*=n)
		echo "# ${item%=n} is not set" >>"$extra_frag" ;;
	CONFIG_*=*)
		echo "$item" >>"$extra_frag" ;;
	*)
		[ -f "$item" ] || die "--config-extra: '$item' is neither CONFIG_X=V nor a file"
		cat "$item" >>"$extra_frag" ;;
	esac
done

# Debian's source package, in get-tree.sh's cache.
deb=$(linux_source_deb "$kver" "$build/trees/debs")
source_id=$(basename "$deb" .deb)
# "linux-source-7.3_7.3.4-1~bpo13+1_all" -> "7.3.4-1~bpo13+1"
debian_version=${source_id#*_}
debian_version=${debian_version%_*}
note "Debian linux-source-$kver ($debian_version), variant $variant"

hash_of()
{
	sha256sum | cut -c1-16
}

# What the image depends on.  The patch files are hashed by content, so a
# renamed but identical series keeps its image.
key=$( {
	echo "source $source_id"
	echo "make-flags $make_flags"
	for p in "${patches[@]}"; do
		echo "patch"
		cat "$p"
	done
	echo "config"
	cat "$fragment" "$extra_frag"
	} | hash_of)

kdir=$build/kernel
image_dir=$kdir/images/$variant-$key
image=$image_dir/bzImage
if [ -f "$image" ] && [ $source_only = 0 ]; then
	note "cached ($source_id, variant $variant)"
	echo "$image"
	exit 0
fi

mkdir -p "$kdir"
exec 9>"$kdir/.lock"
flock 9

src=$kdir/src
if [ -n "$config_extra$make_flags" ]; then
	obj=$kdir/obj-$(printf '%s\n%s\n' "$config_extra" "$make_flags" | hash_of | cut -c1-8)
else
	obj=$kdir/obj
fi

git_q()
{
	git -C "$src" -c user.name=build-kernel -c user.email=build-kernel@localhost \
		-c advice.detachedHead=false "$@"
}

# The pristine source, once per Debian version.  A new one starts every
# O= folder afresh, and the folders of the per-variant layout go.
if [ ! -f "$src/.git/pvclock-source" ] ||
   [ "$(cat "$src/.git/pvclock-source")" != "$source_id" ]; then
	note "unpacking $source_id into $src"
	linux_source_repo "$deb" "$kver" "$src" build-kernel
	rm -rf "$kdir"/obj "$kdir"/obj-* "$kdir"/src-*
	echo "$source_id" >"$src/.git/pvclock-source"
fi

# The patches on top of base.  tags[i]: series/HASH of the first i
# patches' content; the longest prefix already applied is checked out
# (git rewrites only what differs from the current checkout) and the rest
# applied with git am, each tagged.
tags=(base)
prefix=
for p in "${patches[@]}"; do
	prefix=$(printf '%s\n%s' "$prefix" "$(cat "$p")" | hash_of)
	tags+=("series/$prefix")
done
have=0
for i in "${!tags[@]}"; do
	git_q rev-parse -q --verify "refs/tags/${tags[$i]}" >/dev/null || break
	have=$i
done
git_q am --abort >/dev/null 2>&1 || true
if [ "$(git_q rev-parse HEAD)" != "$(git_q rev-parse "${tags[$have]}^{commit}")" ] ||
   [ -n "$(git_q status --porcelain --untracked-files=no)" ]; then
	git_q checkout -q -f --detach "${tags[$have]}"
fi
for ((i = have; i < ${#patches[@]}; i++)); do
	p=${patches[$i]}
	note "applying $(basename "$p")"
	git_q am -q "$p" >&2 || {
		git_q am --abort >/dev/null 2>&1 || true
		die "$(basename "$p") does not apply to $source_id"
	}
	git_q tag -f "${tags[$((i + 1))]}" >/dev/null
done

if [ $source_only = 1 ]; then
	echo "$src"
	exit 0
fi

# kmake: the source's make, into the O= folder, the variant in the release.
kmake_args=(-C "$src" O="$obj" LOCALVERSION="-pvclock-$variant")

log=$obj/build.log
mkdir -p "$obj"
: >"$log"
run_logged()
{
	if [ $verbose = 1 ]; then
		"$@" 2>&1 | tee -a "$log" >&2
	else
		"$@" >>"$log" 2>&1
	fi
}

# tinyconfig, the fragment and the extras, then olddefconfig.  Kbuild
# recompiles only what a changed option affects.
start=$(date +%s)
note "configuring $obj"
run_logged kmake tinyconfig || die "tinyconfig failed (see $log)"
run_logged no_make_env "$src/scripts/kconfig/merge_config.sh" -m -O "$obj" "$obj/.config" \
	"$fragment" "$extra_frag" || die "merge_config.sh failed (see $log)"
run_logged kmake olddefconfig || die "olddefconfig failed (see $log)"

# Every requested value must have stuck (a missing dependency drops it);
# of a symbol given twice, the later value counts, as in merge_config.sh.
requested()
{
	cat "$fragment" "$extra_frag" | awk '
		/^CONFIG_[A-Za-z0-9_]*=/ {
			sym = substr($0, 1, index($0, "=") - 1)
			want[sym] = $0
			if (!(sym in order)) { order[sym] = ++n; syms[n] = sym }
		}
		/^# CONFIG_[A-Za-z0-9_]* is not set$/ {
			sym = $2
			want[sym] = $0
			if (!(sym in order)) { order[sym] = ++n; syms[n] = sym }
		}
		END { for (i = 1; i <= n; i++) print want[syms[i]] }'
}
bad=0
while IFS= read -r line; do
	case $line in
	'# '*)
		sym=${line#\# }
		sym=${sym%% *}
		grep -q "^$sym=" "$obj/.config" || continue ;;
	*)
		sym=${line%%=*}
		grep -qxF -- "$line" "$obj/.config" && continue ;;
	esac
	echo "$me: requested '$line', but .config has: $(grep -E "^(# )?${sym}[= ]" "$obj/.config" || echo 'nothing')" >&2
	bad=1
done < <(requested)
[ $bad = 0 ] || die "the config does not hold what kernel/config asks for"

targets=(bzImage)
grep -qx 'CONFIG_MODULES=y' "$obj/.config" && targets+=(modules)
note "building ${targets[*]} (make -j$jobs $make_flags; log $log)"
# shellcheck disable=SC2086
if ! run_logged kmake -j"$jobs" $make_flags "${targets[@]}"; then
	grep -E 'error|Error' "$log" | tail -n 20 >&2 || true
	die "the kernel build failed (see $log)"
fi
warnings=$(grep -c 'warning:' "$log" || true)
note "built in $(($(date +%s) - start)) s, $warnings compiler warning(s)"

rm -rf "$image_dir.tmp"
mkdir -p "$image_dir.tmp"
cp "$obj/arch/x86/boot/bzImage" "$image_dir.tmp/bzImage"
# The modules beside the bzImage, in lib/modules/RELEASE, where the VM
# runner finds them by itself.
if grep -qx 'CONFIG_MODULES=y' "$obj/.config"; then
	run_logged kmake INSTALL_MOD_PATH="$image_dir.tmp" modules_install ||
		die "modules_install failed (see $log)"
fi
cp "$obj/.config" "$image_dir.tmp/config"
rm -rf "$image_dir"
mv "$image_dir.tmp" "$image_dir"
echo "$image"
