#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# vm-run.sh [OPTIONS] [-- PROGRAM [ARGS...]]
#	Boot a kernel in QEMU with KVM inside it, run one statically linked
#	program there and hand back its standard output, standard error and
#	exit code unchanged.  The runner's own notes go to standard error as
#	"# vm: ..." lines, so standard output is exactly the program's.
#
# Options:
#   --kernel K       debian-X.Y: Debian's newest cloud kernel of series
#                    X.Y (default debian-BASE_KVER, mk/versions.conf's
#                    base version; debian-6.12 and debian-6.1 are Debian
#                    12's, newer series come from trixie-backports and
#                    sid), downloaded through the project's own apt
#                    configuration (build/apt) and cached in
#                    build/vm/kernels; or the path of a bzImage of your own
#   --modules DIR    for a bzImage with a modular KVM: where its modules
#                    are (a modules_install tree or any folder holding
#                    kvm.ko, kvm-amd.ko, irqbypass.ko, maybe compressed);
#                    a built-in KVM needs none.  Default: the lib/modules
#                    folder beside the bzImage, where `make kernel` puts
#                    its modules, if there is one
#   --accel A        auto (default), kvm or tcg.  auto takes this machine's
#                    /dev/kvm only where the CPU shows svm or vmx and the
#                    KVM module allows nested guests, and falls back to
#                    tcg if the guest then has no /dev/kvm; tcg emulates
#                    an AMD EPYC with SVM in software (single-threaded)
#   --append STR     more kernel parameters, after the defaults
#                    "console=ttyS0 panic=-1 rdinit=/init"
#   --timeout SECS   the program's deadline (default 900); booting has
#                    a deadline of its own (--boot-timeout, default 180)
#   --fetch          only fetch the kernel: print its bzImage's path and
#                    its modules folder (empty for a built-in KVM), exit 0
#   --help           this text
#
# PROGRAM defaults to pvclock_drift_test: this project's build against the
# Debian tree that matches the kernel (its own series where the project
# supports it; else 6.1 for kernels before 6.8, whose KVM later selftest
# libraries refuse, and the base version's tree otherwise), made with
# `make selftest` when missing.  Any other PROGRAM is a path to a static binary.
# The arguments reach it exactly as given (spaces and commas included).
#
# Exit codes: the program's own; 2 for a bad argument; 125 when the boot
# gave no result (not a kernel, a kernel panic, a hang past a deadline, no
# /dev/kvm inside, QEMU failing): one line says which.  A boot without a
# result is tried once more.  Each run has a folder of its own (runs at the
# same time do not share one); the last one to end is build/vm/last.

set -uo pipefail

me=vm-run.sh
# scripts/vm-run.sh is a link to this file: the library beside the real one.
# shellcheck source=scripts/lib.sh
. "$(dirname "$(readlink -f "$0")")/../scripts/lib.sh"
vmdir=$build/vm
NO_RESULT=125
USAGE=2
usage_exit=$USAGE
note_prefix='# vm: '

kernel=debian-$BASE_KVER
moddir=
accel=auto
append=
timeout=900
boot_timeout=180
smp=1
prog=()
fetch_only=0

no_result()
{
	echo "$me: no result: $*" >&2
	exit "$NO_RESULT"
}

positive()
{
	[[ $2 =~ ^[1-9][0-9]{0,5}$ ]] || usage_error "$1: '$2' is not a whole number of seconds from 1 to 999999"
}

parse_args()
{
	while [ $# -gt 0 ]; do
		case $1 in
		--kernel) need_value "$@"; kernel=$2; shift 2 ;;
		--modules) need_value "$@"; moddir=$2; shift 2 ;;
		--accel)
			need_value "$@"
			case $2 in
			auto | kvm | tcg) accel=$2 ;;
			*) usage_error "--accel: '$2' is not auto, kvm or tcg" ;;
			esac
			shift 2
			;;
		--append) need_value "$@"; append=$2; shift 2 ;;
		--smp)
			need_value "$@"
			[[ $2 =~ ^[1-8]$ ]] || usage_error "--smp: '$2' is not a CPU count from 1 to 8"
			smp=$2
			shift 2
			;;
		--timeout) need_value "$@"; positive "$@"; timeout=$2; shift 2 ;;
		--boot-timeout) need_value "$@"; positive "$@"; boot_timeout=$2; shift 2 ;;
		--fetch) fetch_only=1; shift ;;
		--help | -h)
			usage_text '4,/^$/'
			exit 0
			;;
		--)
			shift
			prog=("$@")
			[ $# -gt 0 ] || usage_error "-- must be followed by a program"
			return 0
			;;
		*) usage_error "unknown argument '$1' (see --help)" ;;
		esac
	done
}

