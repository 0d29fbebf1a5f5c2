# matbench: GNU make build. `make` builds, `make test` runs every check, `make bench` measures.
# Objects in $(BUILD)/obj, binaries in $(BUILD)/bin, -MMD dependencies, a flags stamp (flag changes
# rebuild), V=1 prints full commands. ISA flags only on *_avx2.c / *_avx512.c / *_neon.c.
# Optional pieces are detected and announced once: CUDA (nvcc; NO_CUDA=1 turns it off), PAPI, and the
# peer libraries BLIS, oneDNN, LIBXSMM (NO_PEERS=1 turns them off).

BUILD    ?= build
CC       ?= cc
ifeq ($(origin CC),default)
  CC := gcc
endif
CFLAGS   ?= -O2 -g
NVCC     ?= $(shell command -v nvcc 2>/dev/null)
ARCH     ?= $(shell $(CC) -dumpmachine | cut -d- -f1)
MULTIARCH := $(shell $(CC) -print-multiarch 2>/dev/null)
OBJ      := $(BUILD)/obj
BIN      := $(BUILD)/bin
HOST     ?= $(shell hostname -s 2>/dev/null || echo host)

.DEFAULT_GOAL := all
MAKEFLAGS += -r
.DELETE_ON_ERROR:
.SECONDARY:
.SUFFIXES:

# older OpenBLAS miscomputes on some newer CPUs when it autodetects; tests, CI and benchmarks pin it
export OPENBLAS_CORETYPE ?= Haswell

STD      := -std=c11 -D_GNU_SOURCE
WARN     := -Wall -Wextra -Wshadow -Wstrict-prototypes -Werror=missing-prototypes -Werror=implicit-function-declaration
CPPFLAGS += -Ikernels -Iops -Ibench -MMD -MP
OMP      := -fopenmp
LDLIBS   += -lm

ifeq ($(V),1)
  say :=
else
  say = @printf '  %-6s %s\n' $(1) $(2);
endif

