#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# lava-run.sh [--cpu MODEL] [--out DIR] [JOBDIR]
#	Run the LAVA job that lava-job.sh wrote in JOBDIR (default
#	build/lava/job) for real, with bookworm's lava-run (lava-dispatcher)
#	and no server, on a qemu device whose CPU is MODEL (default EPYC,+svm;
#	software emulation, one thread).  Then read the test cases from
#	lava-run's log, print them as a table and judge them.
#
# Options:
#   --cpu MODEL   QEMU's -cpu for the device (EPYC,-svm: a CPU on which KVM
#                 cannot load, for the setup failure's check)
#   --out DIR     the run's folder (default build/lava/run): device.yaml,
#                 lava.log (lava-run's log, a YAML object a line),
#                 results.txt (the table) and lava-run's output folder
#   --judge LOG   run nothing: read and judge LOG, a log of lava-run (the
#                 checks of the judgement use it)
#   --help        this text
#
# What lava-run needs besides lava-dispatcher is fetched from Debian's
# packages into build/lava, nothing installed: the device-type templates
# (qemu.jinja2, base.jinja2) from lava-server of lava-dispatcher's own
# version; and a kernel for libguestfs, which builds the test overlay's
# disk in a QEMU appliance of its own (supermin) and needs a host kernel
# that this machine may not have in /boot: Debian's cloud kernel of this
# release (6.1 on Debian 12), as the VM runner fetches it, with depmod's
# files made beside it.  libguestfs runs under software emulation
# (force_tcg).
#
# Exit 0 only when kvm_setup passed, every program of JOBDIR/tests.list and
# every subtest of JOBDIR/subtests.list has its test case, and every test
# case is as the kernel (JOBDIR/kernel.txt) must give it: lava/expected says
# which interfaces and fixes the kernel lacks, which subtests need those
# interfaces (they skip) and which check those fixes (they fail); a program
# fails with such a failure, skips (exit 4) when all its subtests skip, and
# every other case passes (the tests' contract for the kernel).  Else 1,
# with a line saying why: setup failed (and why), a test case failed or
# missing, lava-run's error (QEMU or libguestfs not starting), or the run
# past its bound (the job's timeout plus 2 minutes).  2: a bad command
# line; 3: lava-dispatcher or its templates cannot be had.

set -euo pipefail

me=lava-run.sh
# shellcheck source=scripts/lib.sh
. "$(dirname "$(readlink -f "$0")")/../scripts/lib.sh"
usage_hint=" (see --help)"

cpu=EPYC,+svm
judge=
out=$build/lava/run
jobdir=$build/lava/job
lavadir=$build/lava
# Debian 12's own kernel series: libguestfs's appliance kernel.
appliance_series=6.1

while [ $# -gt 0 ]; do
	case $1 in
	--cpu)
		need_value "$@"
		[[ $2 =~ ^[A-Za-z0-9_.,+=-]+$ ]] || usage_error "--cpu: '$2' is not a QEMU CPU model"
		cpu=$2
		shift 2
		;;
	--out) need_value "$@"; out=$2; shift 2 ;;
	--judge)
		need_value "$@"
		[ -f "$2" ] || usage_error "--judge: no such file '$2'"
		judge=$2
		shift 2
		;;
	--help | -h) usage_text '4,/^$/'; exit 0 ;;
	-*) usage_error "unknown option '$1'" ;;
	*)
		[ "$jobdir" = "$build/lava/job" ] || usage_error "one job folder only"
		jobdir=$1
		shift
		;;
	esac
done
for f in job.yaml tests.list subtests.list kernel.txt; do
	[ -f "$jobdir/$f" ] || usage_error "$jobdir/$f is missing: make lava-job writes the job"
done
jobdir=$(cd "$jobdir" && pwd)

# The device-type templates: lava-server of lava-dispatcher's version,
# downloaded and unpacked into build/lava/lava-server-VERSION.  Offline, a
# copy already there.
templates()
{
	local ver dir tmp

	ver=$(dpkg-query -W -f='${Version}' lava-dispatcher 2>/dev/null) ||
		die_exit=3 die "lava-dispatcher is not installed (apt-get install lava-dispatcher)"
	dir=$lavadir/lava-server-$ver
	if [ ! -f "$dir/.ok" ]; then
		tmp=$dir.tmp
		rm -rf "$tmp" && mkdir -p "$tmp/x"
		papt_has lava-server || true
		note "fetching lava-server $ver (its device-type templates)"
		deb_download "lava-server=$ver" "$tmp" ||
			die_exit=3 die "cannot download lava-server $ver, whose device-type templates lava-run needs"
		dpkg-deb -x "$tmp"/lava-server_*.deb "$tmp/x" || die "cannot unpack lava-server $ver"
		rm -rf "$dir" && mkdir -p "$dir"
		mv "$tmp/x/usr/share/lava-server/device-types" "$dir/device-types" ||
			die "lava-server $ver has no device-types folder"
		rm -rf "$tmp"
		touch "$dir/.ok"
	fi
	echo "$dir/device-types"
}

