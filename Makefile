# pam_vendor — non-recursive GNU make.
#   make            build common/, pam_vendor.so, vendorctl
#   make check      unit + PAM-stack tests under ASan/UBSan (installs test deps as root)
#   make lint       clang-format check, clang-tidy, cppcheck, man-page coverage
#   make bench      PAM transaction benchmark against peer stacks
#   make install DESTDIR=... PREFIX=/usr
SHELL := /bin/bash
.DEFAULT_GOAL := all

PREFIX     ?= /usr/local
SBINDIR    ?= $(PREFIX)/sbin
MANDIR     ?= $(PREFIX)/share/man
MULTIARCH  ?= $(shell dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || gcc -print-multiarch)
NSSDIR     ?= $(if $(filter /usr,$(PREFIX)),/usr/lib/$(MULTIARCH),$(PREFIX)/lib)
PAMDIR     ?= $(if $(filter /usr,$(PREFIX)),/usr/lib/$(MULTIARCH)/security,$(PREFIX)/lib/security)

VERSION    := 0.1.0
B          ?= build
CXX        ?= g++
CC         ?= gcc
PKGS       := json-c libsodium liboath
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)

WARN     := -Wall -Wextra -Wshadow -Wconversion -Wformat=2 -Werror
HARDEN   := -D_FORTIFY_SOURCE=2 -fstack-protector-strong -fstack-clash-protection
CXXFLAGS ?= -O2 -g
ALLCXXFLAGS = -std=c++20 -DPAM_VENDOR_VERSION=\"$(VERSION)\" $(WARN) -fPIC -fvisibility=hidden -fvisibility-inlines-hidden \
              $(HARDEN) $(CORE_INC) $(PKG_CFLAGS) $(CXXFLAGS) $(SANFLAGS)
LDHARDEN := -Wl,-z,defs,-z,relro,-z,now
LDFLAGS  ?=

