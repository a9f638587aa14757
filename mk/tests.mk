# SPDX-License-Identifier: GPL-2.0-only
#
# Host tests: the library against its models, the restore routine against a
# model of KVM, and the host tool, each built plainly and with
# AddressSanitizer + UBSan.  `make check` ends with one
# summary line: "check: N passed, N failed, N skipped".

TEST_DEPS := tests/test_lib.c tests/check.h tests/model.h tools/sweep_rates.h \
	     $(LIB_SRC) $(LIB_HDR)
TOOL_DEPS := tools/pvclock-ref.c tools/sweep_rates.h $(LIB_SRC) $(LIB_HDR)

$(BUILD)/tests/test_lib: $(TEST_DEPS)
	@mkdir -p $(@D)
	$(CC) $(HOST_CFLAGS) -o $@ tests/test_lib.c $(LIB_SRC)

$(BUILD)/san/test_lib: $(TEST_DEPS)
	@mkdir -p $(@D)
	$(CC) $(HOST_CFLAGS) $(SAN_CFLAGS) -o $@ tests/test_lib.c $(LIB_SRC)

# The portable C paths that x86-64 replaces with a divide instruction.
$(BUILD)/portable/test_lib: $(TEST_DEPS)
	@mkdir -p $(@D)
	$(CC) $(HOST_CFLAGS) $(SAN_CFLAGS) -DPVCLOCK_REF_NO_ASM -o $@ tests/test_lib.c $(LIB_SRC)

# pvclock_restore() against a simulated KVM fitted to recorded figures.
RESTORE_DEPS := tests/test_restore.c tests/check.h tests/model.h tools/sweep_rates.h \
		$(RESTORE_SRC) $(RESTORE_HDR) $(LIB_SRC) $(LIB_HDR)
RESTORE_DATA := $(sort $(wildcard tests/data/restore-*.txt))

$(BUILD)/tests/test_restore: $(RESTORE_DEPS)
	@mkdir -p $(@D)
	$(CC) $(HOST_CFLAGS) -o $@ tests/test_restore.c $(RESTORE_SRC) $(LIB_SRC)

$(BUILD)/san/test_restore: $(RESTORE_DEPS)
	@mkdir -p $(@D)
	$(CC) $(HOST_CFLAGS) $(SAN_CFLAGS) -o $@ tests/test_restore.c $(RESTORE_SRC) $(LIB_SRC)

# The restore in a minimal VMM, and the recorder of the figures above.  It is
# static, so that a VM runner can run it in another kernel.
$(BUILD)/pvclock-restore: tools/pvclock-restore.c $(RESTORE_SRC) $(RESTORE_HDR) \
			  $(LIB_SRC) $(LIB_HDR)
	@mkdir -p $(@D)
	$(CC) $(HOST_CFLAGS) -static -o $@ tools/pvclock-restore.c $(RESTORE_SRC) $(LIB_SRC)

RECORD_ARGS ?= --rounds 40 --attempts 50 --deltas 30

#: make restore-record [RECORD_ARGS=...]  KVM_SET_CLOCK figures of this KVM
restore-record: $(BUILD)/pvclock-restore
	$(BUILD)/pvclock-restore record $(RECORD_ARGS) >$(BUILD)/restore-record.txt
	@echo "restore-record: $(BUILD)/restore-record.txt (copy it to tests/data/restore-NAME.txt)"

.PHONY: restore-record

$(BUILD)/san/pvclock-ref: $(TOOL_DEPS)
	@mkdir -p $(@D)
	$(CC) $(HOST_CFLAGS) $(SAN_CFLAGS) -o $@ tools/pvclock-ref.c $(LIB_SRC)

CHECK_PROGS := $(BUILD)/tests/test_lib $(BUILD)/san/test_lib \
	       $(BUILD)/portable/test_lib \
	       $(BUILD)/tests/test_restore $(BUILD)/san/test_restore \
	       $(BUILD)/pvclock-restore \
	       $(BUILD)/pvclock-ref $(BUILD)/san/pvclock-ref

# Pairs of a name and the command that prints its TAP.
CHECK_SUITES := \
	"library" "$(BUILD)/tests/test_lib" \
	"library (asan+ubsan)" "$(BUILD)/san/test_lib" \
	"library (portable C, asan+ubsan)" "$(BUILD)/portable/test_lib" \
	"restore vs a model of KVM" "$(BUILD)/tests/test_restore $(RESTORE_DATA)" \
	"restore vs a model of KVM (asan+ubsan)" \
		"$(BUILD)/san/test_restore $(RESTORE_DATA)" \
	"tool" "tests/test_tool.sh $(BUILD)/pvclock-ref" \
	"tool (asan+ubsan)" "tests/test_tool.sh $(BUILD)/san/pvclock-ref"

#: make check         build and run the host tests (plain and sanitized)
check: $(CHECK_PROGS)
	@tests/run.sh $(CHECK_SUITES)