# libguestfs's kernel: sets appliance_kernel and appliance_modules.
appliance()
{
	local fetched kmods rel dst

	fetched=$("$root/scripts/vm-run.sh" --kernel "debian-$appliance_series" --fetch) ||
		die "cannot fetch Debian's $appliance_series kernel for libguestfs"
	appliance_kernel=$(sed -n 1p <<<"$fetched")
	kmods=$(sed -n 2p <<<"$fetched")
	rel=$(basename "$(dirname "$appliance_kernel")")
	dst=$lavadir/appliance/lib/modules/$rel
	if [ ! -f "$dst/modules.dep" ]; then
		rm -rf "$lavadir/appliance" && mkdir -p "$(dirname "$dst")"
		cp -al "$kmods/$rel" "$dst" 2>/dev/null || cp -a "$kmods/$rel" "$dst" ||
			die "cannot copy the modules of $rel"
		depmod -b "$lavadir/appliance" "$rel" 2>/dev/null ||
			die "depmod failed on the modules of $rel"
	fi
	appliance_modules=$dst
}

need_tool()
{
	command -v "$1" >/dev/null ||
		die_exit=3 die "$1 not found: apt-get install $2 (the README's package list)"
}
# Debian's python3, the one lava-dispatcher's modules are for (not the
# first python3 on PATH, which may be another).
py=/usr/bin/python3

if [ -n "$judge" ]; then
	log=$judge
	rc=0
	secs=
	mkdir -p "$out"
	"$py" -c 'import yaml' 2>/dev/null ||
		die_exit=3 die "$py lacks yaml: apt-get install python3-yaml"
else
	need_tool lava-run lava-dispatcher
	need_tool qemu-system-x86_64 qemu-system-x86
	"$py" -c 'import guestfs, jinja2, yaml' 2>/dev/null ||
		die_exit=3 die "$py lacks guestfs, jinja2 or yaml: apt-get install lava-dispatcher"

	# A kernel that cannot mount the test overlay's disk would only wait for
	# the test action's timeout (lava-job.sh found it out).
	if [ -f "$jobdir/no-overlay-disk" ]; then
		die "not run: $(cat "$jobdir/no-overlay-disk")"
	fi
	log=$out/lava.log
	# One run at a time in a run folder: another one's log would be read
	# as this one's.  A second run waits for the first (at most its bound).
	mkdir -p "$out"
	exec 9>"$out/.lock"
	if ! flock -n 9; then
		note "another run is using $out: waiting for it"
		flock -w $((19 * 60 + 120)) 9 || die "$out stayed in use by another run"
	fi
	tdir=$(templates)
	appliance
	mkdir -p "$lavadir/guestfs-cache"
	rm -rf "${out:?}/output" "$out/lava.log" "$out/results.txt" "$out/device.yaml"

	# The device configuration: lava/qemu-svm.jinja2 on top of lava-server's
	# qemu.jinja2, with the job's context, as a server would render it.
	"$py" - "$root/lava" "$tdir" "$jobdir/job.yaml" "$cpu" >"$out/device.yaml" <<'EOF' ||
import sys, jinja2, yaml
lava, tdir, job, cpu = sys.argv[1:]
ctx = dict(yaml.safe_load(open(job)).get("context") or {})
ctx["qemu_cpu"] = cpu
env = jinja2.Environment(loader=jinja2.FileSystemLoader([lava, tdir]),
                         trim_blocks=True, autoescape=False)
