#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# lava-job.sh --kernel K [--modules DIR] [--url BASE] [--out DIR] PROGRAM...
#	Write a ready LAVA job that runs the static test PROGRAMs inside
#	kernel K on a qemu device whose CPU has SVM: DIR/job.yaml (from
#	lava/job.yaml.in, the test definition lava/kvm-selftests.yaml
#	inlined), DIR/bzImage and DIR/ramdisk.cpio.gz.
#
# Options:
#   --kernel K     debian-X.Y (Debian's newest cloud kernel of the series,
#                  as the VM runner fetches it) or the path of a bzImage
#   --modules DIR  the bzImage's modules (a modules_install tree or a
#                  folder of .ko files), as for the VM runner
#   --url BASE     the artifacts' URL base in a lab (BASE/bzImage,
#                  BASE/ramdisk.cpio.gz); default: file:// URLs of DIR
#   --out DIR      default build/lava/job
#   --help         this text
#
# The ramdisk: busybox, lava/ramdisk-init as /init, the kernel's KVM,
# virtio_blk and ext4 modules with what they depend on (uncompressed, with
# their modules.dep), and /opt/kvm-selftests: the PROGRAMs, tests.list
# (their names, one a line) and kvm-selftests.sh.  DIR/kernel.txt names K,
# DIR/tests.list the programs and DIR/subtests.list their subtests
# ("PROGRAM NAME" lines, from each program's --list) for lava-run.sh.
# Exit 0, or 2 for a bad command line and 1 when something fails, with
# one line.

set -euo pipefail

me=lava-job.sh
# shellcheck source=scripts/lib.sh
. "$(dirname "$(readlink -f "$0")")/../scripts/lib.sh"
usage_hint=" (see --help)"

kernel=
moddir=
url=
out=$build/lava/job
progs=()
# The modules the ramdisk loads where they are not built in: KVM (the test
# definition loads it), the test overlay's disk and its filesystem.
ramdisk_modules=(kvm_amd kvm_intel virtio_pci virtio_blk ext4)

while [ $# -gt 0 ]; do
	case $1 in
	--kernel) need_value "$@"; kernel=$2; shift 2 ;;
	--modules) need_value "$@"; moddir=$2; shift 2 ;;
	--url) need_value "$@"; url=${2%/}; shift 2 ;;
	--out) need_value "$@"; out=$2; shift 2 ;;
	--help | -h) usage_text '4,/^$/'; exit 0 ;;
	--) shift; progs+=("$@"); break ;;
	-*) usage_error "unknown option '$1'" ;;
	*) progs+=("$1"); shift ;;
	esac
