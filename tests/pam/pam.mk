# PAM-stack tests: the real pam_vendor.so in a real libpam stack, through
# pam_wrapper + libpamtest and private service files (nothing under
# /etc/pam.d), the helpdesk side through the real vendorctl.
#
#   make pam                       (make check runs it under ASan/UBSan)
#   PAM_TEST_KEEP=1 make pam       keep the private directory for a post-mortem
#
# pam_stack_test sets up its private directory and, as root, throwaway users
# (pvt_priv1, pvt_vmember1, group pvt_vendors), then re-executes itself under
# LD_PRELOAD=[libasan] libpam_wrapper.so PAM_WRAPPER=1
# PAM_WRAPPER_SERVICE_DIR=<private dir> and removes users and files when that
# child ends, however it ends (harness.cc, supervise()). Tests that need root
# are reported as skipped without it.
PAM_TEST_DIR   := $(B)/tests/pam
PAM_TEST_BIN   := $(PAM_TEST_DIR)/pam_stack_test
PAM_TEST_PROBE := $(PAM_TEST_DIR)/pvt_probe.so
PAM_TEST_OBJS  := $(PAM_TEST_DIR)/pam_stack_test.o $(PAM_TEST_DIR)/harness.o
# Plain C test libraries, never sanitized (they are loaded into every process
# of the test, vendorctl and useradd included): the fault library
# (tests/support/fault.c, preloaded after the sanitizer runtime) and the
# case-insensitive NSS source (tests/pam/nss_pvtci.c).
PAM_TEST_FAULT := $(PAM_TEST_DIR)/lib/pvt_fault.so
PAM_TEST_NSS   := $(PAM_TEST_DIR)/lib/libnss_pvtci.so.2

$(PAM_TEST_FAULT): tests/support/fault.c
	@mkdir -p $(@D)
	$(CC) -O1 -g -fPIC -shared -Wall -Wextra -Werror -o $@ $< -ldl -lpthread

$(PAM_TEST_NSS): tests/pam/nss_pvtci.c
	@mkdir -p $(@D)
	$(CC) -O1 -g -fPIC -shared -Wall -Wextra -Werror -Wl,-soname,libnss_pvtci.so.2 -o $@ $<

# Linked with the sanitizers like the module: the test process is the ASan
# "application" into which libpam loads pam_vendor.so.
$(PAM_TEST_BIN): $(PAM_TEST_OBJS)
	$(CXX) -o $@ $(PAM_TEST_OBJS) $(SANFLAGS) $(LDHARDEN) $(LDFLAGS) $(PKG_LIBS) \
	    -lcmocka -lpamtest -lpam

$(PAM_TEST_PROBE): $(PAM_TEST_DIR)/probe_module.o
	$(CXX) -shared -o $@ $< $(SANFLAGS) $(LDHARDEN) $(LDFLAGS) -lpam

# Out of memory over a login (tests/pam/fault_test.cc): every allocation of
# an auth + account made to fail in turn by tests/support/malloc_fault.c.
# ASan interposes malloc itself, so the module, the core, the driver and the
# probe are built once more here with plain flags (vendorctl stays the one of
# this build: it runs in its own process).
FAULT_DIR      := $(B)/tests/fault
FAULT_CXXFLAGS := -std=c++20 -DPAM_VENDOR_VERSION=\"$(VERSION)\" $(WARN) -fPIC -fvisibility=hidden \
                  -fvisibility-inlines-hidden $(HARDEN) $(CORE_INC) $(PKG_CFLAGS) -O1 -g
FAULT_CORE     := $(FAULT_DIR)/libvendorcore.a
FAULT_CORE_OBJS := $(COMMON_SRCS:%.cc=$(FAULT_DIR)/%.o)
FAULT_PAM_OBJS := $(PAM_SRCS:%.cc=$(FAULT_DIR)/%.o)
FAULT_TEST_OBJS := $(FAULT_DIR)/tests/pam/fault_test.o $(FAULT_DIR)/tests/pam/harness.o
FAULT_SO       := $(FAULT_DIR)/pam_vendor/pam_vendor.so
FAULT_PROBE    := $(FAULT_DIR)/pvt_probe.so
FAULT_SHIM     := $(FAULT_DIR)/malloc_fault.so
FAULT_BIN      := $(FAULT_DIR)/fault_test

$(FAULT_CORE_OBJS) $(FAULT_PAM_OBJS) $(FAULT_TEST_OBJS) $(FAULT_DIR)/tests/pam/probe_module.o: \
    $(FAULT_DIR)/%.o: %.cc
	@mkdir -p $(@D)
	$(CXX) $(FAULT_CXXFLAGS) -MMD -MP -c $< -o $@

$(FAULT_CORE): $(FAULT_CORE_OBJS)
	@rm -f $@
	ar rcs $@ $^

$(FAULT_SO): $(FAULT_PAM_OBJS) $(FAULT_CORE) pam_vendor/pam_vendor.map
	$(CXX) -shared -o $@ $(FAULT_PAM_OBJS) $(FAULT_CORE) -static-libstdc++ -static-libgcc $(LDHARDEN) \
	    -Wl,--version-script=pam_vendor/pam_vendor.map $(PKG_LIBS) -lpam

$(FAULT_PROBE): $(FAULT_DIR)/tests/pam/probe_module.o
	$(CXX) -shared -o $@ $< $(LDHARDEN) -lpam

$(FAULT_SHIM): tests/support/malloc_fault.c
	@mkdir -p $(@D)
	$(CC) -std=c11 -Wall -Wextra -Werror -O1 -g -fPIC -shared -o $@ $<

$(FAULT_BIN): $(FAULT_TEST_OBJS) $(FAULT_CORE)
	$(CXX) -o $@ $(FAULT_TEST_OBJS) $(FAULT_CORE) $(LDHARDEN) $(PKG_LIBS) -ldl -lcmocka -lpamtest -lpam

-include $(wildcard $(FAULT_DIR)/*/*.d $(FAULT_DIR)/tests/*/*.d)

FAULT_RUN = PAM_TEST_TMPDIR=/dev/shm tests/support/run_tap.sh $(B)/results/pam.txt pam_fault -- $(FAULT_BIN) \
	    --module $(FAULT_SO) --vendorctl $(VENDORCTL) --probe $(FAULT_PROBE) \
	    --map pam_vendor/pam_vendor.map --data tests/data --preload $(FAULT_SHIM)

pam-fault: $(VENDORCTL) $(FAULT_BIN) $(FAULT_SO) $(FAULT_PROBE) $(FAULT_SHIM)
	@$(FAULT_RUN)

# One after the other: both make the same throwaway users.
pam: all $(PAM_TEST_BIN) $(PAM_TEST_PROBE) $(PAM_TEST_FAULT) $(PAM_TEST_NSS) \
     $(FAULT_BIN) $(FAULT_SO) $(FAULT_PROBE) $(FAULT_SHIM)
	@tests/support/run_tap.sh $(B)/results/pam.txt pam -- $(PAM_TEST_BIN) \
	    --module $(PAM_SO) --vendorctl $(VENDORCTL) --probe $(PAM_TEST_PROBE) \
	    --map pam_vendor/pam_vendor.map --data tests/data \
	    --fault $(PAM_TEST_FAULT) --nss-dir $(PAM_TEST_DIR)/lib
	@$(FAULT_RUN)

CHECK_SUITES += pam
.PHONY: pam pam-fault
