# pararnn — set-up, tests and the main job.
#   make run     installs what is missing, builds, and solves the shipped recording with --verify
#                (automatic, then ELK without fallback)
#   make test    installs what is missing and runs the whole test suite

SWIFT ?= swift
APT_PACKAGES := libopenblas-dev liblapacke-dev libfftw3-dev libsndfile1-dev libhdf5-dev pkg-config libopenmpi-dev openmpi-bin
SUDO := $(shell [ "$$(id -u)" = "0" ] || echo sudo)
# Release builds vectorise with AVX2/FMA when this CPU has them (PARARNN_CPU= to turn it off;
# a binary built so needs an AVX2+FMA CPU to run).
PARARNN_CPU ?= $(shell grep -qw avx2 /proc/cpuinfo 2>/dev/null && grep -qw fma /proc/cpuinfo 2>/dev/null && echo haswell)
# With a target CPU, -DPARARNN_FMA lets the kernels fuse multiply-adds: a PARARNN_CPU you set
# must have FMA (haswell and later do).
# The Swift runtime and Foundation are linked statically: a solve process starts ≈ 18 ms sooner
# (no dynamic symbol lookup; 40 vs 58 ms for a 1000-step solve on the 2-core VM, farm-bench).
RELEASE_FLAGS := -c release --static-swift-stdlib $(if $(PARARNN_CPU),-Xswiftc -target-cpu -Xswiftc $(PARARNN_CPU) -Xswiftc -DPARARNN_FMA)

.PHONY: deps build release test fuzz run bench notebooks peers docs lint format clean

# Installs the Debian packages only when one is missing (apt-get update first, sudo only if not root).
deps:
	@missing=""; for p in $(APT_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing; \
	fi

build: deps
	$(SWIFT) build

release: deps
	$(SWIFT) build $(RELEASE_FLAGS) --product pararnn

test: deps
	$(SWIFT) test

# A longer run of the seeded fuzzers (make test runs 300–500 cases per target, 5,200 in all, plus
# 40 end-to-end solves): FUZZ_CASES per target, FUZZ_CASES / 50 CLI solves.
FUZZ_CASES ?= 20000
fuzz: deps
	PARARNN_FUZZ_CASES=$(FUZZ_CASES) PARARNN_CLI_FUZZ_CASES=$$(( $(FUZZ_CASES) / 50 )) $(SWIFT) test --filter Fuzz

# First the solve as a user gets it (--method automatic: the strategy and its reason are printed),
# then the same model by a parallel method without any fallback (ELK; exit 2 if it did not
# converge), both checked against the sequential rollout.
run: release
	$$($(SWIFT) build $(RELEASE_FLAGS) --show-bin-path)/pararnn solve \
	  --model data/default/paragru.safetensors --input data/default/input.npy \
	  --output out/hidden.npy --report out/report.json --method automatic --verify
	@echo
	$$($(SWIFT) build $(RELEASE_FLAGS) --show-bin-path)/pararnn solve \
	  --model data/default/paragru.safetensors --input data/default/input.npy \
	  --output out/hidden-elk.npy --report out/report-elk.json --method elk --no-fallback --verify

# The documentation of every library module (DocC catalogs in Sources/<Module>/<Module>.docc,
# doc comments, articles) as static HTML under docs/<Module>/ (open docs/<Module>/index.html
# through a web server, e.g. `python3 -m http.server -d docs`).
DOC_MODULES := ParaRNN ParallelScan Training ModelIO SequenceIO LinearRNN LongConv PLSTM ConvergenceHarness PerformanceSuite
docs: deps
	@mkdir -p docs; for m in $(DOC_MODULES); do \
	  $(SWIFT) package --allow-writing-to-directory docs/$$m generate-documentation --target $$m \
	    --disable-indexing --transform-for-static-hosting --output-path docs/$$m || exit 1; \
	done

# swift-format (the toolchain's, `swift format`) with the repository's .swift-format: `make format`
# rewrites Sources/ and Tests/ in place; `make lint` fails on any difference or rule warning
# (.ci/run runs it). AlwaysUseLowerCamelCase is off: the maths names matrices A, B, W.
FORMAT_PATHS := Package.swift Sources Tests Benchmarks/Package.swift Benchmarks/Benchmarks
format:
	$(SWIFT) format --in-place --recursive --parallel --configuration .swift-format $(FORMAT_PATHS)

lint:
	$(SWIFT) format lint --strict --recursive --parallel --configuration .swift-format $(FORMAT_PATHS)

bench: deps
	cd Benchmarks && $(SWIFT) package benchmark

# Executes every notebook in place (outputs and Notebooks/figures/*.png refreshed) against the
# release binary; installs the Python packages it needs first. NB_TIMEOUT: seconds per cell.
PYTHON ?= python3
NB_TIMEOUT ?= 600
NOTEBOOKS := convergence speed fitting longconv_plstm
PARARNN_BIN_PATH = $$($(SWIFT) build $(RELEASE_FLAGS) --show-bin-path)/pararnn

notebooks: release
	$(PYTHON) -m pip install --quiet jupyter nbconvert matplotlib ipykernel numpy
	@bin=$(PARARNN_BIN_PATH); for nb in $(NOTEBOOKS); do \
	  echo "executing Notebooks/$$nb.ipynb"; \
	  PARARNN_BIN=$$bin $(PYTHON) -m jupyter nbconvert --to notebook --execute --inplace \
	    --ExecutePreprocessor.timeout=$(NB_TIMEOUT) Notebooks/$$nb.ipynb || exit 1; \
	done

# Peer comparison (PyTorch / JAX / NumPy vs pararnn; own venv under out/peers-venv). Not part of
# make test. PEERS_ARGS=--full adds T = 10^6; see Benchmarks/peers/README.md.
PEERS_ARGS ?=
# Then the dense GRU/LSTM rollouts and training steps against JAX (rollout.py, train.py; the
# venv's Python when compare.py made one). PEERS_THREADS: the thread counts they sweep.
PEERS_THREADS ?= 1,2
PEERS_PYTHON = $$([ -x out/peers-venv/bin/python ] && echo out/peers-venv/bin/python || echo $(PYTHON))
peers: release
	PARARNN_BIN=$(PARARNN_BIN_PATH) $(PYTHON) Benchmarks/peers/compare.py $(PEERS_ARGS)
	PARARNN_BIN=$(PARARNN_BIN_PATH) $(PEERS_PYTHON) Benchmarks/peers/rollout.py --threads $(PEERS_THREADS) --out Benchmarks/results/peers-rollout-local.md
	PARARNN_BIN=$(PARARNN_BIN_PATH) $(PEERS_PYTHON) Benchmarks/peers/train.py --threads $(PEERS_THREADS) --out Benchmarks/results/peers-train-local.md

clean:
	rm -rf .build out
