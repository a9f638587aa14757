# SPDX-License-Identifier: GPL-2.0-only
#
# Builds the pvclock tests (PVC_TESTS, x86_64/NAME.c each) out of tree with
# a kernel tree's own KVM selftest rules and flags, leaving the tree
# untouched:
#
#   make -C $KSRC/tools/testing/selftests/kvm -f $PWD/scripts/kvm-standalone.mk \
#	PVCLOCK_SRC=$PWD OUTPUT=$PWD/build/kvm-6.12 PVC_TESTS="..." \
#	TEST_GEN_PROGS_x86_64= TEST_GEN_PROGS_x86= ... pvclock-tests
#
# mk/selftest.mk passes those variables.  Emptying the tree's test lists on the
# command line overrides every assignment in its Makefile, so only the
# selftest library is built besides these tests.  The tree's Makefile is
# included as it is: CFLAGS, LDFLAGS, LDLIBS and LIBKVM_OBJS come from it,
# whatever its version.

ifeq ($(PVCLOCK_SRC),)
$(error PVCLOCK_SRC must name the pvclock_ref checkout)
endif

# tools/build/Build.include's try-run (the tree's -no-pie probe) makes its
# scratch folder in the current one, the tree's; here it is made in ours.
override TMPOUT = $(OUTPUT)/.tmp_$$$$

include Makefile

PVC_OBJDIR := $(OUTPUT)/pvclock
PVC_HDRS := $(PVCLOCK_SRC)/include/pvclock_ref.h \
	    $(PVCLOCK_SRC)/include/pvclock_restore.h \
	    $(PVCLOCK_SRC)/x86_64/pvclock_compat.h \
	    $(PVCLOCK_SRC)/include/x86/pvclock_drift.h \
	    $(PVCLOCK_SRC)/include/x86/pvclock_util.h \
	    $(PVCLOCK_SRC)/include/x86/pvclock_migrate.h
PVC_LIB_OBJS := $(PVC_OBJDIR)/pvclock_ref.o $(PVC_OBJDIR)/pvclock_restore.o \
		$(PVC_OBJDIR)/pvclock_drift_opts.o $(PVC_OBJDIR)/pvclock_util.o \
		$(PVC_OBJDIR)/pvclock_migrate.o
# The test programs, x86_64/NAME.c each, for pvclock-tests: mk/selftest.mk
# passes its SELFTEST_PROGS, their one list (no default here to drift
# from it; make tree-test builds none of them).
PVC_PROGS := $(addprefix $(OUTPUT)/,$(PVC_TESTS))
PVC_TEST_OBJS := $(addprefix $(PVC_OBJDIR)/,$(addsuffix .o,$(PVC_TESTS)))
# The project's headers, before the tree's: a copy installed in the tree
# may be older.
PVC_INC := -I$(PVCLOCK_SRC)/include -I$(PVCLOCK_SRC)/include/x86 \
	   -I$(PVCLOCK_SRC)/x86_64

$(shell mkdir -p $(PVC_OBJDIR))

.PHONY: pvclock-tests pvclock-drift-test pvc-runner-test
pvclock-tests: $(PVC_PROGS)
pvclock-drift-test: $(OUTPUT)/pvclock_drift_test
# The subtest runner's own test (tests/pvc_runner_test.c), for CI.
pvc-runner-test: $(OUTPUT)/pvc_runner_test

$(PVC_PROGS): $(OUTPUT)/%: $(PVC_OBJDIR)/%.o $(PVC_LIB_OBJS) $(LIBKVM_OBJS)
	$(CC) $(CFLAGS) $(CPPFLAGS) $(LDFLAGS) $(TARGET_ARCH) $< $(PVC_LIB_OBJS) \
		$(LIBKVM_OBJS) $(LDLIBS) -o $@

$(PVC_TEST_OBJS): $(PVC_OBJDIR)/%.o: $(PVCLOCK_SRC)/x86_64/%.c $(PVC_HDRS)
	$(CC) $(PVC_INC) $(CFLAGS) $(CPPFLAGS) $(TARGET_ARCH) -c $< -o $@

$(OUTPUT)/pvc_runner_test: $(PVC_OBJDIR)/pvc_runner_test.o $(PVC_LIB_OBJS) \
			   $(LIBKVM_OBJS)
	$(CC) $(CFLAGS) $(CPPFLAGS) $(LDFLAGS) $(TARGET_ARCH) $< $(PVC_LIB_OBJS) \
		$(LIBKVM_OBJS) $(LDLIBS) -o $@

$(PVC_OBJDIR)/pvc_runner_test.o: $(PVCLOCK_SRC)/tests/pvc_runner_test.c $(PVC_HDRS)
	$(CC) $(PVC_INC) $(CFLAGS) $(CPPFLAGS) $(TARGET_ARCH) -c $< -o $@

# The tests' shared code, guest code among it.
$(PVC_OBJDIR)/%.o: $(PVCLOCK_SRC)/lib/x86/%.c $(PVC_HDRS)
	$(CC) $(PVC_INC) $(CFLAGS) $(CPPFLAGS) $(TARGET_ARCH) -c $< -o $@

$(PVC_OBJDIR)/pvclock_ref.o: $(PVCLOCK_SRC)/lib/pvclock_ref.c \
			     $(PVCLOCK_SRC)/include/pvclock_ref.h
	$(CC) $(PVC_INC) $(CFLAGS) $(CPPFLAGS) $(TARGET_ARCH) \
		-c $< -o $@

$(PVC_OBJDIR)/pvclock_restore.o: $(PVCLOCK_SRC)/lib/pvclock_restore.c \
				 $(PVCLOCK_SRC)/include/pvclock_restore.h \
				 $(PVCLOCK_SRC)/include/pvclock_ref.h
	$(CC) $(PVC_INC) $(CFLAGS) $(CPPFLAGS) $(TARGET_ARCH) \
		-c $< -o $@