# ---- sources ------------------------------------------------------------------------------------
KERNEL_SRC := $(wildcard kernels/*.c kernels/naive/*.c kernels/tiled/*.c)
ifeq ($(ARCH),x86_64)
  KERNEL_SRC += $(wildcard kernels/simd/*_avx2.c kernels/simd/*_avx512.c)
  CPPFLAGS += -DMB_HAVE_X86=1
else ifeq ($(ARCH),aarch64)
  KERNEL_SRC += $(wildcard kernels/simd/*_neon.c)
  CPPFLAGS += -DMB_HAVE_NEON=1
endif

# ---- required libraries (host builds; the aarch64 cross build uses NO_HOSTLIBS=1) ---------------
ifneq ($(NO_HOSTLIBS),1)
  BLAS_CFLAGS := $(shell pkg-config --cflags openblas 2>/dev/null)
  BLAS_LIBS   := $(or $(shell pkg-config --libs openblas 2>/dev/null),-lopenblas)
  CPPFLAGS += -DMB_HAVE_BLAS=1 $(BLAS_CFLAGS)
  KERNEL_SRC += kernels/peers/gemm_blas.c $(wildcard kernels/peers/*_blas.c)
  HWLOC_LIBS := $(or $(shell pkg-config --libs hwloc 2>/dev/null),-lhwloc)
  ifeq ($(shell pkg-config --exists papi 2>/dev/null && echo 1),1)
    CPPFLAGS  += -DMB_HAVE_PAPI=1 $(shell pkg-config --cflags papi)
    PAPI_LIBS := $(shell pkg-config --libs papi)
  endif
  # ---- peers: registered variants when their Debian packages are installed ----------------------
  ifneq ($(NO_PEERS),1)
    BLIS_H := $(firstword $(wildcard /usr/include/$(MULTIARCH)/blis-openmp/blis.h /usr/include/$(MULTIARCH)/blis*/blis.h /usr/include/blis/blis.h))
    ifneq ($(BLIS_H),)
      CPPFLAGS += -DMB_HAVE_BLIS=1
      PEER_INC_blis := -isystem $(dir $(BLIS_H))
      # after OpenBLAS on the link line so cblas_* keep resolving to OpenBLAS (BLIS also exports them)
      PEER_LIBS += -lblis
      KERNEL_SRC += $(wildcard kernels/peers/*_blis.c)
      PEERS += blis
    endif
    ifneq ($(wildcard /usr/include/dnnl.h),)
      CPPFLAGS += -DMB_HAVE_DNNL=1
      PEER_LIBS += -ldnnl
      KERNEL_SRC += $(wildcard kernels/peers/*_dnnl.c)
      PEERS += onednn
    endif
    ifneq ($(wildcard /usr/include/libxsmm.h),)
      CPPFLAGS += -DMB_HAVE_XSMM=1
      PEER_LIBS += $(or $(shell pkg-config --libs libxsmmnoblas 2>/dev/null),-lxsmm -lxsmmnoblas)
      KERNEL_SRC += $(wildcard kernels/peers/*_xsmm.c)
      PEERS += libxsmm
    endif
  endif
  HOST_LIBS := $(BLAS_LIBS) $(PEER_LIBS) $(HWLOC_LIBS) $(PAPI_LIBS) -lpthread
endif

# ---- CUDA (optional): kernels/cuda/*.cu with nvcc; run-time skip when there is no GPU ------------
ifneq ($(NO_CUDA),1)
ifneq ($(NVCC),)
ifneq ($(NO_HOSTLIBS),1)
  CUDA_ARCH ?= 80
  CUDA_SRC  := $(wildcard kernels/cuda/*.cu)
  ifneq ($(CUDA_SRC),)
    CPPFLAGS += -DMB_HAVE_CUDA=1
    CUDA_HOME := $(patsubst %/bin/,%,$(dir $(NVCC)))
    HOST_LIBS += -L$(CUDA_HOME)/lib64 -Wl,-rpath,$(CUDA_HOME)/lib64 -lcublas -lcudart -lstdc++
  endif
endif
endif
endif

KERNEL_OBJ := $(patsubst %.c,$(OBJ)/%.o,$(KERNEL_SRC)) $(patsubst %.cu,$(OBJ)/%.o,$(CUDA_SRC))
OPS_OBJ    := $(patsubst %.c,$(OBJ)/%.o,$(wildcard ops/*.c))
# bench/: every *_main.c is a program (matbench = main.c); the rest is the harness library
BENCH_LIB  := $(patsubst %.c,$(OBJ)/%.o,$(filter-out bench/main.c bench/%_main.c,$(wildcard bench/*.c)))
CORE_OBJ   := $(KERNEL_OBJ) $(OPS_OBJ)
TESTS      := $(patsubst tests/%.c,$(BIN)/%,$(wildcard tests/test_*.c))
# tests/*_avx2.c / *_avx512.c (per-ISA test helpers) only where those ISAs exist
TEST_LIB   := $(patsubst %.c,$(OBJ)/%.o,$(filter-out tests/test_%.c tests/%_main.c tests/fuzz_%.c \
                $(if $(filter x86_64,$(ARCH)),,tests/%_avx2.c tests/%_avx512.c),$(wildcard tests/*.c)))
TOOLS      := $(BIN)/matbench-check $(BIN)/matbench-eval
ifeq ($(NO_HOSTLIBS),1)
  PROGRAMS := $(TOOLS) $(patsubst tests/%_main.c,$(BIN)/%,$(wildcard tests/*_main.c))
else
  PROGRAMS := $(if $(wildcard bench/main.c),$(BIN)/matbench) $(TOOLS) $(TESTS) \
              $(patsubst tests/%_main.c,$(BIN)/%,$(wildcard tests/*_main.c))
endif

# ISA flags only on the files whose names say so
$(OBJ)/%_avx2.o:   ISAFLAGS := -mavx2 -mfma
$(OBJ)/%_avx512.o: ISAFLAGS := -mavx512f -mavx512vl -mavx512bw -mavx512dq -mfma
$(OBJ)/kernels/peers/%_blis.o: ISAFLAGS = $(PEER_INC_blis)
# not an ISA flag: lets gcc if-convert (so vectorize) the clamp of tiled/nn_expf.h; no FP trap is ever enabled
$(OBJ)/kernels/tiled/softmax_tiled.o $(OBJ)/kernels/tiled/attention_tiled.o: ISAFLAGS := -fno-trapping-math

# rebuild everything when the flags change
FLAGS_NOW := $(CC) $(STD) $(CPPFLAGS) $(CFLAGS) $(OMP) $(HOST_LIBS)
$(BUILD)/.flags: FORCE
	@mkdir -p $(@D)
	@echo '$(FLAGS_NOW)' | cmp -s - $@ || echo '$(FLAGS_NOW)' > $@
FORCE:

# bench/machine.c records the git revision (-dirty: uncommitted changes) and the flags in the results'
# context; its own stamp, so a new commit rebuilds machine.o alone
# -dirty only for changes outside results/ and plots/ (what make bench and make targets write themselves)
GIT_REV := $(shell r=$$(git rev-parse --short=12 HEAD 2>/dev/null) || r=unknown; \
             [ "$$r" = unknown ] || git diff --quiet HEAD -- . ':!results' ':!plots' 2>/dev/null || r=$$r-dirty; echo $$r)
$(BUILD)/.gitrev: FORCE
	@mkdir -p $(@D)
	@echo '$(GIT_REV)' | cmp -s - $@ || echo '$(GIT_REV)' > $@
$(OBJ)/bench/machine.o: $(BUILD)/.gitrev
BUILD_FLAGS_STR = $(subst ',,$(subst ",,$(CC) $(STD) $(CFLAGS) $(OMP) (+ ISA flags on *_avx2.c *_avx512.c only)))
$(OBJ)/bench/machine.o: CPPFLAGS += -DMB_GIT_REV='"$(GIT_REV)"' -DMB_BUILD_FLAGS='"$(BUILD_FLAGS_STR)"'

# ---- public targets (each first makes sure the Debian packages are there) -----------------------
.PHONY: all deps binaries test check bench targets bench-sim plots report compare config clean help FORCE
all: deps
	@$(MAKE) --no-print-directory binaries

deps:
	@scripts/deps.sh

binaries: $(PROGRAMS)

$(OBJ)/%.o: %.c $(BUILD)/.flags
	@mkdir -p $(@D)
	$(call say,CC,$<)$(CC) $(STD) $(CPPFLAGS) $(CFLAGS) $(OMP) $(WARN) $(ISAFLAGS) -c $< -o $@

$(OBJ)/%.o: %.cu $(BUILD)/.flags
	@mkdir -p $(@D)
	$(call say,NVCC,$<)$(NVCC) -O3 -std=c++17 -lineinfo -arch=sm_$(CUDA_ARCH) -Ikernels -MMD -MP $(filter -D%,$(CPPFLAGS)) -c $< -o $@

$(BIN)/matbench: $(OBJ)/bench/main.o $(BENCH_LIB) $(CORE_OBJ)
	@mkdir -p $(@D)
	$(call say,LINK,$@)$(CC) $(CFLAGS) $(OMP) $^ $(HOST_LIBS) $(LDLIBS) -o $@

$(BIN)/matbench-%: $(OBJ)/bench/%_main.o $(CORE_OBJ)
	@mkdir -p $(@D)
	$(call say,LINK,$@)$(CC) $(CFLAGS) $(OMP) $^ $(HOST_LIBS) $(LDLIBS) -o $@

$(BIN)/test_%: $(OBJ)/tests/test_%.o $(TEST_LIB) $(BENCH_LIB) $(CORE_OBJ)
	@mkdir -p $(@D)
	$(call say,LINK,$@)$(CC) $(CFLAGS) $(OMP) $^ $(HOST_LIBS) -lcmocka $(LDLIBS) -o $@

# plain (framework-free) test programs: the aarch64 cross build runs these under qemu
$(BIN)/%: $(OBJ)/tests/%_main.o $(TEST_LIB) $(CORE_OBJ)
	@mkdir -p $(@D)
	$(call say,LINK,$@)$(CC) $(CFLAGS) $(OMP) $^ $(HOST_LIBS) $(LDLIBS) -o $@

# ---- tests --------------------------------------------------------------------------------------
# scripts/run-tests.sh runs every suite (unit tests, vectors x variants, sweeps, the ASan+UBSan build,
# the aarch64/NEON build under qemu, the CUDA emulation build) and ends with `N passed, N failed`.
test: deps
	@$(MAKE) --no-print-directory binaries
	@scripts/run-tests.sh $(BUILD)

check: all
	$(BIN)/matbench-check tests/vectors/*

# ---- benchmarks ---------------------------------------------------------------------------------
FILTER ?=
BENCH_ARGS ?=
RESULTS := results/$(HOST)
bench: deps
	@$(MAKE) --no-print-directory binaries
	@scripts/bench.sh $(BIN)/matbench $(RESULTS) '$(FILTER)' $(BENCH_ARGS)
	@if [ -f plots/plots.sh ]; then $(MAKE) --no-print-directory plots; fi

targets: deps
	@$(MAKE) --no-print-directory binaries
	@scripts/targets.sh $(BIN)/matbench $(RESULTS)

bench-sim: deps
	@$(MAKE) --no-print-directory binaries
	@scripts/bench-sim.sh $(BIN)/matbench $(RESULTS) '$(FILTER)'

plots:
	@plots/plots.sh $(RESULTS)

report: plots
	@scripts/report.sh $(RESULTS)

compare:
	@scripts/compare.sh '$(A)' '$(B)'

config:
	@echo "arch      $(ARCH)"
	@echo "cc        $(CC) $(CFLAGS)"
	@echo "cuda      $(if $(CUDA_SRC),yes ($(NVCC)),no)"
	@echo "papi      $(if $(PAPI_LIBS),yes,no)"
	@echo "peers     openblas $(PEERS)"

clean:
	rm -rf $(BUILD)

help:
	@echo "make            build build/bin/{matbench,matbench-check,matbench-eval} and the tests"
	@echo "make test       all correctness checks (ends with 'N passed, N failed')"
	@echo "make bench      run the default suite -> results/<host>/matbench.{json,csv} (FILTER=regex)"
	@echo "make targets    issue-4 performance table, repetitions + peers -> results/<host>/TARGETS.md (MB_RUNS=3: 3 runs, medians + ranges)"
	@echo "make bench-sim  valgrind instruction / cache-miss counts per benchmark (FILTER=regex)"
	@echo "make plots      gnuplot PNG+SVG from the results CSV into plots/"
	@echo "make report     results/<host>/REPORT.md"
	@echo "make compare A=old.json B=new.json   compare.py on two runs"
	@echo "make config     what was detected; V=1 full commands; NO_CUDA=1 NO_PEERS=1"

-include $(shell find $(OBJ) -name '*.d' 2>/dev/null)