# The newest of them: "RELEASE PACKAGE", or nothing.
debian_newest_kernel()
{
	debian_kernels "${1//./\\.}" | sort -V -k1,1 | tail -n 1
}

# unpack_kernel PACKAGE RELEASE DEST: DEST/vmlinuz and DEST/modules (the
# modules of RELEASE) from Debian's packages, downloaded into DEST.tmp.
unpack_kernel()
{
	local pkg=$1 rel=$2 dest=$3 tmp=$3.tmp deb debs=("$1") x

	case $pkg in
	linux-binary-*) debs+=("linux-modules-$rel") ;;
	esac
	rm -rf "$tmp" && mkdir -p "$tmp/x" || exit 1
	for deb in "${debs[@]}"; do
		deb_download "$deb" "$tmp" || usage_error "downloading $deb failed"
	done
	for deb in "$tmp"/*.deb; do
		dpkg-deb -x "$deb" "$tmp/x" || usage_error "dpkg-deb -x $deb failed"
	done
	# Debian 12 keeps the image in /boot and the modules in /lib/modules;
	# Debian 13 both in /usr/lib/modules/RELEASE.
	x=$tmp/x/usr/lib/modules/$rel
	rm -rf "$dest" && mkdir -p "$dest/modules"
	if [ -d "$x" ]; then
		mv "$(find "$x" -maxdepth 1 -name 'vmlinuz*' | head -n 1)" "$dest/vmlinuz" &&
			mv "$x" "$dest/modules/$rel"
	else
		mv "$tmp"/x/boot/vmlinuz-* "$dest/vmlinuz" &&
			mv "$tmp/x/lib/modules/$rel" "$dest/modules/$rel"
	fi || usage_error "$pkg holds no kernel image for $rel"
	rm -rf "$tmp"
	echo "$pkg" >"$dest/.ok"
}

# Sets kimage and kmods (a folder of modules) for debian-X.Y: Debian's
# newest cloud kernel of that series.  Offline, the newest one already
# cached will do.
fetch_debian_kernel()
{
	local series=$1 found rel pkg dest

	papt_lists || true
	found=$(debian_newest_kernel "$series")
	if [ -z "$found" ] &&
	   apt_update "no $series cloud kernel in the package lists"; then
		found=$(debian_newest_kernel "$series")
	fi
	rel=${found%% *}
	pkg=${found#* }
	if [ -z "$found" ]; then
		dest=$(newest "$vmdir/kernels" "$series.[0-9]*")
		[ -n "$dest" ] && [ -f "$dest/.ok" ] ||
			usage_error "no Debian $series cloud kernel in the suites the project reaches (this release's and ${NEW_SUITES//,/, }); 'make debian-versions' lists the series they carry"
		rel=${dest##*/}
	fi
	dest=$vmdir/kernels/$rel
	if [ ! -f "$dest/.ok" ]; then
		note "fetching $pkg"
		unpack_kernel "$pkg" "$rel" "$dest"
	fi
	kimage=$dest/vmlinuz
	kmods=$dest/modules
}

# The release string a bzImage carries in its setup header.
bzimage_release()
{
	local off

	off=$(od -An -tu2 -j 526 -N 2 "$1" | tr -d ' ')
	[ -n "$off" ] || return 1
	dd if="$1" bs=1 skip=$((off + 512)) count=128 2>/dev/null |
		tr '\0' '\n' | head -n 1 | cut -d' ' -f1
}

is_bzimage()
{
	[ "$(dd if="$1" bs=1 skip=514 count=4 2>/dev/null)" = HdrS ]
}

