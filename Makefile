# SHMemora — build, test, demo, install.
#
#   make                 library (static + shared), the shmemora command, tests -> build/
#   make test            installs missing build deps, builds, runs every test
#   make demo            installs missing build deps, builds, runs the demo
#   make check-sanitize  the test suite under ASan+UBSan (build/asan/)
#   make build-model     the cache model build (build-model/, docs/coherence.md)
#   make check-flush     the suite under the cache model, then the mutation check
#   make man             man pages from --help (help2man) -> build/man/
#   make install PREFIX=/usr/local
#
# SAN=address|thread builds an instrumented tree (BUILD defaults to build/<san>).
# MODEL=1 builds the cache model tree (BUILD defaults to build-model).
# BUILD=.../address or .../thread alone implies its SAN, so that a test that
# runs make on the tree it was given (make man, make install) never relinks
# an instrumented tree without its instrumentation.

CC      ?= cc
ifeq ($(origin SAN),undefined)
ifneq ($(filter %/address %/address/,$(BUILD)),)
SAN := address
else ifneq ($(filter %/thread %/thread/,$(BUILD)),)
SAN := thread
endif
endif
SAN     ?=
MODEL   ?=
BUILD   ?= build$(if $(SAN),/$(SAN))$(if $(MODEL),-model)
PREFIX  ?= /usr/local
LIBDIR  ?= $(PREFIX)/lib
INCDIR  ?= $(PREFIX)/include
BINDIR  ?= $(PREFIX)/bin
MANDIR  ?= $(PREFIX)/share/man
COMPLETIONDIR ?= $(PREFIX)/share/bash-completion/completions

OPT      ?= -O2 -g
WARN     := -Wall -Wextra -Wshadow -Wformat=2 -Wundef -Wstrict-prototypes
SANFLAGS_address := -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer \
	-DSHMEMORA_BOUNDS_CHECK
SANFLAGS_thread  := -fsanitize=thread -fno-omit-frame-pointer
SANFLAGS := $(SANFLAGS_$(SAN))
MODELFLAGS := $(if $(MODEL),-DSHMEMORA_CACHE_MODEL)
DEP_CFLAGS := $(shell pkg-config --cflags libcrypto libxxhash libseccomp 2>/dev/null)
DEP_LIBS   := $(shell pkg-config --libs libcrypto libxxhash libseccomp 2>/dev/null || \
		echo -lcrypto -lxxhash -lseccomp) -lnuma -lpthread
CFLAGS   += -std=c11 -D_GNU_SOURCE $(OPT) $(WARN) $(SANFLAGS) $(MODELFLAGS) $(DEP_CFLAGS) -Iinclude -Isrc
LIB_CFLAGS := -fPIC -fvisibility=hidden
LDFLAGS  += $(SANFLAGS)

