# SPDX-License-Identifier: GPL-2.0-only
#
# Host tests: the library against its models, and the host tool, each built
# plainly and with AddressSanitizer + UBSan.  `make check` ends with one
# summary line: "check: N passed, N failed, N skipped".

TEST_DEPS := tests/test_lib.c tests/check.h tools/sweep_rates.h $(LIB_SRC) $(LIB_HDR)
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

$(BUILD)/san/pvclock-ref: $(TOOL_DEPS)
	@mkdir -p $(@D)
	$(CC) $(HOST_CFLAGS) $(SAN_CFLAGS) -o $@ tools/pvclock-ref.c $(LIB_SRC)

CHECK_PROGS := $(BUILD)/tests/test_lib $(BUILD)/san/test_lib \
	       $(BUILD)/portable/test_lib \
	       $(BUILD)/pvclock-ref $(BUILD)/san/pvclock-ref

# Pairs of a name and the command that prints its TAP.
CHECK_SUITES := \
	"library" "$(BUILD)/tests/test_lib" \
	"library (asan+ubsan)" "$(BUILD)/san/test_lib" \
	"library (portable C, asan+ubsan)" "$(BUILD)/portable/test_lib" \
	"tool" "tests/test_tool.sh $(BUILD)/pvclock-ref" \
	"tool (asan+ubsan)" "tests/test_tool.sh $(BUILD)/san/pvclock-ref"

check: $(CHECK_PROGS)
	@tests/run.sh $(CHECK_SUITES)