resolve_kernel()
{
	kmods=$moddir
	case $kernel in
	debian-[0-9]*.[0-9]*)
		[[ $kernel =~ ^debian-[0-9]+\.[0-9]+$ ]] || usage_error "--kernel: bad name '$kernel' (debian-$BASE_KVER, debian-6.1 or a path)"
		[ -z "$moddir" ] || usage_error "--modules goes with a bzImage of your own"
		mkdir -p "$vmdir/kernels"
		fetch_debian_kernel "${kernel#debian-}"
		;;
	*)
		[ -f "$kernel" ] || usage_error "--kernel: no such file '$kernel'"
		kimage=$(readlink -f "$kernel")
		is_bzimage "$kimage" ||
			no_result "$kernel is not a kernel (no bzImage header)"
		if [ -n "$moddir" ] && [ ! -d "$moddir" ]; then
			usage_error "--modules: no such folder '$moddir'"
		fi
		[ -n "$moddir" ] || [ ! -d "$(dirname "$kimage")/lib/modules" ] ||
			kmods=$(dirname "$kimage")/lib/modules
		;;
	esac
	krelease=$(bzimage_release "$kimage")
	[ -n "$krelease" ] || no_result "$kernel has no release string in its header"
}

# The file of module $1 under $kmods (dashes and underscores alike).
find_module()
{
	local base=${1//_/[-_]}

	find "$kmods" -name "$base.ko" -o -name "$base.ko.xz" -o -name "$base.ko.zst" \
		-o -name "$base.ko.gz" 2>/dev/null | head -n 1
}

uncompressed()
{
	case $1 in
	*.xz) xz -dc "$1" ;;
	*.zst) zstd -dcq "$1" ;;
	*.gz) gzip -dc "$1" ;;
	*) cat "$1" ;;
	esac
}

# Copies module $1 and what it depends on, dependencies first, into $2 and
# appends their names to $2/../modules.list.
add_module()
{
	local name=$1 dst=$2 file dep deps

	grep -qx "$name" "$dst/../modules.list" 2>/dev/null && return 0
	file=$(find_module "$name")
	[ -n "$file" ] || usage_error "module $name not found under $kmods"
	uncompressed "$file" >"$dst/$name.ko" || usage_error "cannot decompress $file"
	deps=$(tr '\0' '\n' <"$dst/$name.ko" | sed -n 's/^depends=//p' | tr ',' ' ')
	for dep in $deps; do
		add_module "${dep//-/_}" "$dst"
	done
	echo "$name" >>"$dst/../modules.list"
}

# The default program: the selftest built against the matching tree, that
# of the kernel's own series where the project supports it (BASE_KVER and
# OLD_KVERS), else 6.1's for kernels before 6.8 (whose KVM later selftest
# libraries refuse) and BASE_KVER's for the rest.
default_program()
{
	local major minor kver bin

	major=${krelease%%.*}
	minor=${krelease#*.}
	minor=${minor%%[!0-9]*}
	case ",$BASE_KVER,$OLD_KVERS," in
	*",$major.$minor,"*) kver=$major.$minor ;;
	*)
		kver=$BASE_KVER
		if [ "$major" -lt 6 ] || { [ "$major" = 6 ] && [ "$minor" -lt 8 ]; }; then
			kver=6.1
		fi
		;;
	esac
	bin=$build/kvm-$kver/pvclock_drift_test
	if [ ! -x "$bin" ]; then
		note "building pvclock_drift_test against the $kver tree"
		make -s -C "$root" BUILD="$build" selftest KVER="$kver" >&2 ||
			usage_error "make selftest KVER=$kver failed"
	fi
	prog[0]=$bin
	note "program: $bin (built against the $kver tree, for kernel $krelease)"
}

check_program()
{
	local p=${prog[0]}

	if [ ! -f "$p" ] || [ ! -x "$p" ]; then
		usage_error "program '$p' is not an executable file"
	fi
	readelf -h "$p" >/dev/null 2>&1 || usage_error "program '$p' is not an ELF binary"
	! readelf -l "$p" 2>/dev/null | grep -q 'Requesting program interpreter' ||
		usage_error "program '$p' is dynamically linked; the VM has no libraries (link it with -static)"
}

