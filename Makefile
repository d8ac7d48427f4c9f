# pararnn — set-up, tests and the main job.
#   make run     installs what is missing, builds, and solves the shipped recording with --verify
#   make test    installs what is missing and runs the whole test suite

SWIFT ?= swift
APT_PACKAGES := libopenblas-dev liblapacke-dev libfftw3-dev pkg-config
SUDO := $(shell [ "$$(id -u)" = "0" ] || echo sudo)
# Release builds vectorise with AVX2/FMA when this CPU has them (PARARNN_CPU= to turn it off;
# a binary built so needs an AVX2 CPU to run).
PARARNN_CPU ?= $(shell grep -qw avx2 /proc/cpuinfo 2>/dev/null && grep -qw fma /proc/cpuinfo 2>/dev/null && echo haswell)
RELEASE_FLAGS := -c release $(if $(PARARNN_CPU),-Xswiftc -target-cpu -Xswiftc $(PARARNN_CPU))

.PHONY: deps build release test run bench notebooks clean

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

run: release
	$$($(SWIFT) build $(RELEASE_FLAGS) --show-bin-path)/pararnn solve \
	  --model data/default/paragru.safetensors --input data/default/input.npy \
	  --output out/hidden.npy --report out/report.json --method newton --verify

bench: deps
	cd Benchmarks && $(SWIFT) package benchmark

clean:
	rm -rf .build out
