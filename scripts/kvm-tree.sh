# SPDX-License-Identifier: GPL-2.0-only
# shellcheck shell=bash
#
# kvm-tree.sh: sourced by install.sh, make-patch.sh and kernel-patch.sh.
# Where this project's files go in a kernel tree's KVM selftests, and each
# file in the form of that tree's API.
#
# Each part is one patch of the upstream series:
#   ref          the pvclock_ref library: include/ARCH/, lib/ARCH/
#   restore      the pvclock_restore library: include/ARCH/, lib/ARCH/
#   drift        the code the pvclock tests share (pvclock_util, the
#                option parser pvclock_drift_opts): lib/ARCH/ and
#                include/ARCH/; pvclock_drift_test: ARCH/
#   restore_test the migration flow the restore tests share
#                (pvclock_migrate): lib/ARCH/, include/ARCH/;
#                pvclock_restore_test: ARCH/
#   clock_guest  pvclock_clock_guest_test: ARCH/.  It needs
#                KVM_[GS]ET_CLOCK_GUEST, which no released kernel has: it
#                travels with the kernel series (make kernel-patch), not in
#                the selftest series (KVM_PARTS); make install adds it too
#                (KVM_INSTALL_PARTS), where it skips without the ioctls.
# ARCH is x86_64 before 6.14 (tests listed in Makefile) and x86 from 6.14
# on (tests listed in Makefile.kvm).  The .c files reach the tree's
# selftest API through x86_64/pvclock_compat.h here; in a tree it is
# resolved away (kvm_test_for_tree), so that no compatibility header goes
# upstream.

# shellcheck disable=SC2034 # read by the scripts that source this file
KVM_PARTS="ref restore drift restore_test"
# shellcheck disable=SC2034
KVM_INSTALL_PARTS="$KVM_PARTS clock_guest"

# Sets kvm, mkfile, archdir and progvar for the tree in $1, or fails.
kvm_detect_layout()
{
	kvm=$1/tools/testing/selftests/kvm
	[ -d "$kvm" ] || { echo "$1 has no tools/testing/selftests/kvm"; return 1; }
	if [ -f "$kvm/Makefile.kvm" ]; then
		mkfile=$kvm/Makefile.kvm
		archdir=x86
	else
		mkfile=$kvm/Makefile
		archdir=x86_64
	fi
	progvar=TEST_GEN_PROGS_$archdir
	[ -d "$kvm/$archdir" ] || { echo "$kvm has no $archdir/ directory"; return 1; }
	grep -q "^${progvar}[[:space:]]*+\?=" "$mkfile" ||
		{ echo "$mkfile has no $progvar list: unknown KVM selftest layout"; return 1; }
}

# "destination source" of each file of part $1 (destinations relative to
# the kvm directory, sources to this project).
kvm_part_files()
{
	case $1 in
	ref)
		echo "include/$archdir/pvclock_ref.h include/pvclock_ref.h"
		echo "lib/$archdir/pvclock_ref.c lib/pvclock_ref.c"
		;;
	restore)
		echo "include/$archdir/pvclock_restore.h include/pvclock_restore.h"
		echo "lib/$archdir/pvclock_restore.c lib/pvclock_restore.c"
		;;
	drift)
		echo "include/$archdir/pvclock_drift.h include/x86/pvclock_drift.h"
		echo "include/$archdir/pvclock_util.h include/x86/pvclock_util.h"
		echo "lib/$archdir/pvclock_drift_opts.c lib/x86/pvclock_drift_opts.c"
		echo "lib/$archdir/pvclock_util.c lib/x86/pvclock_util.c"
		echo "$archdir/pvclock_drift_test.c x86_64/pvclock_drift_test.c"
		;;
	restore_test)
		echo "include/$archdir/pvclock_migrate.h include/x86/pvclock_migrate.h"
		echo "lib/$archdir/pvclock_migrate.c lib/x86/pvclock_migrate.c"
		echo "$archdir/pvclock_restore_test.c x86_64/pvclock_restore_test.c"
		;;
	clock_guest)
		echo "$archdir/pvclock_clock_guest_test.c x86_64/pvclock_clock_guest_test.c"
		;;
	esac
}