# One word, quoted for any POSIX shell.
shell_quote()
{
	local s=${1//\'/\'\\\'\'}

	printf "'%s'" "$s"
}

# The initramfs: busybox, /init, the modules, the program and its command.
make_initramfs()
{
	local dir=$1 out=$2 a

	rm -rf "$dir"
	mkdir -p "$dir/bin" "$dir/vm/modules" "$dir/prog"
	cp /bin/busybox "$dir/bin/busybox" 2>/dev/null ||
		usage_error "/bin/busybox is missing (apt-get install busybox-static)"
	cp "$root/vm/init" "$dir/init"
	chmod +x "$dir/init"
	: >"$dir/vm/modules.list"
	if [ -n "$kmods" ] && [ -n "$(find_module kvm_amd)" ]; then
		add_module kvm_amd "$dir/vm/modules"
	fi
	cp "${prog[0]}" "$dir/prog/"
	{
		printf 'set --'
		printf ' %s' "$(shell_quote "/prog/$(basename "${prog[0]}")")"
		for a in "${prog[@]:1}"; do
			printf ' %s' "$(shell_quote "$a")"
		done
		printf '\n'
	} >"$dir/vm/cmd"
	printf '%s\n' "$(basename "${prog[0]}") ${prog[*]:1}" >"$dir/vm/cmd.txt"
	od -An -tx8 -N8 /dev/urandom | tr -d ' ' >"$dir/vm/nonce"
	(cd "$dir" && find . | cpio -o -H newc --quiet -R 0:0) >"$out" ||
		usage_error "cpio failed"
}

# Where this machine's /dev/kvm can run a guest that runs KVM itself.
kvm_can_nest()
{
	local p

	if [ ! -c /dev/kvm ] || [ ! -r /dev/kvm ] || [ ! -w /dev/kvm ]; then
		why_not_kvm="no usable /dev/kvm"
		return 1
	fi
	grep -qw -E 'svm|vmx' /proc/cpuinfo || {
		why_not_kvm="/dev/kvm is there, but the CPU shows neither svm nor vmx"
		return 1
	}
	for p in /sys/module/kvm_amd/parameters/nested /sys/module/kvm_intel/parameters/nested; do
		case $(cat "$p" 2>/dev/null) in
		1 | Y) return 0 ;;
		esac
	done
	why_not_kvm="the KVM module does not allow nested guests"
	return 1
}

status_field()
{
	sed -n "s/^vm-status $nonce $1 //p" "$run/status" | tail -n 1
}

stop_qemu()
{
	local left=50

	kill "$1" 2>/dev/null
	while kill -0 "$1" 2>/dev/null; do
		left=$((left - 1))
		[ "$left" -gt 0 ] || kill -9 "$1" 2>/dev/null
		sleep 0.1
	done
}

# At exit: this run's folder becomes build/vm/last, in place of the one
# before (which has ended, since only an ended run is ever published).
publish_run()
{
	local old

	if [ -z "$(ls -A "$run")" ]; then
		rmdir "$run"
		return
	fi
	old=$(readlink "$vmdir/last" 2>/dev/null) || old=
	[ -d "$vmdir/last" ] && [ ! -L "$vmdir/last" ] && rm -rf "$vmdir/last"
	ln -sfn "$(basename "$run")" "$vmdir/last.$$" &&
		mv -T "$vmdir/last.$$" "$vmdir/last"
	[ -z "$old" ] || [ "$old" = "$(basename "$run")" ] || rm -rf "${vmdir:?}/$old"
}