# The core, by layer (README, ARCHITECTURE): base <- logic <- os <- state,
# audit <- services. Includes stay flat ("files.h"); tests/lint/layers.sh
# enforces that a layer includes nothing from the layers above it.
CORE_LAYERS := base logic os state audit services
CORE_INC    := $(addprefix -Icommon/,$(CORE_LAYERS))
COMMON_SRCS := $(sort $(wildcard $(addsuffix /*.cc,$(addprefix common/,$(CORE_LAYERS)))))
COMMON_OBJS := $(COMMON_SRCS:%.cc=$(B)/%.o)
LIBCORE     := $(B)/common/libvendorcore.a

PAM_SRCS := $(sort $(wildcard pam_vendor/*.cc))
PAM_OBJS := $(PAM_SRCS:%.cc=$(B)/%.o)
PAM_SO   := $(B)/pam_vendor/pam_vendor.so

CTL_SRCS := $(sort $(wildcard vendorctl/*.cc))
CTL_OBJS := $(CTL_SRCS:%.cc=$(B)/%.o)
VENDORCTL := $(B)/vendorctl/vendorctl

# The NSS module: no C++ runtime, no exceptions, no json-c/curl (it lives in
# every process that resolves a user). Linked with the C driver.
NSS_SRCS := $(sort $(wildcard nss_vendor/*.cc))
NSS_OBJS := $(NSS_SRCS:%.cc=$(B)/%.o)
NSS_SO   := $(B)/nss_vendor/libnss_vendor.so.2
NSS_CXXFLAGS = -fno-exceptions -fno-rtti -fno-threadsafe-statics

$(B)/nss_vendor/%.o: nss_vendor/%.cc
	@mkdir -p $(@D)
	$(CXX) $(ALLCXXFLAGS) $(NSS_CXXFLAGS) $(NSS_DEFS) -MMD -MP -c $< -o $@

$(NSS_SO): $(NSS_OBJS) nss_vendor/nss_vendor.map
	$(CC) -shared -o $@ $(NSS_OBJS) $(SANFLAGS) $(LDHARDEN) $(LDFLAGS) -Wl,-soname,libnss_vendor.so.2 \
	    -Wl,--version-script=nss_vendor/nss_vendor.map -lpthread

all: $(PAM_SO) $(VENDORCTL) $(NSS_SO)

$(B)/%.o: %.cc
	@mkdir -p $(@D)
	$(CXX) $(ALLCXXFLAGS) -MMD -MP -c $< -o $@

$(LIBCORE): $(COMMON_OBJS)
	@rm -f $@
	ar rcs $@ $^

# The module: the core + an explicit export list (pam_vendor/pam_vendor.map),
# nothing heavy: no libcurl. libstdc++ is linked in statically (its symbols
# stay hidden behind the version script): loading the shared libstdc++ into
# every PAM application cost ~2.4 ms per login in `make bench`. Sanitizer
# builds keep it shared, so ASan sees every allocation.
PAM_STATIC_RT = $(if $(SANFLAGS),,-static-libstdc++ -static-libgcc)
# What libpam's dlopen of the module costs in each fresh sshd process (issue 9
# §7, `make bench` prints the breakdown): --gc-sections drops the unreached
# sections (a fifth of the text, ~170 relocations, mostly static libstdc++);
# --as-needed records only the libraries a symbol is taken from (the g++
# driver adds libm, which nothing uses since json.cc stopped using the
# floating-point std::from_chars). Not in LDFLAGS, which debian/rules sets.
PAM_LOAD_LDFLAGS := -Wl,--gc-sections -Wl,--as-needed
# One section per function and data object, so that --gc-sections can drop
# them one by one. Not in CXXFLAGS, which debian/rules sets.
ALLCXXFLAGS += -ffunction-sections -fdata-sections

$(PAM_SO): $(PAM_OBJS) $(LIBCORE) pam_vendor/pam_vendor.map
	$(CXX) -shared -o $@ $(PAM_OBJS) $(LIBCORE) $(SANFLAGS) $(PAM_STATIC_RT) $(LDHARDEN) $(LDFLAGS) \
	    $(PAM_LOAD_LDFLAGS) -Wl,--version-script=pam_vendor/pam_vendor.map $(PKG_LIBS) -lpam

$(VENDORCTL): $(CTL_OBJS) $(LIBCORE)
	$(CXX) -pie -o $@ $(CTL_OBJS) $(LIBCORE) $(SANFLAGS) $(LDHARDEN) $(LDFLAGS) $(PKG_LIBS)

-include $(wildcard $(B)/*/*.d $(B)/common/*/*.d $(B)/tests/*/*.d)

install: all
	install -d $(DESTDIR)$(PAMDIR) $(DESTDIR)$(SBINDIR) $(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(MANDIR)/man8
	install -m 0644 $(PAM_SO) $(DESTDIR)$(PAMDIR)/pam_vendor.so
	install -d $(DESTDIR)$(NSSDIR)
	install -m 0644 $(NSS_SO) $(DESTDIR)$(NSSDIR)/libnss_vendor.so.2
	install -m 0755 $(VENDORCTL) $(DESTDIR)$(SBINDIR)/vendorctl
	install -d $(DESTDIR)$(PREFIX)/share/bash-completion/completions
	install -m 0644 vendorctl/vendorctl.bash-completion $(DESTDIR)$(PREFIX)/share/bash-completion/completions/vendorctl
	install -m 0644 man/*.5 $(DESTDIR)$(MANDIR)/man5/
	install -m 0644 man/*.8 $(DESTDIR)$(MANDIR)/man8/

clean:
	rm -rf build build-*

-include tests/tests.mk

# Debian packages (debian/): binary only, unsigned, hardening=+all, then lintian.
deb:
	rm -rf build/deb
	dpkg-buildpackage -us -uc -b
	mkdir -p build/deb && mv ../libpam-vendor*_$(VERSION)_* ../libnss-vendor*_$(VERSION)_* ../vendorctl*_$(VERSION)_* ../pam-vendor_$(VERSION)_* build/deb/
	lintian --fail-on error,warning --info build/deb/*.changes

.PHONY: all install clean deb
