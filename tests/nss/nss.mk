# tests/nss — the NSS side (issue 3): libnss_vendor.so.2 and the account
# lifecycle of vendorctl.
#
#   make nss         (part of make check) a TEST copy of the module, compiled
#                    with PAM_VENDOR_NSS_INDEX under $(B)/tests/nss/root, and
#                    these CMocka programs, each through run_tap.sh:
#       nss_module   dlopen() of the module: status/errno contract, buffer
#                    sweeps, corrupt/insecure/missing index, id floor,
#                    initgroups_dyn, enumeration snapshots
#       nss_wrapper  libc lookups under nss_wrapper (NSS_WRAPPER_MODULE_SO_PATH)
#                    for accounts that vendorctl created
#       nss_system   getent -s vendor, id/getent in a private mount namespace
#                    with a bind-mounted nsswitch.conf, vendorctl add/remove,
#                    homes, ldd and the export list of the real module
#       nss_stress   16 threads of lookups while the index is replaced 1,000
#                    times by the writer (NSS_STRESS_REWRITES) and 100 times
#                    by vendorctl reindex (NSS_STRESS_VENDORCTL)
#       nss_fuzz     tests/nss/corpus replayed through the index fuzz target
#   make fuzz-nss    libFuzzer (clang) on the index reader, 60 s (FUZZ_NSS_TIME)
#   make bench-nss   getpwnam_r/getpwuid_r against glibc files and
#                    libnss-extrausers at 10, 1,000, 100,000 accounts (root;
#                    not part of check)
#
# The tests need root (the module believes only a root-owned index; vendorctl
# refuses to run otherwise); without it each program reports one SKIP. They
# never touch /etc or /var/lib/pam_vendor: /etc/nsswitch.conf and
# /etc/passwd are only ever overlaid inside private mount namespaces.

NSS_T_DIR   := $(B)/tests/nss
NSS_T_ROOT  := $(abspath $(B))/tests/nss/root
NSS_T_INDEX := $(NSS_T_ROOT)/nss/index
NSS_T_MOD   := $(NSS_T_DIR)/lib/libnss_vendor.so.2
NSS_T_PLAIN := $(NSS_T_DIR)/plain/libnss_vendor.so.2
NSS_T_MOD_OBJS   := $(NSS_SRCS:nss_vendor/%.cc=$(NSS_T_DIR)/mod/%.o)
NSS_T_PLAIN_OBJS := $(NSS_SRCS:nss_vendor/%.cc=$(NSS_T_DIR)/plainobj/%.o)
NSS_T_SRCS  := $(sort $(wildcard tests/nss/test_nss_*.cc))
NSS_T_BINS  := $(NSS_T_SRCS:tests/nss/%.cc=$(NSS_T_DIR)/%)
NSS_T_FUZZ_REPLAY := $(if $(wildcard tests/nss/fuzz_index.cc),$(NSS_T_DIR)/fuzz_index_replay)
NSS_LINK_FLAGS = $(SANFLAGS) $(LDHARDEN) $(LDFLAGS)

# A non-sanitized program (getent, id) can only dlopen the ASan module with
# the ASan runtime loaded first.
NSS_T_PRELOAD = $(if $(findstring address,$(SANFLAGS)),$(shell $(CC) -print-file-name=libasan.so))

# The test copy: same sources and flags as $(NSS_SO), another index path.
$(NSS_T_MOD_OBJS): $(NSS_T_DIR)/mod/%.o: nss_vendor/%.cc tests/nss/nss.mk
	@mkdir -p $(@D)
	$(CXX) $(ALLCXXFLAGS) $(NSS_CXXFLAGS) -DPAM_VENDOR_NSS_INDEX='"$(NSS_T_INDEX)"' -MMD -MP -c $< -o $@

$(NSS_T_MOD): $(NSS_T_MOD_OBJS) nss_vendor/nss_vendor.map
	@mkdir -p $(@D)
	$(CC) -shared -o $@ $(NSS_T_MOD_OBJS) $(SANFLAGS) $(LDHARDEN) $(LDFLAGS) -Wl,-soname,libnss_vendor.so.2 \
	    -Wl,--version-script=nss_vendor/nss_vendor.map -lpthread

