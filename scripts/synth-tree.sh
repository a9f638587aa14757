#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# synth-tree.sh SRC DST
#	Make DST a tree with the KVM selftest layout of 6.14 and later from
#	SRC, a tree with the older one (Debian's 6.12): x86 tests, library
#	and headers in x86/ rather than x86_64/, the lists in Makefile.kvm, and
#	a Makefile that maps ARCH=x86_64 to x86 and includes it.  No Debian
#	package has that layout for bookworm.  Only what the KVM selftests
#	build needs is copied (the top Makefile, scripts/, tools/, usr/ and the
#	uapi headers), about 110 MB; SRC is only read.  Prints DST.

set -euo pipefail

me=synth-tree.sh
# shellcheck source=scripts/lib.sh
. "$(dirname "$0")/lib.sh"

[ $# -eq 2 ] || die "usage: $me SRC DST"
src=$1
dst=$2
kvm=tools/testing/selftests/kvm
[ -f "$src/$kvm/Makefile" ] && [ -d "$src/$kvm/x86_64" ] ||
	die "$src has no KVM selftests in the x86_64/ layout"
[ ! -f "$src/$kvm/Makefile.kvm" ] || die "$src already has Makefile.kvm"

rm -rf "$dst"
mkdir -p "$dst/include"
cp -a "$src/Makefile" "$src/scripts" "$src/tools" "$src/usr" "$dst/"
cp -a "$src/include/uapi" "$dst/include/"

cd "$dst/$kvm"
mv x86_64 x86
mv lib/x86_64 lib/x86
mv include/x86_64 include/x86

# The list and rules lose the ARCH_DIR mapping: ARCH itself is x86.
awk '
	/^top_srcdir = / { drop = 1 }
	drop { if ($0 ~ /^endif/) drop = 0; next }
	{ print }' Makefile |
	sed -e 's/_x86_64\b/_x86/g' -e 's#\bx86_64/#x86/#g' \
	    -e 's/\$(ARCH_DIR)/$(ARCH)/g' >Makefile.kvm
cat >Makefile <<'EOF'
# SPDX-License-Identifier: GPL-2.0-only
top_srcdir = ../../../..
include $(top_srcdir)/scripts/subarch.include
ARCH            ?= $(SUBARCH)

ifeq ($(ARCH),$(filter $(ARCH),arm64 s390 riscv x86 x86_64))
# Top-level selftests allows ARCH=x86_64 :-(
ifeq ($(ARCH),x86_64)
	ARCH := x86
endif
include Makefile.kvm
else
# Empty targets for unsupported architectures
all:
clean:
endif
EOF
grep -q '^TEST_GEN_PROGS_x86 += x86/' Makefile.kvm ||
	die "the conversion left no x86/ test list"
echo "$dst"
