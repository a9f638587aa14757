#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# vm-run.sh [OPTIONS] [--test NAME] [--only LIST] [-- TEST OPTIONS...]
# vm-run.sh [OPTIONS] -- PROGRAM [ARGS...]
#	Boot a kernel in QEMU with KVM inside it and run, in that one boot,
#	this project's tests (the first form) or one statically linked
#	program (the second).  A program's standard output, standard error
#	and exit code come back unchanged.  The runner's own notes go to
#	standard error as "# vm: ..." lines.
#
# The tests: each program of SELFTEST_PROGS (mk/selftest.mk) in turn, in
# that order, each one's KTAP on standard output, then a summary there, a
# line per test and one for all ("# summary: NAME: exit N, P passed, F
# failed, S skipped").  The programs are those of the build that matches
# the kernel (--build to choose another): its own series where the
# project supports it (BASE_KVER and OLD_KVERS of mk/versions.conf); else
# 6.1 for kernels before 6.8, whose KVM later selftest libraries refuse,
# and BASE_KVER otherwise; made with `make selftest` when missing.
#
#   --test NAME      only the test NAME (pvclock_drift_test, ...)
#   --only LIST      only these subtests (comma-separated, repeatable),
#                    wherever they live: each test that holds one of
#                    them runs with --only and its own names; the others
#                    do not run.  --only in the test options is the same
#   -- TEST OPTIONS  each option goes to each selected test that takes
#                    it (as its --help lists it): --reads 1000 to every
#                    one, --max-drift-ppb to pvclock_drift_test alone
#
# The names (--list) and options (--help) come from the tests themselves,
# run on this machine: the build's own, or where that cannot start here
# (7.x builds exit 4 before main() without a /dev/kvm) the 6.1 build.  A
# subtest no test has, a subtest outside --test, an option no selected
# test takes, or an option value a test rejects is a one-line error and
# exit 2, before anything boots.  `-- NAME ARGS`, NAME a test, is
# `--test NAME -- ARGS`.
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
#   --build DIR      the folder of the test programs (build/kvm-6.1, ...)
#   --accel A        auto (default), kvm or tcg.  auto takes this machine's
#                    /dev/kvm only where the CPU shows svm or vmx and the
#                    KVM module allows nested guests, and falls back to
#                    tcg if the guest then has no /dev/kvm; tcg emulates
#                    an AMD EPYC with SVM in software (single-threaded)
#   --append STR     more kernel parameters, after the defaults
#                    "console=ttyS0 panic=-1 rdinit=/init"
#   --timeout SECS   the deadline of the programs, all together (default
#                    900); booting has a deadline of its own
#                    (--boot-timeout, default 180)
#   --no-vm          boot nothing: run on this machine's own kernel and
#                    KVM (--build default: the build matching it), the
#                    same output and exit codes; --kernel, --modules,
#                    --accel and --append do not apply
#   --plan           print each selected test's command line (its path
#                    and arguments, each word quoted for a POSIX shell),
#                    one a line, check them, and exit 0; nothing runs
#   --fetch          only fetch the kernel: print its bzImage's path and
#                    its modules folder (empty for a built-in KVM), exit 0
#   --help           this text
#
# PROGRAM is a path to a static binary; its arguments reach it exactly as
# given (spaces and commas included).
#
# Exit codes.  A PROGRAM: its own.  The tests: 0 when every test exited 0
# or 4 (skip) and at least one subtest passed; 4 when every test exited 0
# or 4 and none passed (everything skipped: no KVM, say); else the exit
# code of the first test (in SELFTEST_PROGS order) that exited neither 0
# nor 4 (1 for a failure; above 128 for a crash).  Either way: 2 for a
# bad argument; 125 when the boot gave no result (not a kernel, a kernel
# panic, a hang past a deadline, no /dev/kvm inside, QEMU failing): one
# line says which.  A boot without a result is tried once more.  Each run
# has a folder of its own (runs at the same time do not share one); the
# last one to end is build/vm/last.

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
kernel_given=
# The tests: which (empty: all), which subtests, their options, the
# folder of their build; and where they run.
test_name=
only=()
targs=()
build_dir=
plan_only=0
no_vm=0
# SELFTEST_PROGS, read from its one home.
read -r -a all_tests <<<"$(sed -n 's/^SELFTEST_PROGS :\{0,1\}= *//p' "$root/mk/selftest.mk")"
[ ${#all_tests[@]} -gt 0 ] || { echo "$me: no SELFTEST_PROGS in $root/mk/selftest.mk" >&2; exit "$USAGE"; }

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
		--kernel) need_value "$@"; kernel=$2; kernel_given=1; shift 2 ;;
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
		--test)
			need_value "$@"
			is_test "$2" || usage_error "--test: '$2' is not a test (${all_tests[*]})"
			test_name=$2
			shift 2
			;;
		--only) need_value "$@"; only+=("$2"); shift 2 ;;
		--build)
			need_value "$@"
			[ -d "$2" ] || usage_error "--build: no such folder '$2'"
			build_dir=$(cd "$2" && pwd)
			shift 2
			;;
		--plan) plan_only=1; shift ;;
		--no-vm) no_vm=1; shift ;;
		--help | -h)
			usage_text '4,/^$/'
			exit 0
			;;
		--)
			shift
			# Test options; or a test's name and its options (the
			# command line before --test); or a program.
			if [ -n "$test_name" ] || [ ${#only[@]} -gt 0 ] ||
			   [ $# = 0 ] || [[ $1 == -* ]]; then
				targs=("$@")
			elif is_test "$1"; then
				test_name=$1
				targs=("${@:2}")
			else
				prog=("$@")
			fi
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

is_test()
{
	local t

	for t in "${all_tests[@]}"; do
		[ "$1" = "$t" ] && return 0
	done
	return 1
}

# The series whose build of the tests matches kernel release $1: its own
# where the project supports it (BASE_KVER and OLD_KVERS), else 6.1 for
# kernels before 6.8 (whose KVM later selftest libraries refuse) and
# BASE_KVER for the rest.
matching_kver()
{
	local major minor

	major=${1%%.*}
	minor=${1#*.}
	minor=${minor%%[!0-9]*}
	case ",$BASE_KVER,$OLD_KVERS," in
	*",$major.$minor,"*) echo "$major.$minor" ;;
	*)
		if [ "$major" -lt 6 ] || { [ "$major" = 6 ] && [ "$minor" -lt 8 ]; }; then
			echo 6.1
		else
			echo "$BASE_KVER"
		fi
		;;
	esac
}

# $build/kvm-$1 holds every test: made with `make selftest` when not.
ensure_build()
{
	local t

	for t in "${all_tests[@]}"; do
		[ -x "$build/kvm-$1/$t" ] && continue
		note "building the tests against the $1 tree"
		make -s -C "$root" BUILD="$build" selftest KVER="$1" >&2 ||
			usage_error "make selftest KVER=$1 failed"
		return
	done
}

# What each test of the build names and takes: avail (the tests the
# build has), t_list[T] (its subtests), t_help[T] (its --help),
# t_host[T] (the binary that ran here: the build's own, or the 6.1
# build's where that one cannot start), t_owner[SUBTEST] (its test).
declare -A t_list t_help t_host t_owner args_of
avail=()
probe_tests()
{
	local t bin s

	for t in "${all_tests[@]}"; do
		bin=$build_dir/$t
		if [ ! -x "$bin" ]; then
			note "$build_dir has no $t: it does not run"
			continue
		fi
		if ! t_list[$t]=$(subtests_of "$bin"); then
			ensure_build 6.1
			bin=$build/kvm-6.1/$t
			t_list[$t]=$(subtests_of "$bin") ||
				usage_error "$t --list does not run on this machine, from $build_dir or the 6.1 build"
		fi
		t_help[$t]=$("$bin" --help 2>/dev/null)
		t_host[$t]=$bin
		for s in ${t_list[$t]}; do
			t_owner[$s]=$t
		done
		avail+=("$t")
	done
	[ ${#avail[@]} -gt 0 ] || usage_error "$build_dir holds none of the tests (${all_tests[*]})"
}

# takes TEST OPTION: whether TEST's --help lists OPTION.
takes()
{
	grep -qE -- "^  $2( |\$)" <<<"${t_help[$1]}"
}

# The tests among $2... that take option $1, by name.
takers()
{
	local o=$1 t

	shift
	for t in "$@"; do
		takes "$t" "$o" && printf '%s ' "$t"
	done
}

# Whether option $1 has a value ("  --reads N" in a --help).
has_value()
{
	local t

	for t in "${avail[@]}"; do
		grep -qE -- "^  $1 [A-Z]" <<<"${t_help[$t]}" && return 0
	done
	return 1
}

# Every test's subtests, "a, b, ...".
all_subtests()
{
	local t

	for t in "${avail[@]}"; do
		echo "${t_list[$t]}"
	done | paste -sd, | sed 's/,/, /g'
}

# The tests to run, sel, in SELFTEST_PROGS order, and args_of[T], each
# one's arguments quoted for a shell: --only with its own names, then
# each test option that it takes, in the order given.
sel=()
# shellcheck disable=SC2120 # set -- on the quoted arguments, not its own
select_tests()
{
	local i=0 a o v unit t n list names=() units=() uopts=() used
	declare -A only_of=()

	while [ $i -lt ${#targs[@]} ]; do
		a=${targs[i]}
		case $a in
		--?*=*) o=${a%%=*} ;;
		--?*) o=$a ;;
		*) usage_error "'$a' is not a test option (they begin with --)" ;;
		esac
		[ -n "$(takers "$o" "${avail[@]}")" ] ||
			usage_error "no test takes the option '$o'"
		unit=$(shell_quote "$a") v=${a#*=}
		if [ "$o" = "$a" ] && has_value "$o"; then
			[ $((i + 1)) -lt ${#targs[@]} ] || usage_error "$o needs a value"
			i=$((i + 1))
			v=${targs[i]}
			unit+=" $(shell_quote "$v")"
		fi
		i=$((i + 1))
		if [ "$o" = --only ]; then
			only+=("$v")
			continue
		fi
		units+=("$unit")
		uopts+=("$o")
	done

	for list in "${only[@]}"; do
		[[ $list != ,* && $list != *, && $list != *,,* && -n $list ]] ||
			usage_error "--only: '$list' is not a list of names (a,b,...)"
		IFS=, read -r -a names <<<"$list"
		for n in "${names[@]}"; do
			t=${t_owner[$n]:-}
			[ -n "$t" ] ||
				usage_error "no test has a subtest '$n' (subtests: $(all_subtests))"
			[ -z "$test_name" ] || [ "$t" = "$test_name" ] ||
				usage_error "'$n' is a subtest of $t, not of $test_name"
			case ",${only_of[$t]:-}," in
			*",$n,"*) ;;
			*) only_of[$t]=${only_of[$t]:+${only_of[$t]},}$n ;;
			esac
		done
	done
	if [ -n "$test_name" ] && [ -z "${t_host[$test_name]:-}" ]; then
		usage_error "--test: $build_dir has no $test_name"
	fi
	for t in "${avail[@]}"; do
		if [ ${#only[@]} -gt 0 ]; then
			[ -n "${only_of[$t]:-}" ] || continue
			args_of[$t]="--only $(shell_quote "${only_of[$t]}")"
		elif [ -n "$test_name" ]; then
			[ "$t" = "$test_name" ] || continue
			args_of[$t]=
		else
			args_of[$t]=
		fi
		sel+=("$t")
	done

	for i in "${!units[@]}"; do
		o=${uopts[i]}
		used=$(takers "$o" "${sel[@]}")
		if [ -z "$used" ]; then
			used=$(takers "$o" "${avail[@]}")
			usage_error "no selected test takes the option '$o' (selected: ${sel[*]}; it is ${used% }'s)"
		fi
		for t in $used; do
			args_of[$t]+="${args_of[$t]:+ }${units[i]}"
		done
	done

	# Each test parses its options in order and stops at --help: exit 0
	# means that it takes them all; its own one-line error otherwise.
	for t in "${sel[@]}"; do
		eval "set -- ${args_of[$t]}"
		a=$("${t_host[$t]}" "$@" --help 2>&1 >/dev/null) ||
			usage_error "$(grep -v '^Random seed' <<<"$a" | head -n 1)"
	done
}

# The build of the tests for this kernel, the default --build.
default_build()
{
	local kver

	kver=$(matching_kver "$krelease")
	ensure_build "$kver"
	build_dir=$build/kvm-$kver
	note "tests: $build_dir (built against the $kver tree, for kernel $krelease)"
}

check_program()
{
	local p=${prog[0]}

	if [ ! -f "$p" ] || [ ! -x "$p" ]; then
		usage_error "program '$p' is not an executable file"
	fi
	# This machine runs what it can (a script too).
	[ "$no_vm" = 0 ] || return 0
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

# The initramfs: busybox, /init, the modules, the programs and /vm/cmd,
# a line for each: "run PROGRAM ARGS..." or, for a test, "run_test ...",
# each word quoted.
make_initramfs()
{
	local dir=$1 out=$2 a t

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
	if [ ${#prog[@]} -gt 0 ]; then
		cp "${prog[0]}" "$dir/prog/"
		{
			printf 'run'
			printf ' %s' "$(shell_quote "/prog/$(basename "${prog[0]}")")"
			for a in "${prog[@]:1}"; do
				printf ' %s' "$(shell_quote "$a")"
			done
			printf '\n'
		} >"$dir/vm/cmd"
	else
		for t in "${sel[@]}"; do
			cp "$build_dir/$t" "$dir/prog/"
			printf 'run_test %s%s\n' "$(shell_quote "/prog/$t")" "${args_of[$t]:+ ${args_of[$t]}}"
		done >"$dir/vm/cmd"
	fi
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

# The tests' output: $run/stdout split at the marks /init writes after
# each test into $run/out.K (K from 0, in order), and "NAME EXIT" a line
# each in $run/rcs; the output without the marks in $run/tests.out.
split_output()
{
	: >"$run/rcs"
	awk -v m="vm-test $nonce end " -v dir="$run" '
		{ i = index($0, m) }
		i == 0 { print; print > (dir "/out." k); next }
		{
			pre = substr($0, 1, i - 1)
			if (pre != "") { print pre; print pre > (dir "/out." k) }
			split(substr($0, i + length(m)), f, " ")
			print f[1], f[2] >> (dir "/rcs")
			k++
		}' k=0 "$run/stdout" >"$run/tests.out"
}

# Each test's exit code and KTAP results, then all of them together, on
# stdout; sets rc, the runner's exit code (see the header).
summarize()
{
	local k=0 t trc p f s tp=0 tf=0 ts=0 bad=

	while read -r t trc; do
		touch "$run/out.$k"
		p=$(grep -E '^ok [0-9]+ ' "$run/out.$k" | grep -vc '# SKIP')
		s=$(grep -E '^ok [0-9]+ ' "$run/out.$k" | grep -c '# SKIP')
		f=$(grep -cE '^not ok [0-9]+ ' "$run/out.$k")
		echo "# summary: $t: exit $trc, $p passed, $f failed, $s skipped"
		tp=$((tp + p)) tf=$((tf + f)) ts=$((ts + s))
		case $trc in
		0 | 4) ;;
		*) bad=${bad:-$trc} ;;
		esac
		k=$((k + 1))
	done <"$run/rcs"
	if [ "$k" != ${#sel[@]} ]; then
		bad=${bad:-$NO_RESULT}
		echo "# summary: $k of ${#sel[@]} tests reported an exit code"
	fi
	if [ -n "$bad" ]; then
		rc=$bad
	elif [ "$tp" -gt 0 ]; then
		rc=0
	else
		rc=4
	fi
	echo "# summary: all $k tests: exit $rc, $tp passed, $tf failed, $ts skipped"
}

# --no-vm: the tests, or the program, on this machine, under the same
# deadline; the same output and exit code.
run_here()
{
	local k=0 t left

	deadline=$((SECONDS + timeout))
	if [ ${#prog[@]} -gt 0 ]; then
		timeout --kill-after=10 "$timeout" "${prog[@]}"
		exit $?
	fi
	: >"$run/rcs"
	for t in "${sel[@]}"; do
		left=$((deadline - SECONDS))
		eval "set -- ${args_of[$t]}"
		if [ "$left" -gt 0 ]; then
			timeout --kill-after=10 "$left" "$build_dir/$t" "$@" \
				>"$run/out.$k" 2>"$run/err.$k" </dev/null
			trc=$?
		else
			trc=124
			echo "$me: $t: not started, past the deadline of $timeout s" >"$run/err.$k"
		fi
		cat "$run/err.$k" >&2
		cat "$run/out.$k"
		echo "$t $trc" >>"$run/rcs"
		k=$((k + 1))
	done
	summarize
	exit "$rc"
}

main()
{
	local modes mode try t

	parse_args "$@"
	if [ ${#prog[@]} -gt 0 ] && [ "$plan_only" = 1 ]; then
		usage_error "--plan goes with the tests, not a program"
	fi
	if [ ${#prog[@]} -gt 0 ] && [ -n "$build_dir" ]; then
		usage_error "--build goes with the tests, not a program"
	fi
	if [ "$no_vm" = 1 ]; then
		[ -z "$kernel_given$moddir$append" ] && [ "$fetch_only" = 0 ] ||
			usage_error "--no-vm boots no kernel: no --kernel, --modules, --append or --fetch"
		krelease=$(uname -r)
		run=$(mktemp -d) || exit 1
		trap 'rm -rf "$run"' EXIT
	else
		if [ "$plan_only" = 0 ]; then
			command -v qemu-system-x86_64 >/dev/null ||
				usage_error "qemu-system-x86_64 not found (apt-get install qemu-system-x86)"
			command -v cpio >/dev/null || usage_error "cpio not found (apt-get install cpio)"
		fi
		mkdir -p "$vmdir"
		run=$(mktemp -d "$vmdir/run.XXXXXX") || exit 1
		trap publish_run EXIT
		# --plan with a build needs no kernel.
		if [ "$plan_only" = 0 ] || [ -z "$build_dir" ]; then
			resolve_kernel
		fi
		if [ "$fetch_only" = 1 ]; then
			printf '%s\n%s\n' "$kimage" "$kmods"
			exit 0
		fi
	fi
	if [ ${#prog[@]} -gt 0 ]; then
		check_program
	else
		[ -n "$build_dir" ] || default_build
		probe_tests
		select_tests
		if [ "$plan_only" = 1 ]; then
			for t in "${sel[@]}"; do
				printf '%s%s\n' "$(shell_quote "$build_dir/$t")" "${args_of[$t]:+ ${args_of[$t]}}"
			done
			exit 0
		fi
		note "running: $(for t in "${sel[@]}"; do printf '%s%s\n' "$t" "${args_of[$t]:+ ${args_of[$t]}}"; done | paste -sd';' | sed 's/;/; /g')"
	fi
	[ "$no_vm" = 0 ] || run_here

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
				if [ ${#prog[@]} -gt 0 ]; then
					cat "$run/stdout"
					exit "$rc"
				fi
				split_output
				cat "$run/tests.out"
				summarize
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