done
[ -n "$kernel" ] || usage_error "--kernel is required (debian-$BASE_KVER or a bzImage)"
[ ${#progs[@]} -gt 0 ] || usage_error "no test program given"
case $url in
'' | http://* | https://* | file://*) ;;
*) usage_error "--url: '$url' is not an http://, https:// or file:// URL" ;;
esac
for p in "${progs[@]}"; do
	if [ ! -f "$p" ] || [ ! -x "$p" ]; then
		usage_error "test program '$p' is not an executable file (make selftest builds them)"
	fi
	readelf -h "$p" >/dev/null 2>&1 || usage_error "test program '$p' is not an ELF binary"
	! readelf -l "$p" | grep -q 'Requesting program interpreter' ||
		usage_error "test program '$p' is dynamically linked; the ramdisk has no libraries"
done
command -v cpio >/dev/null || die "cpio not found (apt-get install cpio)"
[ -x /bin/busybox ] || die "/bin/busybox is missing (apt-get install busybox-static)"

# The kernel and its modules folder, as the VM runner fetches them.
fetched=$("$root/scripts/vm-run.sh" --kernel "$kernel" ${moddir:+--modules "$moddir"} --fetch) ||
	exit
kimage=$(sed -n 1p <<<"$fetched")
kmods=$(sed -n 2p <<<"$fetched")
release=$(file -b "$kimage" | sed -n 's/.*, version \([^ ]*\) .*/\1/p')
[ -n "$release" ] || die "$kimage: no release string (is it a bzImage?)"

rm -rf "$out"
mkdir -p "$out" || die "cannot create $out"
# Absolute: modprobe -d prints the modules' absolute paths, and the job's
# file:// URLs are.
out=$(cd "$out" && pwd)
ramdisk=$out/.ramdisk
modroot=$out/.modroot

# ramdisk_add_modules: the modules of ramdisk_modules that the kernel has as
# modules, and their dependencies, uncompressed into the ramdisk, and
# depmod's files there for busybox's modprobe.  depmod runs on a tree of
# hard links to the kernel's modules, so that the kernel's own folder is
# only read.
ramdisk_add_modules()
{
	local src=$kmods mod line path rel dst n=0

	# A lib/modules folder, or a modules_install tree (INSTALL_MOD_PATH).
	if [ -d "$kmods/$release" ]; then
		src=$kmods/$release
	elif [ -d "$kmods/lib/modules/$release" ]; then
		src=$kmods/lib/modules/$release
	fi
	mkdir -p "$modroot/lib/modules"
	cp -al "$src" "$modroot/lib/modules/$release" 2>/dev/null ||
		cp -a "$src" "$modroot/lib/modules/$release" || die "cannot copy $src"
	# Debian's packages have no modules.order or modules.builtin: depmod
	# only warns, but says so.
	has_builtin=
	[ ! -s "$modroot/lib/modules/$release/modules.builtin" ] || has_builtin=1
	for f in modules.order modules.builtin modules.builtin.modinfo; do
		[ -f "$modroot/lib/modules/$release/$f" ] || : >"$modroot/lib/modules/$release/$f"
	done
	depmod -b "$modroot" "$release" || die "depmod failed on the modules of $kernel ($src)"
	for mod in "${ramdisk_modules[@]}"; do
		modprobe -d "$modroot" -S "$release" --show-depends "$mod" 2>/dev/null || true
	done | while read -r line path _; do
		[ "$line" = insmod ] || continue
		rel=${path#"$modroot/lib/modules/$release/"}
		rel=${rel%.xz}
		rel=${rel%.zst}
		rel=${rel%.gz}
		dst=$ramdisk/lib/modules/$release/$rel
		[ -f "$dst" ] && continue
		mkdir -p "$(dirname "$dst")"
		case $path in
		*.xz) xz -dc "$path" ;;
		*.zst) zstd -dcq "$path" ;;
		*.gz) gzip -dc "$path" ;;
		*) cat "$path" ;;
		esac >"$dst" || die "cannot decompress $path"
	done
	mkdir -p "$ramdisk/lib/modules/$release"
	for f in modules.order modules.builtin modules.builtin.modinfo; do
		cp "$modroot/lib/modules/$release/$f" "$ramdisk/lib/modules/$release/"
	done
	depmod -b "$ramdisk" "$release" || die "depmod failed in the ramdisk"
	# Each module that the kernel has as a module, the ramdisk has too.
	for mod in "${ramdisk_modules[@]}"; do
		modprobe -d "$modroot" -S "$release" --show-depends "$mod" >/dev/null 2>&1 || continue
		modprobe -d "$ramdisk" -S "$release" --show-depends "$mod" >/dev/null 2>&1 ||
			die "the ramdisk lacks $mod of $release"
	done
	overlay_disk_check
	n=$(find "$ramdisk/lib/modules/$release" -name '*.ko' | wc -l)
	note "ramdisk: $n modules of $release ($(find "$ramdisk/lib/modules/$release" -name 'kvm*.ko' -printf '%f ' | sed 's/ $//'))"
	rm -rf "$modroot"
}