# The Makefile variables and values that register part $1, a line each.
kvm_part_make()
{
	case $1 in
	ref) echo "LIBKVM_$archdir lib/$archdir/pvclock_ref.c" ;;
	restore) echo "LIBKVM_$archdir lib/$archdir/pvclock_restore.c" ;;
	drift)
		echo "LIBKVM_$archdir lib/$archdir/pvclock_drift_opts.c"
		echo "LIBKVM_$archdir lib/$archdir/pvclock_util.c"
		echo "$progvar $archdir/pvclock_drift_test"
		;;
	restore_test)
		echo "LIBKVM_$archdir lib/$archdir/pvclock_migrate.c"
		echo "$progvar $archdir/pvclock_restore_test"
		;;
	clock_guest) echo "$progvar $archdir/pvclock_clock_guest_test" ;;
	esac
}

# An awk function: the code of C line "text" without its comments and
# string literals (each a blank), the global c saying whether a comment
# is open at its end, as at its start.
KVM_AWK_CODE='
function code_of(text,    code, tok) {
	code = ""
	while (text != "") {
		if (c) {
			if (!index(text, "*/"))
				return code
			text = substr(text, index(text, "*/") + 2)
			c = 0
		} else if (match(text, /\/\*|\/\/|"([^"\\]|\\.)*"/)) {
			code = code substr(text, 1, RSTART - 1) " "
			tok = substr(text, RSTART, 2)
			if (tok == "//")
				return code
			if (tok == "/*") {
				text = substr(text, RSTART + 2)
				c = 1
			} else {
				text = substr(text, RSTART + RLENGTH)
			}
		} else {
			return code text
		}
	}
	return code
}'

# Is macro $1 defined by the tree's selftest headers or its uapi?
kvm_tree_defines()
{
	local tree=$kvm/../../../..

	grep -rqsE "^#[[:space:]]*define[[:space:]]+$1([[:space:](]|\$)" \
		"$kvm/include" "$kvm/../kselftest.h" \
		"$tree/include/uapi/linux/kvm.h" "$tree/usr/include/linux/kvm.h"
}

