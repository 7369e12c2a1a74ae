# CMocka unit tests of the pure core (and of its file/state helpers, in a
# private directory under /tmp). One binary per tests/unit/test_*.cc, linked
# with the core; `make unit` runs each one through run_tap.sh.
UNIT_SRCS := $(sort $(wildcard tests/unit/test_*.cc))
UNIT_BINS := $(UNIT_SRCS:tests/unit/%.cc=$(B)/tests/unit/%)

# Static pattern rule: a plain "$(B)/tests/unit/%" pattern would also match
# the objects and fight the top-level "$(B)/%.o: %.cc" rule.
$(UNIT_BINS): $(B)/tests/unit/%: $(B)/tests/unit/%.o $(LIBCORE)
	$(CXX) -o $@ $< $(LIBCORE) $(SANFLAGS) $(LDHARDEN) $(LDFLAGS) $(PKG_LIBS) -lcmocka

unit: $(UNIT_BINS)
	@for t in $(UNIT_BINS); do \
	    tests/support/run_tap.sh $(B)/results/unit.txt $${t##*/} -- $$t; \
	done

CHECK_SUITES += unit
.PHONY: unit
