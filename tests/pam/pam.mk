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

pam: all $(PAM_TEST_BIN) $(PAM_TEST_PROBE) $(PAM_TEST_FAULT) $(PAM_TEST_NSS)
	@tests/support/run_tap.sh $(B)/results/pam.txt pam -- $(PAM_TEST_BIN) \
	    --module $(PAM_SO) --vendorctl $(VENDORCTL) --probe $(PAM_TEST_PROBE) \
	    --map pam_vendor/pam_vendor.map --data tests/data \
	    --fault $(PAM_TEST_FAULT) --nss-dir $(PAM_TEST_DIR)/lib

CHECK_SUITES += pam
.PHONY: pam