# Does file $3 use, in code, a macro that the "#ifndef $2" block of the
# compatibility header $1 defines?  A name in a comment or a string is no
# use.
kvm_block_used()
{
	local macro code

	code=$(awk "$KVM_AWK_CODE"'{ print code_of($0) }' "$3")
	for macro in $(awk -v name="$2" '
		$0 == "#ifndef " name { on = 1; next }
		on && /^#endif/ { exit }
		on && /^#define/ { sub(/^#define[ \t]+/, ""); sub(/[ \t(].*/, ""); print }' "$1"); do
		grep -qw -- "$macro" <<<"$code" && return 0
	done
	return 1
}

# The compatibility header $1 resolved for this tree and for the file $2
# that includes it: its include lines (prefixed "I "), then its body
# (prefixed "B ").  A top-level "#ifndef NAME" block goes, with the comment
# just above it, when the tree defines NAME or when the file uses none of
# the block's macros, and stays otherwise; the guard and the file's own
# comment go; a static inline function becomes static, as in any .c file.
kvm_compat_for_tree()
{
	local compat=$1 file=$2 guard name defined=" "

	guard=$(sed -n 's/^#ifndef \([A-Z0-9_]*_H\)$/\1/p' "$compat" | head -n 1)
	for name in $(sed -n 's/^#ifndef \([A-Za-z0-9_]*\)$/\1/p' "$compat"); do
		[ "$name" != "$guard" ] || continue
		if kvm_tree_defines "$name" || ! kvm_block_used "$compat" "$name" "$file"; then
			defined="$defined$name "
		fi
	done
	awk -v guard="$guard" -v defined="$defined" '
	function flush() { for (i = 0; i < np; i++) print "B " pend[i]; np = 0 }
	!started {	# the comments and blank lines that open the file
		if ($0 ~ /^\/\*/ || head) {
			head = $0 !~ /\*\//
			next
		}
		if ($0 == "")
			next
		started = 1
	}
	$0 == "#ifndef " guard || $0 == "#define " guard { next }
	/^#endif/ && $0 ~ guard { next }
	skip {
		if ($0 ~ /^#[[:space:]]*if/) depth++
		else if ($0 ~ /^#[[:space:]]*endif/ && depth-- == 0) skip = 0
		next
	}
	/^#include/ { print "I " $0; next }
	/^#ifndef / && index(defined, " " $2 " ") { np = 0; skip = 1; depth = 0; next }
	/^\/\*/ || incomment {
		pend[np++] = $0
		incomment = $0 !~ /\*\//
		next
	}
	/^$/ { flush(); print "B "; next }
	{ flush(); sub(/^static inline /, "static "); print "B " $0 }
	END { flush() }' "$compat"
}

# The test $1 for this tree on stdout, with its compatibility header $2
# resolved in place: where the test included it, the header's include
# lines that the test lacks, in the header's order, so that they come
# after what the test included before it, as out of tree (the tools
# copy of <asm/pvclock-abi.h> needs the types that the selftest headers
# bring); its body after the last include line.
kvm_test_for_tree()
{
	local test=$1 compat=$2 resolved inc body

	resolved=$(kvm_compat_for_tree "$compat" "$test") || return 1
	inc=$(printf '%s\n' "$resolved" | sed -n 's/^I //p' |
		while read -r line; do
			grep -qxF "$line" "$test" || echo "$line"
		done)
	body=$(printf '%s\n' "$resolved" | sed -n 's/^B //p' | cat -s |
		sed -e '/./,$!d')
	# The environment, not -v: awk would read the backslashes of C strings.
	INC=$inc BODY=$body NAME=$(basename "$compat") awk '
	{ line[NR] = $0 }
	/^#include/ { last = NR }
	END {
		for (i = 1; i <= NR; i++) {
			if (line[i] != "#include \"" ENVIRON["NAME"] "\"")
				print line[i]
			else if (ENVIRON["INC"] != "")
				print ENVIRON["INC"]
			if (i == last && ENVIRON["BODY"] != "")
				print "\n" ENVIRON["BODY"]
		}
	}' "$test"
}

# Copy part $1's files from the project $2 into the tree; each .c file that
# includes the compatibility header in this tree's form.
kvm_put_part()
{
	local part=$1 src=$2 dst from

	while read -r dst from; do
		mkdir -p "$(dirname "$kvm/$dst")"
		if [[ $from == *.c ]] &&
		   grep -qx '#include "pvclock_compat.h"' "$src/$from"; then
			kvm_test_for_tree "$src/$from" "$src/x86_64/pvclock_compat.h" \
				>"$kvm/$dst" || return 1
		else
			cp "$src/$from" "$kvm/$dst"
		fi
	done < <(kvm_part_files "$part")
}

# Add "VAR += VALUE" to the tree's Makefile where the list keeps it: before
# the first line of VAR's list whose value sorts after VALUE, among values
# in VALUE's folder; after the list's last such line otherwise.
kvm_add_sorted()
{
	local var=$1 value=$2 tmp

	tmp=$(mktemp "$mkfile.XXXXXX")
	awk -v var="$var" -v value="$value" '
	function dir(v) { sub(/[^\/]*$/, "", v); return v }
	{ line[NR] = $0 }
	$1 == var && ($2 == "+=" || $2 == "=") && dir($3) == dir(value) {
		if (!at && $3 > value)
			at = NR
		lastin = NR
	}
	END {
		if (!at)
			at = lastin + 1
		# never before the first plain assignment of the list
		else if (line[at] ~ "^" var "[[:space:]]*=")
			at++
		for (i = 1; i <= NR; i++) {
			if (i == at)
				print var " += " value
			print line[i]
		}
		if (at > NR)
			print var " += " value
	}' "$mkfile" >"$tmp"
	cat "$tmp" >"$mkfile"	# keeps the file's mode and owner
	rm -f "$tmp"
}

# The proposed uapi that no released kernel has: the selftest series must
# neither define nor use it in code (comments may name the proposal).
KVM_PROPOSED_UAPI='KVM_(GET|SET)_CLOCK_GUEST|KVM_CAP_CLOCK_GUEST'

# The lines that patches $@ add to C files and that define or use
# KVM_PROPOSED_UAPI in code, outside comments and strings, as
# "PATCH: FILE: LINE"; nothing when there is none.
kvm_proposed_uapi_in_code()
{
	awk -v re="(^|[^A-Za-z0-9_])($KVM_PROPOSED_UAPI)([^A-Za-z0-9_]|\$)" "$KVM_AWK_CODE"'
	FNR == 1 { patch = FILENAME; sub(/.*\//, "", patch); c = 0 }
	/^diff --git / { file = $NF; sub(/^b\//, "", file); c = 0; next }
	file !~ /\.[ch]$/ || !/^\+/ || /^\+\+\+ / { next }
	code_of(substr($0, 2)) ~ re { print patch ": " file ": " substr($0, 2) }' "$@"
}