print(env.get_template("qemu-svm.jinja2").render(**ctx))
EOF
		die "cannot render the device configuration from $tdir"

	job_minutes=$("$py" -c 'import sys, yaml; print(yaml.safe_load(open(sys.argv[1]))["timeouts"]["job"]["minutes"])' \
		"$jobdir/job.yaml") || die "$jobdir/job.yaml has no job timeout"
	bound=$((job_minutes * 60 + 120))
	note "job: $jobdir/job.yaml ($(cat "$jobdir/kernel.txt"), cpu $cpu, at most $job_minutes min); log: $log"
	start=$(date +%s)
	# lava-run's scratch is /var/lib/lava/dispatcher/tmp/JOB_ID: an id of this
	# run's own, so that runs at the same time do not share it.
	job_id=$$
	rc=0
	# libguestfs: its appliance's kernel, software emulation, its cache in
	# build/.  timeout kills lava-run's process group (QEMU too) at the bound.
	SUPERMIN_KERNEL=$appliance_kernel SUPERMIN_MODULES=$appliance_modules \
		SUPERMIN_KERNEL_VERSION=$(basename "$appliance_modules") \
		LIBGUESTFS_BACKEND=direct LIBGUESTFS_BACKEND_SETTINGS=force_tcg \
		LIBGUESTFS_CACHEDIR=$lavadir/guestfs-cache \
		timeout --kill-after=20 "$bound" \
		lava-run --job-id "$job_id" --output-dir "$out/output" --device "$out/device.yaml" \
		"$jobdir/job.yaml" >"$log" 2>&1 || rc=$?
	secs=$(($(date +%s) - start))
	note "lava-run exited $rc after $secs s"
fi

# The log's test cases and errors, one tab-separated line each:
# "case SET NAME RESULT", "job RESULT ERROR", "error MESSAGE", "target LINE"
# for the runner's own lines on the device, "qemu LINE" for QEMU's errors,
# "mount LINE" for the overlay's disk not mounted.
"$py" - "$log" >"$out/parsed.txt" <<'EOF' || die "cannot read $log"
import sys, yaml
for line in open(sys.argv[1], errors="replace"):
    line = line.strip()
    if line.startswith("- {"):
        line = line[2:]
    if not line.startswith("{"):
        continue
    try:
        rec = yaml.safe_load(line)
    except yaml.YAMLError:
        continue
    if not isinstance(rec, dict):
        continue
    lvl, msg = rec.get("lvl"), rec.get("msg")
    if lvl == "results" and isinstance(msg, dict):
        if msg.get("definition") == "lava":
            if msg.get("case") == "job":
                print("job", msg.get("result"), msg.get("error_msg") or "", sep="\t")
            continue
        print("case", msg.get("set") or "-", msg.get("case"), msg.get("result"), sep="\t")
    elif lvl == "error":
        print("error", str(msg).splitlines()[0] if msg else "", sep="\t")
    elif lvl == "target" and isinstance(msg, str) and msg.startswith("kvm-selftests: "):
        print("target", msg, sep="\t")
    elif lvl == "target" and isinstance(msg, str) and msg.startswith("qemu-system-") \
            and ": warning: " not in msg:
        print("qemu", msg, sep="\t")
    elif lvl == "target" and isinstance(msg, str) and msg.startswith("mount: mounting /dev/disk/by-uuid/"):
        print("mount", msg, sep="\t")
EOF
grep '^target' "$out/parsed.txt" | cut -f2- | sed 's/^/  /' >&2 || true

kernel=$(cat "$jobdir/kernel.txt")

# lava/expected: the interfaces and fixes this kernel lacks, the
# interfaces each subtest needs and the fixes it checks.
declare -A lacked=() needs=() checks=()
lineno=0
while read -r kind a b extra; do
	lineno=$((lineno + 1))
	case $kind in
	'' | '#'*) continue ;;
	esac
	if [ -z "$b" ] || [ -n "$extra" ]; then
		die "lava/expected:$lineno: not a line of three words (KIND NAME NAME)"
	fi
	case $kind in
	lacks) if [[ $kernel =~ ^($a)$ ]]; then lacked[$b]=1; fi ;;
	needs) needs[$a]+=" $b" ;;
	checks) checks[$a]+=" $b" ;;
	*) die "lava/expected:$lineno: '$kind' is not lacks, needs or checks" ;;
	esac
done <"$root/lava/expected"

# subtest_expected NAME: fail where the kernel lacks a fix that the subtest
# NAME checks, else skip where it lacks an interface that NAME needs, else
# pass.
subtest_expected()
{
	local i

	for i in ${checks[$1]:-}; do
		if [ -n "${lacked[$i]:-}" ]; then
			echo fail
			return
		fi
	done
	for i in ${needs[$1]:-}; do
		if [ -n "${lacked[$i]:-}" ]; then
			echo skip
			return
		fi
	done
	echo pass
}

# The test cases recorded, in order, as keys: NAME outside a set (kvm_setup,
# a program's exit code), SET/NAME in one (a program's subtests).
keys=()
declare -A result=() subtests=() listed=()
while IFS=$'\t' read -r kind set name res; do
	[ "$kind" = case ] || continue
	if [ "$set" = - ]; then
		key=$name
	else
		key=$set/$name
		[ "$name" = "$set.ktap_plan" ] || subtests[$set]+=" $name"
	fi
	keys+=("$key")
	result[$key]=$res