# overlay_disk_check: on a qemu device LAVA's test overlay is an ext2 disk
# on virtio (job.yaml.in), so the kernel needs virtio_blk and ext4 or ext2,
# built in or as modules; without them the job waits for its test
# action's timeout (Documentation/lava.rst).  Only a modules folder with
# its own modules.builtin says what is built in (make kernel's has one,
# Debian's packages have none): without one nothing is said.  A lack goes
# to DIR/no-overlay-disk, which lava-run.sh stops at; a lab whose deploy
# puts the overlay in the ramdisk (tftp) needs neither.
overlay_disk_check()
{
	local want m found lacks=

	[ -n "$has_builtin" ] || return 0
	for want in virtio_blk "ext4 ext2"; do
		found=
		for m in $want; do
			if modprobe -d "$modroot" -S "$release" --show-depends "$m" >/dev/null 2>&1; then
				found=1
			fi
		done
		[ -n "$found" ] || lacks+="${lacks:+, }no ${want// / or }"
	done
	[ -n "$lacks" ] || return 0
	echo "$kernel ($release) has $lacks, neither built in nor as a module: a qemu device cannot mount LAVA's test overlay disk (ext2 on virtio)" \
		>"$out/no-overlay-disk"
	note "$(cat "$out/no-overlay-disk")"
}

mkdir -p "$ramdisk/bin" "$ramdisk/opt/kvm-selftests"
cp /bin/busybox "$ramdisk/bin/busybox"
install -m 755 "$root/lava/ramdisk-init" "$ramdisk/init"
install -m 755 "$root/lava/kvm-selftests.sh" "$ramdisk/opt/kvm-selftests/kvm-selftests.sh"
for p in "${progs[@]}"; do
	cp "$p" "$ramdisk/opt/kvm-selftests/"
	basename "$p"
done >"$ramdisk/opt/kvm-selftests/tests.list"
if [ -n "$kmods" ]; then
	ramdisk_add_modules
else
	note "ramdisk: no modules: KVM must be built into $kernel (MODULES= gives a modular KVM's)"
fi
(cd "$ramdisk" && find . | cpio -o -H newc --quiet -R 0:0) | gzip -9 >"$out/ramdisk.cpio.gz" ||
	die "cannot make the ramdisk"
cp "$ramdisk/opt/kvm-selftests/tests.list" "$out/tests.list"
# Each program's subtests, as its --list names them ("PROGRAM NAME" lines),
# for lava-run.sh to check that each has its test case.  A 7.x build
# cannot list without /dev/kvm (it exits 4 before main()): that program's
# subtests are then known only from what the job records.
for p in "${progs[@]}"; do
	names=$(subtests_of "$p") ||
		{ note "$(basename "$p") --list failed here (no /dev/kvm?): lava-run.sh checks only the subtests it records"; continue; }
	for n in $names; do
		echo "$(basename "$p") $n"
	done
done >"$out/subtests.list"
rm -rf "$ramdisk"
cp "$kimage" "$out/bzImage"
echo "$kernel" >"$out/kernel.txt"

# The job's timeouts, in minutes: each program may take 3 (the test
# definition's KVM_TEST_TIMEOUT), and 2 more for the setup; deploying and
# booting take 3 each, and the job 2 more than its actions.
test_minutes=$((2 + 3 * ${#progs[@]}))
job_minutes=$((test_minutes + 8))
base=${url:-file://$(cd "$out" && pwd)}
# The test definition, indented under the inline definition's repository:.
testdef=$(sed -e '/^#/d' -e '/^$/d' -e 's/^/        /' "$root/lava/kvm-selftests.yaml")
while IFS= read -r line; do
	case $line in
	@TEST_DEFINITION@) printf '%s\n' "$testdef" ;;
	*)
		line=${line//@KERNEL_NAME@/$kernel ($release)}
		line=${line//@KERNEL_URL@/$base/bzImage}
		line=${line//@RAMDISK_URL@/$base/ramdisk.cpio.gz}
		line=${line//@TEST_MINUTES@/$test_minutes}
		line=${line//@JOB_MINUTES@/$job_minutes}
		printf '%s\n' "$line"
		;;
	esac
done <"$root/lava/job.yaml.in" >"$out/job.yaml"
note "$out/job.yaml: ${#progs[@]} test program(s) in $kernel ($release), artifacts at $base/"
echo "$out/job.yaml"