# One boot.  Sets rc (the program's exit code) or outcome (why not).
boot_once()
{
	local mode=$1 cpu qpid start now deadline started=0 cmdline q

	make_initramfs "$run/root" "$run/initramfs.cpio"
	nonce=$(cat "$run/root/vm/nonce")
	: >"$run/console.log"
	: >"$run/stdout"
	: >"$run/stderr"
	: >"$run/status"
	if [ "$mode" = kvm ]; then
		cpu=host
		set -- -accel kvm
	else
		cpu=EPYC,+svm
		set -- -accel tcg,thread=single
	fi
	cmdline="console=ttyS0 panic=-1 rdinit=/init${append:+ $append}"
	# QEMU's option syntax: a comma inside a value is written twice.
	q=${run//,/,,}
	qemu-system-x86_64 "$@" -cpu "$cpu" -m 2G -smp "$smp" \
		-nodefaults -display none -monitor none -no-reboot \
		-kernel "$kimage" -initrd "$run/initramfs.cpio" -append "$cmdline" \
		-chardev "file,id=con,path=$q/console.log" -serial chardev:con \
		-chardev "file,id=out,path=$q/stdout" -serial chardev:out \
		-chardev "file,id=err,path=$q/stderr" -serial chardev:err \
		-chardev "file,id=st,path=$q/status" -serial chardev:st \
		>"$run/qemu.log" 2>&1 &
	qpid=$!
	# Not a job of this shell: a QEMU that aborts is reported here, in
	# one line, rather than by bash.
	disown "$qpid"
	start=$(date +%s%N)
	deadline=$((start + boot_timeout * 1000000000))
	outcome=
	while :; do
		sleep 0.2
		now=$(date +%s%N)
		if [ "$started" = 0 ] && [ -n "$(status_field start)" ]; then
			started=1
			deadline=$((now + timeout * 1000000000))
		fi
		if grep -qE "^vm-status $nonce (exit|nokvm|noclock) " "$run/status"; then
			break
		fi
		if ! kill -0 "$qpid" 2>/dev/null; then
			break
		fi
		if [ "$now" -ge "$deadline" ]; then
			if [ "$started" = 1 ]; then
				outcome="the program ran past the deadline of $timeout s"
			else
				outcome="the kernel did not start the program within $boot_timeout s"
			fi
			break
		fi
	done
	stop_qemu "$qpid"
	elapsed_ms=$((($(date +%s%N) - start) / 1000000))
	[ -z "$outcome" ] || return 1
	read -r rc _ <<<"$(status_field exit)"
	[ -z "$rc" ] || return 0
	if [ -n "$(status_field nokvm)" ]; then
		outcome="no /dev/kvm inside the guest ($(status_field nokvm))"
	elif [ -n "$(status_field noclock)" ]; then
		outcome="the clocksource stayed $(status_field noclock)"
	elif grep -q 'Kernel panic' "$run/console.log"; then
		outcome="kernel panic: $(grep -m1 'Kernel panic' "$run/console.log" | sed 's/^\[[^]]*\] //')"
	elif [ -s "$run/qemu.log" ] && [ ! -s "$run/console.log" ]; then
		outcome="QEMU failed: $(head -n 1 "$run/qemu.log")"
	else
		outcome="the guest stopped without reporting a result"
	fi
	return 1
}

report_boot()
{
	local mode=$1 start end

	start=$(status_field start)
	read -r _ end <<<"$(status_field exit)"
	note "kernel $krelease ($kernel), accel $mode, cpu $(status_field cpu)"
	note "clocksource $(status_field clocksource); program started at ${start:-?} s of uptime, ended at ${end:-?} s; ${elapsed_ms} ms in QEMU"
	sed -n "s/^vm-status $nonce note /# vm: note: /p" "$run/status" >&2
}

main()
{
	local modes mode try

	parse_args "$@"
	command -v qemu-system-x86_64 >/dev/null ||
		usage_error "qemu-system-x86_64 not found (apt-get install qemu-system-x86)"
	command -v cpio >/dev/null || usage_error "cpio not found (apt-get install cpio)"
	mkdir -p "$vmdir"
	run=$(mktemp -d "$vmdir/run.XXXXXX") || exit 1
	trap publish_run EXIT
	resolve_kernel
	if [ "$fetch_only" = 1 ]; then
		printf '%s\n%s\n' "$kimage" "$kmods"
		exit 0
	fi
	if [ ${#prog[@]} -eq 0 ] || [ "${prog[0]}" = pvclock_drift_test ]; then
		default_program
	fi
	check_program

	case $accel in
	tcg) modes=tcg ;;
	kvm) modes=kvm ;;
	auto)
		if kvm_can_nest; then
			modes="kvm tcg"
		else
			modes=tcg
			note "accel tcg: $why_not_kvm"
		fi
		;;
	esac
	for mode in $modes; do
		for try in 1 2; do
			if boot_once "$mode"; then
				report_boot "$mode"
				cat "$run/stderr" >&2
				cat "$run/stdout"
				exit "$rc"
			fi
			note "attempt $try with $mode: no result: $outcome"
			# auto: a /dev/kvm that cannot nest, software next.
			if [ "$modes" != "$mode" ]; then
				case $outcome in
				"no /dev/kvm inside"* | "QEMU failed"*) break ;;
				esac
			fi
		done
	done
	no_result "$outcome (logs in $run)"
}

main "$@"