done <"$out/parsed.txt"
# The subtests each program's --list named when the job was made; a
# program that could not list them is judged by those it recorded.
while read -r prog name; do
	[ -n "$name" ] && listed[$prog]+=" $name"
done <"$jobdir/subtests.list"
for prog in "${!listed[@]}"; do
	subtests[$prog]=${listed[$prog]}
done
declare -A is_prog=()
while read -r prog _; do
	case $prog in
	'' | '#'*) continue ;;
	esac
	is_prog[$prog]=1
done <"$jobdir/tests.list"

# expected KEY: the result the kernel must give for the test case KEY.  A
# program's exit code: fail (1) when one of its subtests must fail, else
# skip (4) when each must skip, else pass (0).
expected()
{
	local key=$1 name want all=skip

	case $key in
	*/*.ktap_plan) echo pass ;;
	*/*) subtest_expected "${key#*/}" ;;
	*)
		if [ -z "${is_prog[$key]:-}" ] || [ -z "${subtests[$key]:-}" ]; then
			echo pass
			return
		fi
		for name in ${subtests[$key]}; do
			want=$(subtest_expected "$name")
			case $want in
			fail) echo fail; return ;;
			pass) all=pass ;;
			esac
		done
		echo "$all"
		;;
	esac
}

bad=()
setup=${result[kvm_setup]:-}
declare -A count=()
width=24
for key in "${keys[@]}"; do
	[ ${#key} -lt "$width" ] || width=$((${#key} + 1))
done
{
	printf '%-*s %-6s %s\n' "$width" CASE RESULT EXPECTED
	for key in "${keys[@]}"; do
		res=${result[$key]}
		want=$(expected "$key")
		count[$res]=$((${count[$res]:-0} + 1))
		if [ "$res" = "$want" ]; then
			printf '%-*s %-6s %s\n' "$width" "$key" "$res" "$want"
		else
			bad+=("$key $res")
			printf '%-*s %-6s %s\n' "$width" "$key" "$res" "$want  <-- not as expected"
		fi
	done
} >"$out/results.txt"
sed 's/^/  /' "$out/results.txt"

# Why lava-run gave no (or no complete) result: its error, if any.
why_no_result()
{
	if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
		echo "lava-run ran past its bound of $bound s and was stopped"
		return
	fi
	local err

	err=$(awk -F'\t' '$1 == "job" && $3 != "" { print $3; exit }' "$out/parsed.txt")
	[ -n "$err" ] || err=$(awk -F'\t' '$1 == "error" { print $2; exit }' "$out/parsed.txt")
	err=${err:-lava-run exited $rc without an error message}
	# QEMU's own words, when it would not start; the device's, when it
	# could not mount the test overlay's disk.
	awk -F'\t' -v e="$err" '
		$1 == "qemu" && q == "" { q = "; " $2 }
		$1 == "mount" && m == "" { m = "; the device did not mount the test overlay: " $2 }
		END { print e q m }' "$out/parsed.txt"
}

if [ -z "$setup" ]; then
	die "no kvm_setup test case in $kernel: $(why_no_result) (log: $log)"
fi
if [ "$setup" != pass ]; then
	why=$(awk -F'\t' '$1 == "target" { sub(/^kvm-selftests: setup failed: /, "", $2); if ($2 != "") w = $2 } END { print w }' \
		<(grep -F 'setup failed:' "$out/parsed.txt" || true))
	die "setup failed in $kernel, no test ran: ${why:-no reason given} (log: $log)"
fi
# Every program has its test case, and every subtest it listed its own.
while read -r prog _; do
	case $prog in
	'' | '#'*) continue ;;
	esac
	for name in ${listed[$prog]:-}; do
		[ -n "${result[$prog/$name]:-}" ] || bad+=("$prog/$name missing")
	done
	[ -n "${result[$prog]:-}" ] || bad+=("$prog missing")
done <"$jobdir/tests.list"
if [ ${#bad[@]} -gt 0 ]; then
	extra=
	[ "$rc" = 0 ] || extra="; $(why_no_result)"
	die "${#bad[@]} test case(s) not as $kernel should give: ${bad[*]}$extra (log: $log)"
fi
failed=
[ -z "${count[fail]:-}" ] || failed=", ${count[fail]} failed (lava/expected)"
note "every test case as $kernel should give: ${count[pass]:-0} passed, ${count[skip]:-0} skipped$failed${secs:+, in $secs s}"
