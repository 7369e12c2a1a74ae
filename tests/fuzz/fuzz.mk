# Fuzzing: one libFuzzer target per parser (tests/fuzz/fuzz_*.cc).
#
#   make fuzz                  build with clang++ in build-fuzz/ and run each
#                              target FUZZ_TIME seconds (default 20) from its
#                              seed corpus; new inputs go to build-fuzz/corpus/,
#                              crashes to build-fuzz/artifacts/
#   make fuzz FUZZ_TARGETS=parse_cidr FUZZ_TIME=600
#   make fuzz-replay           (part of make check) the seed corpora replayed
#                              through the same targets built with $(CXX) and
#                              the check sanitizers, one TAP test per target
FUZZ_TARGETS ?= $(patsubst tests/fuzz/fuzz_%.cc,%,$(sort $(wildcard tests/fuzz/fuzz_*.cc)))
FUZZ_TIME    ?= 20
FUZZ_CXX     ?= clang++
# The core is rebuilt with clang and coverage instrumentation in build-fuzz/.
# clang's -Wconversion also means -Wsign-conversion, which the project's gcc
# warning set does not: not an error in this test-only build.
FUZZ_SANFLAGS := -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer

FUZZ_BINS        = $(FUZZ_TARGETS:%=$(B)/tests/fuzz/fuzz_%)
FUZZ_REPLAY_BINS = $(FUZZ_TARGETS:%=$(B)/tests/fuzz/replay_%)

# libFuzzer binaries (only meaningful in the B=build-fuzz sub-make below).
$(FUZZ_BINS): $(B)/tests/fuzz/fuzz_%: $(B)/tests/fuzz/fuzz_%.o $(LIBCORE)
	$(CXX) -fsanitize=fuzzer,address,undefined -o $@ $< $(LIBCORE) $(LDFLAGS) $(PKG_LIBS)

fuzz-build: $(FUZZ_BINS)

fuzz:
	$(MAKE) --no-print-directory B=build-fuzz CXX=$(FUZZ_CXX) SANFLAGS="$(FUZZ_SANFLAGS)" \
	    CXXFLAGS="-O1 -g -Wno-sign-conversion" FUZZ_TARGETS="$(FUZZ_TARGETS)" fuzz-build
	@mkdir -p build-fuzz/artifacts
	@set -e; for t in $(FUZZ_TARGETS); do \
	    mkdir -p build-fuzz/corpus/$$t; \
	    echo "== fuzz $$t ($(FUZZ_TIME)s)"; \
	    build-fuzz/tests/fuzz/fuzz_$$t -max_total_time=$(FUZZ_TIME) -timeout=10 -rss_limit_mb=2048 \
	        -print_final_stats=1 -artifact_prefix=build-fuzz/artifacts/$$t- \
	        build-fuzz/corpus/$$t tests/fuzz/corpus/$$t 2>&1 | grep -E '^(#[0-9]+ +DONE|Done|stat::number_of_executed_units|==[0-9]+==|SUMMARY|fuzz invariant|artifact_prefix)' || true; \
	    if ls build-fuzz/artifacts/$$t-* >/dev/null 2>&1; then echo "crash in $$t: build-fuzz/artifacts/$$t-*"; exit 1; fi; \
	done

# Corpus replay under the check build (g++, ASan/UBSan).
$(FUZZ_REPLAY_BINS): $(B)/tests/fuzz/replay_%: $(B)/tests/fuzz/fuzz_%.o $(B)/tests/fuzz/replay_main.o $(LIBCORE)
	$(CXX) -o $@ $(filter %.o,$^) $(LIBCORE) $(SANFLAGS) $(LDHARDEN) $(LDFLAGS) $(PKG_LIBS)

fuzz-replay: $(FUZZ_REPLAY_BINS)
	@tests/support/run_tap.sh $(B)/results/fuzz-replay.txt fuzz-replay -- \
	    tests/fuzz/replay.sh $(B)/tests/fuzz tests/fuzz/corpus $(FUZZ_TARGETS)

CHECK_SUITES += fuzz-replay
.PHONY: fuzz fuzz-build fuzz-replay