# The same without sanitizers: what ldd of a release build shows.
$(NSS_T_PLAIN_OBJS): $(NSS_T_DIR)/plainobj/%.o: nss_vendor/%.cc tests/nss/nss.mk
	@mkdir -p $(@D)
	$(CXX) $(filter-out $(SANFLAGS),$(ALLCXXFLAGS)) $(NSS_CXXFLAGS) -DPAM_VENDOR_NSS_INDEX='"$(NSS_T_INDEX)"' \
	    -MMD -MP -c $< -o $@

$(NSS_T_PLAIN): $(NSS_T_PLAIN_OBJS) nss_vendor/nss_vendor.map
	@mkdir -p $(@D)
	$(CC) -shared -o $@ $(NSS_T_PLAIN_OBJS) $(LDHARDEN) $(LDFLAGS) -Wl,-soname,libnss_vendor.so.2 \
	    -Wl,--version-script=nss_vendor/nss_vendor.map -lpthread

# Static pattern rule: the top-level "$(B)/%.o: %.cc" compiles the objects.
$(NSS_T_BINS): $(NSS_T_DIR)/%: $(NSS_T_DIR)/%.o $(LIBCORE)
	$(CXX) -o $@ $< $(LIBCORE) $(NSS_LINK_FLAGS) $(PKG_LIBS) -lcmocka -ldl -lpthread

$(NSS_T_FUZZ_REPLAY): $(NSS_T_DIR)/fuzz_index.o $(NSS_T_DIR)/fuzz_replay.o
	$(CXX) -o $@ $^ $(NSS_LINK_FLAGS)

