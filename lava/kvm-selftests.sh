#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
#
# kvm-selftests.sh [DIR]
#	The run step of the LAVA test definition kvm-selftests.yaml, on the
#	device under test.  POSIX sh: busybox's ash is enough.  DIR (default:
#	this script's folder) holds the static test programs and tests.list,
#	their names one a line (lava-job.sh writes it).
#
# Test cases, recorded with lava-test-case (outside LAVA, where there is
# no lava-test-case, printed as "case [SET/]NAME RESULT" lines):
#   kvm_setup      pass when /dev/kvm is there, after loading KVM if it is
#                  a module (kvm_amd where the CPU shows svm, kvm_intel
#                  where it shows vmx); else fail, with a line
#                  "kvm-selftests: setup failed: WHY", and no test runs
#   PROGRAM/NAME   one per KTAP result line of PROGRAM, in the test set
#                  PROGRAM: pass, fail, or skip ("# SKIP"); NAME is the
#                  subtest's own (unique across the programs)
#   PROGRAM/PROGRAM.ktap_plan
#                  only when the results do not match the KTAP plan: fail
#                  (the program in its name, so that it is unique too)
#   PROGRAM        from its exit code: 0 pass, 4 skip, anything else fail
#
# Exit 0 once the cases are recorded, whatever they are; 1 when DIR has no
# tests.list.  Environment: KVM_TEST_TIMEOUT, the seconds a program may run
# (default 180); KVM_CLOCK_WAIT, the seconds to wait for the clocksource tsc
# before loading KVM (default 60); KVM_DEV, the device (default /dev/kvm).

set -u

dir=${1:-$(dirname "$0")}
kvm_dev=${KVM_DEV:-/dev/kvm}
timeout_s=${KVM_TEST_TIMEOUT:-180}
clock_wait=${KVM_CLOCK_WAIT:-60}
work=${TMPDIR:-/tmp}/kvm-selftests.$$

say()
{
	echo "kvm-selftests: $*"
}

# record NAME RESULT
record()
{
	if command -v lava-test-case >/dev/null 2>&1; then
		lava-test-case "$1" --result "$2"
	else
		echo "case ${set:+$set/}$1 $2"
	fi
}

# test_set start NAME | test_set stop
test_set()
{
	if [ "$1" = start ]; then
		set=$2
	else
		set=
	fi
	if command -v lava-test-set >/dev/null 2>&1; then
		lava-test-set "$@"
	fi
}

# wait_for TENTHS COMMAND...: COMMAND succeeds within TENTHS tenths of a second.
wait_for()
{
	n=$1
	shift
	until "$@"; do
		[ "$n" -gt 0 ] || return 1
		n=$((n - 1))
		sleep 0.1
	done
}

# shellcheck disable=SC2317 # called through wait_for
clocksource_is_tsc()
{
	[ "$(cat /sys/devices/system/clocksource/clocksource0/current_clocksource 2>/dev/null)" = tsc ]
}

# KVM is a module: load it, as its CPU calls for.  Sets why on failure.
load_kvm()
{
	if grep -qw svm /proc/cpuinfo; then
		mod=kvm_amd
	elif grep -qw vmx /proc/cpuinfo; then
		mod=kvm_intel
	else
		why="the CPU shows neither svm nor vmx: no hardware virtualization for KVM (a guest needs it passed through, with nested KVM)"
		return 1
	fi
	# A fresh boot runs on tsc-early: KVM takes the TSC rate it sees when
	# it loads, so it waits for the refined one (KVM_CLOCK_WAIT).
	if grep -qw tsc /sys/devices/system/clocksource/clocksource0/available_clocksource 2>/dev/null &&
	   ! wait_for $((clock_wait * 10)) clocksource_is_tsc; then
		say "the clocksource is still $(cat /sys/devices/system/clocksource/clocksource0/current_clocksource), not tsc"
	fi
	if ! out=$(modprobe "$mod" 2>&1); then
		why="modprobe $mod failed: $(echo "$out" | tail -n 1)"
		return 1
	fi
	if ! wait_for 100 test -c "$kvm_dev"; then
		why="$mod loaded, but no $kvm_dev within 10 s ($(dmesg 2>/dev/null | grep -i -E 'kvm|svm|vmx' | tail -n 1))"
		return 1
	fi
	# KVM's copy of the timekeeper's clock is filled in by the next
	# timekeeping update after it loads.
	sleep 1
}

# KTAP result lines of the file $1 as "NAME RESULT" lines, then "plan N"
# (N the plan's count, -1 without a plan) and "seen N".
ktap_results()
{
	awk '
	/^1\.\.[0-9]+/ && plan < 0 { plan = substr($1, 4) + 0 }
	/^(not )?ok [0-9]+/ {
		res = ($1 == "not") ? "fail" : "pass"
		line = $0
		sub(/^(not )?ok [0-9]+ *(- )?/, "", line)
		if (match(line, / *# *[Ss][Kk][Ii][Pp]/)) {
			res = "skip"
			line = substr(line, 1, RSTART - 1)
		} else if (match(line, / *#/)) {
			line = substr(line, 1, RSTART - 1)
		}
		# A LAVA test case name has no spaces or slashes.
		gsub(/[^A-Za-z0-9_.+-]/, "_", line)
		if (line == "")
			line = "test_" (seen + 1)
		print line, res
		seen++
	}
	END { print "plan", plan; print "seen", seen + 0 }' plan=-1 "$1"
}

run_program()
{
	name=$1
	prog=$dir/$name
	log=$work/$name.out

	test_set start "$name"
	say "running $name"
	if [ -x "$prog" ]; then
		rc=0
		if command -v timeout >/dev/null 2>&1; then
			timeout "$timeout_s" "$prog" >"$log" 2>"$work/$name.err" </dev/null || rc=$?
		else
			"$prog" >"$log" 2>"$work/$name.err" </dev/null || rc=$?
		fi
		cat "$log" "$work/$name.err"
	else
		say "$prog is not an executable file"
		: >"$log"
		rc=127
	fi
	plan=-1
	seen=0
	ktap_results "$log" >"$work/$name.cases"
	while read -r case result; do
		case $case in
		plan) plan=$result ;;
		seen) seen=$result ;;
		*) record "$case" "$result" ;;
		esac
	done <"$work/$name.cases"
	if [ "$plan" -ge 0 ] && [ "$plan" != "$seen" ]; then
		say "$name: $seen results for a plan of $plan"
		record "$name.ktap_plan" fail
	fi
	test_set stop
	case $rc in
	0) result=pass ;;
	4) result=skip ;;
	*) result=fail ;;
	esac
	say "$name exited $rc"
	record "$name" "$result"
}

if [ ! -f "$dir/tests.list" ]; then
	say "no tests.list in $dir"
	exit 1
fi
rm -rf "$work"
mkdir -p "$work" || exit 1

set=
why=
if [ -c "$kvm_dev" ] || load_kvm; then
	say "setup: $kvm_dev is there ($(uname -r), $(grep -m1 '^model name' /proc/cpuinfo | sed 's/.*: //'))"
	record kvm_setup pass
else
	say "setup failed: $why"
	record kvm_setup fail
	rm -rf "$work"
	exit 0
fi

while read -r name _; do
	case $name in
	'' | '#'*) continue ;;
	esac
	run_program "$name"
done <"$dir/tests.list"
rm -rf "$work"
exit 0
