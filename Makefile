# sqlite-kafka: `make` builds build/kafka.so; see README.md for the rest.
CC      ?= cc
PKGS    := sqlite3 rdkafka libcjson avro-c libcurl msgpack
CFLAGS  ?= -O2 -g
# The flags the code needs: `override` keeps them when CFLAGS (or LDFLAGS)
# is given on the command line, as in `make CFLAGS=-O0`.
override CFLAGS  += -std=c11 -Wall -Wextra -fPIC -D_POSIX_C_SOURCE=200809L -Iinclude
override LDFLAGS += -shared
BUILD   := build
# ext/ is layered (base, client, codec, table, catalog: a folder and one
# header in include/ each) under the entry point ext/kafka.c.
LAYERS  := base client codec table catalog
SRCS    := $(wildcard ext/*.c $(LAYERS:%=ext/%/*.c))
OBJS    := $(SRCS:ext/%.c=$(BUILD)/obj/%.o)
# The one C++ translation unit (ext/codec/protobuf.cc, libprotobuf and its .proto
# parser, libprotoc) behind a C header; the extension links as C++ for it.
CXXFLAGS ?= -O2 -g
override CXXFLAGS += -std=c++17 -Wall -Wextra -fPIC -Iinclude
CXX_PKGS := protobuf libcjson
CXX_LIBS  = $(shell pkg-config --libs $(CXX_PKGS)) -lprotoc
CXX_SRCS := $(wildcard $(LAYERS:%=ext/%/*.cc))
OBJS    += $(CXX_SRCS:ext/%.cc=$(BUILD)/obj/%.o)
HDRS    := $(wildcard include/*.h)
EXT     := $(BUILD)/kafka.so
# The release, in one place: the file VERSION (read by kafka_version(),
# kafka_debug(), setup.py and make deb).
VERSION := $(shell cat VERSION)

.PHONY: all deps test-deps deb demo test bench clean kafka-up kafka-down registry-up registry-down

all: $(EXT)

# Installs the Debian build packages when pkg-config cannot find them
# (DEPS=--build-check, as setup.py gives it: only names the missing ones).
DEPS ?= --build-only
deps:
	@pkg-config --exists $(PKGS) $(CXX_PKGS) 2>/dev/null || bash tests/deps.sh $(DEPS)

# What the tests and the tools need beyond the build (Java and Maven for the
# broker and the registry, kcat, clang, valgrind, ...; the Python venv
# build/venv): the targets that use them install them first, as `make test` does.
test-deps:
	@bash tests/deps.sh

$(BUILD)/obj/%.o: ext/%.c $(HDRS) | deps
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(VERSION_DEFS) $(shell pkg-config --cflags $(PKGS)) -c $< -o $@

$(BUILD)/obj/%.o: ext/%.cc $(HDRS) | deps
	@mkdir -p $(@D)
	$(CXX) $(CXXFLAGS) $(shell pkg-config --cflags $(CXX_PKGS)) -c $< -o $@

# What kafka_debug() tells about the build, compiled into ext/kafka.c alone:
# the version, the commit of this checkout (-dirty with uncommitted changes;
# "unknown" outside a git checkout of this very tree, as an unpacked sdist
# is), and the versions of the libraries pkg-config found. The stamp changes
# when they do, so a new commit recompiles ext/kafka.c only.
GIT_COMMIT = $(shell c=$$(git rev-parse --short=12 HEAD 2>/dev/null) && \
  [ "$$(git rev-parse --show-toplevel)" = "$(CURDIR)" ] && \
  { git diff --quiet HEAD && echo $$c || echo $$c-dirty; } || echo unknown)
BUILT_WITH = $(shell for p in $(sort $(PKGS) $(CXX_PKGS)); do \
  printf '%s %s, ' $$p "$$(pkg-config --modversion $$p)"; done | sed 's/, $$//')
VERSION_INFO = $(VERSION)|$(GIT_COMMIT)|$(BUILT_WITH)
VERSION_STAMP := $(BUILD)/version-info
$(VERSION_STAMP): FORCE | deps
	@mkdir -p $(@D)
	@echo '$(VERSION_INFO)' | cmp -s - $@ || echo '$(VERSION_INFO)' > $@
$(BUILD)/obj/kafka.o: $(VERSION_STAMP)
$(BUILD)/obj/kafka.o: VERSION_DEFS = -DKAFKA_EXT_VERSION='"$(VERSION)"' \
  -DKAFKA_GIT_COMMIT='"$(GIT_COMMIT)"' -DKAFKA_BUILT_WITH='"$(BUILT_WITH)"'

$(EXT): $(OBJS)
	$(CXX) $(LDFLAGS) -o $@ $(OBJS) $(shell pkg-config --libs $(PKGS)) $(CXX_LIBS) -lm -lpthread

# tests/protobuf_unit.c: a driver of ext/codec/protobuf.cc for tests/test_protobuf_unit.py.
$(BUILD)/protobuf_unit: tests/protobuf_unit.c $(BUILD)/obj/codec/protobuf.o include/protobuf.h | deps
	$(CC) $(CFLAGS) -c $< -o $@.o
	$(CXX) $(CXXFLAGS) -o $@ $@.o $(BUILD)/obj/codec/protobuf.o $(CXX_LIBS) -lpthread

demo: $(EXT)
	@command -v sqlite3 >/dev/null || bash tests/deps.sh --build-only
	sqlite3 -bail :memory: < sql/demo.sql

# TEST_ARGS: arguments of tests/run.py (e.g. -k NAME, --exclude NAME).
test: $(EXT)
	$(SANITIZE_ENV) bash tests/run-all.sh $(TEST_ARGS)

# make bench [N=messages]: the extension against kcat and plain librdkafka
# programs on the real broker (KAFKA_PORT); the table goes to build/bench/.
BENCH_TOOLS := $(BUILD)/bench/produce $(BUILD)/bench/consume

$(BUILD)/bench/%: tests/bench/%.c | deps
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(shell pkg-config --cflags rdkafka) $< -o $@ $(shell pkg-config --libs rdkafka)

bench: $(EXT) $(BENCH_TOOLS) | test-deps
	bash tests/broker/kafka.sh up
	bash tests/registry/apicurio.sh up
	/usr/bin/python3 tests/bench/bench.py $(if $(N),--n $(N))

kafka-up: | test-deps
	bash tests/broker/kafka.sh up

kafka-down:
	bash tests/broker/kafka.sh down

# A Schema Registry (Apicurio, Confluent API) on REGISTRY_PORT (default 8081).
registry-up: | test-deps
	bash tests/registry/apicurio.sh up

registry-down:
	bash tests/registry/apicurio.sh down

clean:
	rm -rf $(BUILD)/obj $(EXT) $(VERSION_STAMP) $(DEB_DIR) $(BUILD)/sqlite-kafka_*.deb $(BUILD)/python \
	  sqlite_kafka.egg-info

# Installs the loadable where sqlite3 users keep extensions (as Debian's
# sqlite3-pcre does, /usr/lib/sqlite3/pcre.so): then, in the shell,
#   .load /usr/local/lib/sqlite3/kafka
# PREFIX (default /usr/local) and DESTDIR (staging root) as usual.
PREFIX  ?= /usr/local
LIBDIR  ?= $(PREFIX)/lib/sqlite3
.PHONY: install
install: $(EXT)
	install -d $(DESTDIR)$(LIBDIR)
	install -m 755 $(EXT) $(DESTDIR)$(LIBDIR)/kafka.so

# make deb: build/sqlite-kafka_<VERSION>_<arch>.deb, installing the loadable
# as /usr/lib/sqlite3/kafka.so (`.load /usr/lib/sqlite3/kafka`). Depends:
# what dpkg-shlibdeps finds the .so links (librdkafka1, libcjson1, ...),
# and libsqlite3-0, which it need not link (SQLite hands a loadable its API)
# but needs to run in, at the oldest version it loads into. DEB_DIR is laid
# out as debhelper would (debian/control, debian/<package>/) so that
# dpkg-shlibdeps reads it as a package being built.
DEB_ARCH       = $(shell dpkg --print-architecture)
DEB            = $(BUILD)/sqlite-kafka_$(VERSION)_$(DEB_ARCH).deb
DEB_DIR       := $(BUILD)/deb
DEB_ROOT      := $(DEB_DIR)/debian/sqlite-kafka
# The oldest SQLite the extension loads into, from include/base.h.
MIN_SQLITE     = $(shell sed -n 's/^.define KAFKA_MIN_SQLITE "\(.*\)"/\1/p' include/base.h)
DEB_MAINTAINER ?= sqlite-kafka developers <sqlite-kafka@users.noreply.github.com>
deb: $(EXT)
	@command -v dpkg-shlibdeps >/dev/null || bash tests/deps.sh --build-only
	rm -rf $(DEB_DIR)
	$(MAKE) --no-print-directory install DESTDIR=$(DEB_ROOT) PREFIX=/usr
	strip --strip-unneeded --remove-section=.comment $(DEB_ROOT)/usr/lib/sqlite3/kafka.so
	chmod 644 $(DEB_ROOT)/usr/lib/sqlite3/kafka.so
	install -D -m 644 LICENSE $(DEB_ROOT)/usr/share/doc/sqlite-kafka/copyright
	gzip -9n <CHANGELOG.md >$(DEB_ROOT)/usr/share/doc/sqlite-kafka/changelog.gz
	printf 'Source: sqlite-kafka\n\nPackage: sqlite-kafka\nArchitecture: any\n' >$(DEB_DIR)/debian/control
	cd $(DEB_DIR) && dpkg-shlibdeps -O -xlibsqlite3-0 debian/sqlite-kafka/usr/lib/sqlite3/kafka.so >shlibs
	mkdir -p $(DEB_ROOT)/DEBIAN
	{ echo 'Package: sqlite-kafka'; echo 'Version: $(VERSION)'; echo 'Architecture: $(DEB_ARCH)'; \
	  echo 'Maintainer: $(DEB_MAINTAINER)'; \
	  echo "Installed-Size: $$(du -sk $(DEB_ROOT)/usr | cut -f1)"; \
	  echo "Depends: libsqlite3-0 (>= $(MIN_SQLITE)), $$(sed -n 's/^shlibs:Depends=//p' $(DEB_DIR)/shlibs)"; \
	  echo 'Recommends: sqlite3'; echo 'Section: database'; echo 'Priority: optional'; \
	  echo 'Description: Apache Kafka topics as SQLite tables (a loadable extension)'; \
	  echo ' Load it in the sqlite3 shell with .load /usr/lib/sqlite3/kafka: a SELECT'; \
	  echo ' reads a topic, an INSERT produces to it; consumer groups, the cluster'; \
	  echo ' catalog and Schema Registry formats (Avro, JSON Schema, Protobuf).'; \
	} >$(DEB_ROOT)/DEBIAN/control
	cd $(DEB_ROOT) && find usr -type f -exec md5sum {} + >DEBIAN/md5sums
	dpkg-deb --root-owner-group --build $(DEB_ROOT) $(DEB)

# SANITIZE=1 (e.g. `make test SANITIZE=1`): the extension built with
# AddressSanitizer and UndefinedBehaviorSanitizer. It runs inside Python or
# the sqlite3 shell, which are not built with them, so the runtimes are
# preloaded into every process of the test run (the broker's JVM and kcat
# run fine with them) and leak checking is off: it would report Python's
# own allocations. Leaks are valgrind's job (make valgrind). Switching
# SANITIZE rebuilds everything: build/cflags records the flags.
ifeq ($(SANITIZE),1)
SAN_FLAGS    := -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
override CFLAGS   += $(SAN_FLAGS)
override CXXFLAGS += $(SAN_FLAGS)
override LDFLAGS  += $(SAN_FLAGS)
SAN_RUNTIMES := $(shell $(CC) -print-file-name=libasan.so) $(shell $(CC) -print-file-name=libubsan.so)
SANITIZE_ENV := LD_PRELOAD="$(SAN_RUNTIMES)" \
  ASAN_OPTIONS=detect_leaks=0:abort_on_error=1:allow_user_segv_handler=1:verify_asan_link_order=0 \
  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
endif

FLAGS_STAMP := $(BUILD)/cflags
$(OBJS): $(FLAGS_STAMP)
$(FLAGS_STAMP): FORCE
	@mkdir -p $(@D)
	@echo '$(CC) $(CFLAGS) $(CXXFLAGS) $(LDFLAGS)' | cmp -s - $@ || echo '$(CC) $(CFLAGS) $(CXXFLAGS) $(LDFLAGS)' > $@
.PHONY: FORCE

# make fuzz [FUZZ_SECONDS=30]: the libFuzzer targets of tests/fuzz/ (option
# parsing, headers JSON, value decoding, Avro and Protobuf payloads, the
# Avro and Protobuf encoders from JSON and from typed columns, URLs in
# errors), built
# with clang and the address and undefined-behaviour sanitizers, each run
# for FUZZ_SECONDS from its
# corpus in tests/fuzz/corpus/<target>/ (new inputs go to build/fuzz/, the
# committed corpus is only read). Any crash or failed check fails the run
# and leaves the input in build/fuzz/<target>-crash-*.
FUZZ_SECONDS ?= 30
FUZZ_TARGETS := options headers value avro protobuf encode url
FUZZ_CXX     ?= clang++
FUZZ_BINS    := $(FUZZ_TARGETS:%=$(BUILD)/fuzz/fuzz_%)
.PHONY: fuzz
FUZZ_SRCS    := ext/base/options.c ext/base/config_file.c ext/base/format.c ext/base/jsontext.c ext/codec/avro.c \
  ext/codec/jsonschema.c ext/codec/codec.c ext/codec/fields.c ext/codec/protobuf_codec.c ext/codec/msgpack.c
FUZZ_SAN     := -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
# The C sources are compiled as C (-x c) by the C++ driver, which links the
# C++ of ext/codec/protobuf.cc (built alone, as C++) with its runtimes.
$(BUILD)/fuzz/protobuf.o: ext/codec/protobuf.cc include/protobuf.h | test-deps
	@mkdir -p $(@D)
	$(FUZZ_CXX) -g -O1 -std=c++17 -Wall -Wextra -Werror -Iinclude $(shell pkg-config --cflags $(CXX_PKGS)) \
	  $(FUZZ_SAN) -c $< -o $@
$(BUILD)/fuzz/fuzz_%: tests/fuzz/fuzz_%.c $(FUZZ_SRCS) $(BUILD)/fuzz/protobuf.o $(HDRS) | test-deps
	@mkdir -p $(@D)
	$(FUZZ_CXX) -g -O1 -x c -std=c11 -Wall -Wextra -Werror -D_GNU_SOURCE -DSQLITE_CORE -Iinclude \
	  $(shell pkg-config --cflags $(PKGS)) $(FUZZ_SAN) $< $(FUZZ_SRCS) -x none $(BUILD)/fuzz/protobuf.o \
	  -o $@ $(shell pkg-config --libs $(PKGS)) $(CXX_LIBS) -lm

fuzz: $(FUZZ_BINS)
	@for t in $(FUZZ_TARGETS); do \
	  mkdir -p $(BUILD)/fuzz/corpus/$$t; \
	  echo "fuzz_$$t: $(FUZZ_SECONDS)s"; \
	  $(BUILD)/fuzz/fuzz_$$t -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 \
	    -artifact_prefix=$(BUILD)/fuzz/$$t- $(BUILD)/fuzz/corpus/$$t tests/fuzz/corpus/$$t \
	    > $(BUILD)/fuzz/$$t.log 2>&1 || { tail -40 $(BUILD)/fuzz/$$t.log; exit 1; }; \
	  grep -E '^stat::number_of_executed_units|^Done' $(BUILD)/fuzz/$$t.log; \
	done

# make valgrind: the demo and a SQL suite (tests/valgrind/suite.sql) through
# the sqlite3 shell under valgrind memcheck, on the mock cluster; fails on
# invalid accesses and definite leaks. Reports go to build/valgrind/.
.PHONY: valgrind
valgrind: $(EXT) | test-deps
	bash tests/valgrind/run.sh