LIB_SRC := $(wildcard src/*.c)
LIB_OBJ := $(patsubst src/%.c,$(BUILD)/obj/%.o,$(LIB_SRC))
TEST_DIRS := tests/unit tests/multiproc tests/badinput tests/attack tests/crash tests/tamper
TEST_SRC := $(wildcard $(addsuffix /test_*.c,$(TEST_DIRS)))
TEST_BIN := $(patsubst %.c,$(BUILD)/tests/%,$(notdir $(TEST_SRC)))
TOOL_SRC := $(wildcard tools/*.c)

.PHONY: build-model check-flush model-tests man verify fuzz fuzz-quick stress vmtest all lib tools tests examples bench test demo check-sanitize install uninstall clean deps

all: lib tools tests examples bench

lib: $(BUILD)/libshmemora.a $(BUILD)/libshmemora.so
tools: $(BUILD)/shmemora
tests: $(TEST_BIN) $(BUILD)/vm/vm_worker
bench: $(BUILD)/bench-protect $(BUILD)/kv $(BUILD)/kv-unprotected
examples: $(patsubst examples/%.c,$(BUILD)/examples/%,$(wildcard examples/*.c))

# Examples use the public header and the static library only, as users do.
$(BUILD)/examples/%: examples/%.c include/shmemora.h $(BUILD)/libshmemora.a
	@mkdir -p $(dir $@)
	$(CC) -std=c11 $(OPT) $(WARN) $(SANFLAGS) -Iinclude -o $@ $< $(BUILD)/libshmemora.a $(LDFLAGS) $(DEP_LIBS)

$(BUILD)/obj/%.o: src/%.c $(wildcard src/*.h) include/shmemora.h | $(BUILD)/obj
	$(CC) $(CFLAGS) $(LIB_CFLAGS) -c $< -o $@

# The archive is prelinked into one object whose hidden symbols are made
# local, so only shmemora_* leaves the static library too.
$(BUILD)/libshmemora.a: $(LIB_OBJ)
	rm -f $@
	$(LD) -r -o $(BUILD)/libshmemora-prelinked.o $^
	objcopy --localize-hidden $(BUILD)/libshmemora-prelinked.o
	ar rcs $@ $(BUILD)/libshmemora-prelinked.o

$(BUILD)/libshmemora.so: $(LIB_OBJ) src/libshmemora.map
	$(CC) -shared -Wl,-soname,libshmemora.so.0 -Wl,--version-script=src/libshmemora.map \
		$(LDFLAGS) -o $@ $(LIB_OBJ) $(DEP_LIBS)

$(BUILD)/shmemora: $(TOOL_SRC) $(wildcard tools/*.h) $(BUILD)/libshmemora.a
	$(CC) $(CFLAGS) -o $@ $(TOOL_SRC) $(BUILD)/libshmemora.a $(LDFLAGS) $(DEP_LIBS)

# Tests link the library's objects so they can reach internal modules too.
vpath %.c $(TEST_DIRS)
$(BUILD)/tests/%: %.c tests/testutil.h $(LIB_OBJ) | $(BUILD)/tests
	$(CC) $(CFLAGS) -Itests -o $@ $< $(LIB_OBJ) $(LDFLAGS) $(DEP_LIBS) -lcmocka

# bench-protect reaches the pool mapping for its unprotected baseline.
$(BUILD)/bench-protect: bench/bench_protect.c bench/measure.c bench/measure.h $(LIB_OBJ)
	$(CC) $(CFLAGS) -Ibench -o $@ bench/bench_protect.c bench/measure.c $(LIB_OBJ) $(LDFLAGS) $(DEP_LIBS)

# The unprotected baseline: the same library sources, with protection
# compiled out (-DSHMEMORA_UNPROTECTED), for the benchmark only.  Never
# installed.
UNPROT_OBJ := $(patsubst src/%.c,$(BUILD)/unprotected/%.o,$(LIB_SRC))
$(BUILD)/unprotected/%.o: src/%.c $(wildcard src/*.h) include/shmemora.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -DSHMEMORA_UNPROTECTED -c $< -o $@

# build/kv: the YCSB benchmark with its peers, and its micro mode;
# kv-unprotected is the same program on the unprotected library (--compare
# runs it).
KV_SRC := bench/kv.c bench/plan.c bench/run.c bench/worker.c bench/micro.c bench/twin.c \
	bench/report.c bench/plot.c bench/measure.c bench/cleanup.c bench/ycsb.c \
	bench/ycsb_trace.c bench/server.c bench/store_shmemora.c bench/store_lmdb.c \
	bench/store_redis.c bench/store_memcached.c
KV_LIBS := -llmdb -lhiredis -lmemcached -lm
$(BUILD)/kv: $(KV_SRC) $(wildcard bench/*.h) $(LIB_OBJ)
	$(CC) $(CFLAGS) -Ibench -o $@ $(KV_SRC) $(LIB_OBJ) $(LDFLAGS) $(DEP_LIBS) $(KV_LIBS)

$(BUILD)/kv-unprotected: $(KV_SRC) $(wildcard bench/*.h) $(UNPROT_OBJ)
	$(CC) $(CFLAGS) -DSHMEMORA_UNPROTECTED -Ibench -o $@ $(KV_SRC) $(UNPROT_OBJ) $(LDFLAGS) \
		$(DEP_LIBS) $(KV_LIBS)

# The trace reader is benchmark code (bench/); its test links it too.
$(BUILD)/tests/test_trace: tests/unit/test_trace.c bench/ycsb_trace.c bench/ycsb_trace.h tests/testutil.h $(LIB_OBJ) | $(BUILD)/tests
	$(CC) $(CFLAGS) -Itests -Ibench -o $@ $< bench/ycsb_trace.c $(LIB_OBJ) $(LDFLAGS) $(DEP_LIBS) -lcmocka

$(BUILD)/tests/test_ycsb: tests/unit/test_ycsb.c bench/ycsb.c bench/ycsb.h tests/testutil.h $(LIB_OBJ) | $(BUILD)/tests
	$(CC) $(CFLAGS) -Itests -Ibench -o $@ $< bench/ycsb.c $(LIB_OBJ) $(LDFLAGS) $(DEP_LIBS) -lcmocka -lm

$(BUILD)/obj $(BUILD)/tests:
	mkdir -p $@

# The VM tests' workload: runs in the guests (packed into their initramfs
# with its shared libraries) and as host processes here.
$(BUILD)/vm/vm_worker: tests/vm/vm_worker.c include/shmemora.h $(BUILD)/libshmemora.a
	@mkdir -p $(dir $@)
	$(CC) -std=c11 -D_GNU_SOURCE $(OPT) $(WARN) $(SANFLAGS) -Iinclude -o $@ $< \
		$(BUILD)/libshmemora.a $(LDFLAGS) $(DEP_LIBS)

# Hosts with their own kernels: QEMU guests sharing one device-DAX pool
# (the long form; make test runs the quick one).  scripts/vm-deps.sh
# fetches QEMU, busybox and the generic kernel package into build/vm.
vmtest: deps
	$(MAKE) all
	scripts/vm-deps.sh build
	SHMEMORA_VM_FORM=long tests/run-tests.sh $(BUILD) test_vm

deps:
	@scripts/install-deps.sh

# Man pages, written by help2man from each program's --help (shmemora(1)
# also holds every subcommand's --help: man/shmemora-h2m.sh).  help2man is
# installed by scripts/install-deps.sh.
HELP2MAN ?= help2man
VERSION := $(shell sed -nE 's/^\#define SHMEMORA_VERSION_(MAJOR|MINOR|PATCH) ([0-9]+)/\2/p' \
	include/shmemora.h | paste -sd.)
MAN_PAGES := $(BUILD)/man/shmemora.1 $(BUILD)/man/kv.1
man: $(MAN_PAGES)

$(BUILD)/man/shmemora.1: $(BUILD)/shmemora man/shmemora-h2m.sh
	@mkdir -p $(dir $@)
	man/shmemora-h2m.sh $(BUILD)/shmemora > $(BUILD)/man/shmemora.h2m
	$(HELP2MAN) --no-info --name="administer SHMemora pools: keys, tokens, namespaces, dumps" \
		--include=$(BUILD)/man/shmemora.h2m --output=$@ $(BUILD)/shmemora

$(BUILD)/man/kv.1: $(BUILD)/kv man/kv man/kv.h2m
	@mkdir -p $(dir $@)
	KV=$(abspath $(BUILD)/kv) $(HELP2MAN) --no-info --version-string=$(VERSION) \
		--name="the SHMemora YCSB benchmark" --include=man/kv.h2m --output=$@ man/kv

test: deps
	$(MAKE) all
	tests/run-tests.sh $(BUILD)

demo: deps
	$(MAKE) all
	scripts/demo.sh $(BUILD)

# ASan+UBSan over the whole suite, then TSan over the tests that race
# (host slots claimed by several processes, tokens revoked under threads).
TSAN_TESTS := test_hosts test_attack test_kv_model test_kv_hosts test_alloc_stress
check-sanitize: deps
	$(MAKE) SAN=address all
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1 \
		tests/run-tests.sh build/address
	$(MAKE) SAN=thread $(addprefix build/thread/tests/,$(TSAN_TESTS))
	TSAN_OPTIONS=halt_on_error=1:die_after_fork=0 SHMEMORA_SPACE_OPS=200000 SHMEMORA_TEST_SECONDS=3 \
		tests/run-tests.sh build/thread $(TSAN_TESTS)

# The cache model build (docs/coherence.md): the library, the command and
# the tests compiled with -DSHMEMORA_CACHE_MODEL into build-model/, where
# every attached handle is a host with its own modelled cache, plus the
# model's own test (tests/flush/).  A production build contains none of it.
build-model:
	$(MAKE) MODEL=1 lib tools tests model-tests

model-tests: $(BUILD)/tests/test_flush
$(BUILD)/tests/test_flush: tests/flush/test_flush.c tests/testutil.h $(LIB_OBJ) | $(BUILD)/tests
	$(CC) $(CFLAGS) -Itests -o $@ $< $(LIB_OBJ) $(LDFLAGS) $(DEP_LIBS) -lcmocka

# The suite under the cache model, then the mutation check: every write-back
# and invalidate call site in src/ removed in turn must make it fail.
# FLUSH_FORM=long (default here) runs the whole model suite on each mutant;
# make test runs the quick form (tests/cli/test_flush_model.sh).
FLUSH_FORM ?= long
check-flush: deps
	$(MAKE) build-model
	scripts/check-flush.sh $(FLUSH_FORM) build-model

# Fuzzing (clang's libFuzzer): each harness over a copy of its corpus in
# fuzz/corpus, for FUZZ_SECONDS each (make fuzz) or FUZZ_RUNS inputs
# (make fuzz-quick, part of make test).
FUZZERS := fuzz_token_text fuzz_pool_image fuzz_trace
FUZZ_SECONDS ?= 60
FUZZ_RUNS ?= 3000
FUZZ_CC ?= clang
FUZZ_FLAGS := -std=c11 -D_GNU_SOURCE -g -O1 -fsanitize=fuzzer,address,undefined \
	-fno-sanitize-recover=undefined $(DEP_CFLAGS) -Iinclude -Isrc -Ifuzz
FUZZ_LEN_fuzz_token_text := 256
FUZZ_LEN_fuzz_pool_image := 300000
FUZZ_LEN_fuzz_trace := 8192

build/fuzz/%: fuzz/%.c $(LIB_SRC) $(wildcard src/*.h) $(wildcard fuzz/*.h)
	@mkdir -p build/fuzz
	$(FUZZ_CC) $(FUZZ_FLAGS) -o $@ $< $(LIB_SRC) $(DEP_LIBS)

build/fuzz/fuzz_trace: fuzz/fuzz_trace.c bench/ycsb_trace.c bench/ycsb_trace.h
	@mkdir -p build/fuzz
	$(FUZZ_CC) $(FUZZ_FLAGS) -Ibench -o $@ $< bench/ycsb_trace.c

fuzz: $(addprefix build/fuzz/,$(FUZZERS))
	@for f in $(FUZZERS); do \
		rm -rf build/fuzz/corpus-$$f && cp -r fuzz/corpus/$${f#fuzz_} build/fuzz/corpus-$$f && \
		echo "== $$f for $(FUZZ_SECONDS) s" && \
		build/fuzz/$$f -max_total_time=$(FUZZ_SECONDS) -max_len=$(FUZZ_LEN_$$f) \
			-print_final_stats=1 build/fuzz/corpus-$$f >build/fuzz/$$f.log 2>&1; \
		rc=$$?; \
		grep -E "stat::number_of_executed_units|ERROR|SUMMARY|Done" build/fuzz/$$f.log; \
		[ $$rc -eq 0 ] || { echo "$$f failed (status $$rc): build/fuzz/$$f.log"; exit 1; }; \
	done

fuzz-quick: $(addprefix build/fuzz/,$(FUZZERS))
	@for f in $(FUZZERS); do \
		rm -rf build/fuzz/corpus-$$f && cp -r fuzz/corpus/$${f#fuzz_} build/fuzz/corpus-$$f && \
		build/fuzz/$$f -runs=$(FUZZ_RUNS) -max_len=$(FUZZ_LEN_$$f) \
			build/fuzz/corpus-$$f >build/fuzz/$$f.log 2>&1 || \
			{ tail -30 build/fuzz/$$f.log; exit 1; }; \
		echo "$$f: $$(grep -o 'Done [0-9]* runs' build/fuzz/$$f.log)"; \
	done

# Model checking (Spin): every property of model/*.pml exhaustively, and a
# mutant per model that must fail.
verify: deps
	scripts/verify.sh

# Stress-only test programs (tests/stress/): built into $(BUILD)/stress, apart
# from TEST_BIN, so make test never runs them; the stress rule names them.
STRESS_BIN := $(patsubst tests/stress/%.c,$(BUILD)/stress/%,$(wildcard tests/stress/test_*.c))
$(BUILD)/stress/%: tests/stress/%.c tests/testutil.h $(LIB_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Itests -o $@ $< $(LIB_OBJ) $(LDFLAGS) $(DEP_LIBS) -lcmocka -lm

# The long forms: 500 kills, a minute of shared-key hosts, a minute of
# allocator churn with hosts killed, 20 000 flips, the constant-time test of
# the tag comparison (10 million timings a comparison, its default), flush
# mode under the cache model (check-flush's long form, at three eviction
# rates, then every mutant) and a minute of each fuzzer.
stress: deps
	$(MAKE) check-flush FLUSH_FORM=long
	$(MAKE) all $(STRESS_BIN)
	SHMEMORA_CRASH_KILLS=500 SHMEMORA_TEST_SECONDS=60 SHMEMORA_TAMPER_FLIPS=20000 \
	SHMEMORA_ALLOC_STRESS_KILLS=1 \
		tests/run-tests.sh $(BUILD) test_crash test_kv_hosts test_tamper test_kv_model \
		test_alloc_stress $(notdir $(STRESS_BIN))
	SHMEMORA_VM_FORM=long tests/run-tests.sh $(BUILD) test_vm
	$(MAKE) fuzz

install: lib tools $(BUILD)/man/shmemora.1
	install -d $(DESTDIR)$(LIBDIR)/pkgconfig $(DESTDIR)$(INCDIR) $(DESTDIR)$(BINDIR) \
		$(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(COMPLETIONDIR)
	install -m 644 $(BUILD)/libshmemora.a $(DESTDIR)$(LIBDIR)/
	install -m 755 $(BUILD)/libshmemora.so $(DESTDIR)$(LIBDIR)/libshmemora.so.0
	ln -sf libshmemora.so.0 $(DESTDIR)$(LIBDIR)/libshmemora.so
	install -m 644 include/shmemora.h $(DESTDIR)$(INCDIR)/
	install -m 755 $(BUILD)/shmemora $(DESTDIR)$(BINDIR)/
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@LIBDIR@|$(LIBDIR)|' -e 's|@INCDIR@|$(INCDIR)|' \
		shmemora.pc.in > $(DESTDIR)$(LIBDIR)/pkgconfig/shmemora.pc
	install -m 644 $(BUILD)/man/shmemora.1 $(DESTDIR)$(MANDIR)/man1/
	# kv(1) goes with the benchmark, when it was built (make all): building it
	# here would need the peers' client libraries.
	if [ -x $(BUILD)/kv ]; then $(MAKE) --no-print-directory -s $(BUILD)/man/kv.1 && \
		install -m 644 $(BUILD)/man/kv.1 $(DESTDIR)$(MANDIR)/man1/; fi
	install -m 644 completion/shmemora.bash $(DESTDIR)$(COMPLETIONDIR)/shmemora

uninstall:
	rm -f $(DESTDIR)$(LIBDIR)/libshmemora.a $(DESTDIR)$(LIBDIR)/libshmemora.so \
		$(DESTDIR)$(LIBDIR)/libshmemora.so.0 $(DESTDIR)$(INCDIR)/shmemora.h \
		$(DESTDIR)$(BINDIR)/shmemora $(DESTDIR)$(LIBDIR)/pkgconfig/shmemora.pc \
		$(DESTDIR)$(MANDIR)/man1/shmemora.1 $(DESTDIR)$(MANDIR)/man1/kv.1 \
		$(DESTDIR)$(COMPLETIONDIR)/shmemora

clean:
	rm -rf build build-model

# ---- Python binding (python/) -------------------------------------------
# make install also copies the package under the prefix (python/install.py
# picks PYTHONDIR on PYTHON's search path, and records LIBDIR for the
# loader); skipped, with a line saying so, where PYTHON is missing.
# make python-test runs the binding's pytest suite alone.
PYTHON    ?= python3
PYTHONDIR ?=
PY_INSTALL = $(PYTHON) python/install.py --prefix "$(PREFIX)" --libdir "$(LIBDIR)" \
	--destdir "$(DESTDIR)" $(if $(PYTHONDIR),--pythondir "$(PYTHONDIR)")
.PHONY: install-python uninstall-python python-test
install: install-python
uninstall: uninstall-python
install-python:
	@if command -v $(PYTHON) >/dev/null 2>&1; then $(PY_INSTALL); \
	else echo "install-python: no $(PYTHON): the Python package is not installed"; fi
uninstall-python:
	@if command -v $(PYTHON) >/dev/null 2>&1; then $(PY_INSTALL) --uninstall; fi
python-test: lib
	tests/run-tests.sh $(BUILD) test_python.sh
# ---- end of the Python binding's block ----------------------------------