-include $(wildcard $(NSS_T_DIR)/*/*.d)

# The seed corpus of the index fuzz target is generated, then committed;
# regress-* files are crash inputs kept by hand: regenerating must keep them.
$(NSS_T_DIR)/gen_corpus: $(NSS_T_DIR)/gen_corpus.o $(LIBCORE)
	$(CXX) -o $@ $< $(LIBCORE) $(NSS_LINK_FLAGS) $(PKG_LIBS)

nss-corpus: $(NSS_T_DIR)/gen_corpus
	@mkdir -p tests/nss/corpus
	$(NSS_T_DIR)/gen_corpus tests/nss/corpus

# libFuzzer on the index reader: clang, ASan + UBSan, FUZZ_NSS_TIME seconds.
# New inputs go to a temporary directory; a crash is kept under
# $(NSS_T_DIR)/fuzz-artifacts/.
FUZZ_NSS_TIME ?= 60
NSS_FUZZER := $(NSS_T_DIR)/fuzz_index_libfuzzer
$(NSS_FUZZER): tests/nss/fuzz_index.cc common/state/nss_index.h
	@mkdir -p $(@D)
	clang++ -std=c++20 -g -O1 $(WARN) $(CORE_INC) -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
	    -o $@ tests/nss/fuzz_index.cc

fuzz-nss: $(NSS_FUZZER)
	@mkdir -p $(NSS_T_DIR)/fuzz-artifacts
	@work=$$(mktemp -d) && trap 'rm -rf "$$work"' EXIT && \
	$(NSS_FUZZER) -max_total_time=$(FUZZ_NSS_TIME) -max_len=65536 -print_final_stats=1 \
	    -artifact_prefix=$(NSS_T_DIR)/fuzz-artifacts/ "$$work" tests/nss/corpus

.PHONY: nss-corpus fuzz-nss

# make bench-nss: not a test. A bench copy of the module (plain build) with
# the production index path, which the benchmark serves from a tmpfs over
# /var/lib in its private mount namespace (tests/nss/bench_nss.cc);
# libnss-extrausers is installed when missing and we are root.
# BENCH_NSS_ARGS: --sizes 10,1000 --time 0.5 --strict (exit 1 on a miss).
NSS_B_INDEX := /var/lib/pam_vendor/nss/index
NSS_B_MOD   := $(NSS_T_DIR)/bench/lib/libnss_vendor.so.2
NSS_B_OBJS  := $(NSS_SRCS:nss_vendor/%.cc=$(NSS_T_DIR)/benchobj/%.o)
NSS_B_BIN   := $(NSS_T_DIR)/bench_nss
BENCH_NSS_ARGS ?=

$(NSS_B_OBJS): $(NSS_T_DIR)/benchobj/%.o: nss_vendor/%.cc tests/nss/nss.mk
	@mkdir -p $(@D)
	$(CXX) $(filter-out $(SANFLAGS),$(ALLCXXFLAGS)) $(NSS_CXXFLAGS) -DPAM_VENDOR_NSS_INDEX='"$(NSS_B_INDEX)"' \
	    -MMD -MP -c $< -o $@

$(NSS_B_MOD): $(NSS_B_OBJS) nss_vendor/nss_vendor.map
	@mkdir -p $(@D)
	$(CC) -shared -o $@ $(NSS_B_OBJS) $(LDHARDEN) $(LDFLAGS) -Wl,-soname,libnss_vendor.so.2 \
	    -Wl,--version-script=nss_vendor/nss_vendor.map -lpthread

$(NSS_B_BIN): $(NSS_T_DIR)/bench_nss.o $(LIBCORE)
	$(CXX) -o $@ $< $(LIBCORE) $(LDHARDEN) $(LDFLAGS) $(PKG_LIBS) -ldl

bench-nss-deps:
	@if ! dpkg-query -W -f='$${Status}\n' libnss-extrausers 2>/dev/null | grep -q 'ok installed'; then \
	    if [ "$$(id -u)" = 0 ]; then \
	        echo "installing: libnss-extrausers"; \
	        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
	            libnss-extrausers >/dev/null; \
	    else echo "note: libnss-extrausers not installed (needs root); that column stays empty"; fi; \
	fi

bench-nss: bench-nss-deps
	$(if $(SANFLAGS),$(error make bench-nss measures the plain build; unset SANFLAGS))
	@$(MAKE) --no-print-directory bench-nss-run

bench-nss-run: $(NSS_B_MOD) $(NSS_B_BIN)
	$(NSS_B_BIN) --module $(abspath $(NSS_B_MOD)) --index $(NSS_B_INDEX) $(BENCH_NSS_ARGS)

.PHONY: bench-nss bench-nss-deps bench-nss-run

NSS_T_ENV = NSS_TEST_ROOT=$(NSS_T_ROOT) NSS_TEST_MODULE=$(abspath $(NSS_T_MOD)) \
            NSS_TEST_PLAIN_MODULE=$(abspath $(NSS_T_PLAIN)) NSS_TEST_REAL_MODULE=$(abspath $(NSS_SO)) \
            NSS_TEST_MAP=$(abspath nss_vendor/nss_vendor.map) NSS_TEST_VENDORCTL=$(abspath $(VENDORCTL)) \
            NSS_TEST_PRELOAD=$(NSS_T_PRELOAD)
NSS_STRESS_REWRITES ?= 1000
NSS_STRESS_VENDORCTL ?= 100

nss: $(NSS_T_BINS) $(NSS_T_FUZZ_REPLAY) $(NSS_T_MOD) $(NSS_T_PLAIN) $(NSS_SO) $(VENDORCTL)
	@rm -f $(B)/results/nss.txt
	@for t in $(NSS_T_BINS); do \
	    n=$${t##*/test_}; \
	    $(NSS_T_ENV) NSS_STRESS_REWRITES=$(NSS_STRESS_REWRITES) NSS_STRESS_VENDORCTL=$(NSS_STRESS_VENDORCTL) \
	        tests/support/run_tap.sh $(B)/results/nss.txt $$n -- $$t; \
	done
	$(if $(NSS_T_FUZZ_REPLAY),@tests/support/run_tap.sh $(B)/results/nss.txt nss_fuzz -- $(NSS_T_FUZZ_REPLAY) tests/nss/corpus)

CHECK_SUITES += nss
.PHONY: nss
