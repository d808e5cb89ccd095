# omicsflow: two commands for a fresh machine.
#   make demo   create .venv, install, run the whole workflow on the demo cohorts (public GEO
#               breast-cancer cohorts shipped in the survset package), build the report
#   make test   create/update .venv, run the whole test suite (lint, dry run, end-to-end, unit)
# On a cluster choose a CUDA build of torch, e.g.
#   make demo TORCH="torch==2.13.0" TORCH_INDEX_URL=https://download.pytorch.org/whl/cu128
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
TORCH ?= torch==2.13.0
TORCH_INDEX_URL ?=
CORES ?= 2
BIN := $(VENV)/bin
STAMP := $(VENV)/.omicsflow-installed
SNAKEMAKE := $(BIN)/snakemake --profile profiles/default --cores $(CORES)

.PHONY: demo test lint bench venv clean slurm-profile

venv: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet $(if $(TORCH_INDEX_URL),--index-url $(TORCH_INDEX_URL)) "$(TORCH)"
	$(BIN)/python -m pip install --quiet -e ".[dev,demo]"
	touch $(STAMP)

demo: $(STAMP)
	PATH="$(abspath $(BIN)):$$PATH" $(SNAKEMAKE)
	PATH="$(abspath $(BIN)):$$PATH" $(SNAKEMAKE) --report results/report.html
	@echo
	@echo "Report: $(abspath results/report.html)"
	@echo "Open it in a browser, e.g.  xdg-open results/report.html  (or copy it to your laptop)."

test: $(STAMP)
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check src tests scripts bench
	$(BIN)/ruff format --check src tests scripts bench
	$(BIN)/snakefmt --check workflow
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/snakemake --lint --cores 1

# The goals are for 2 cores: on a larger machine the benchmarks are pinned to the first two.
BENCH_CPUS ?= $(shell $(PYTHON) -c "import os; print(','.join(map(str, sorted(os.sched_getaffinity(0))[:2])))")
bench: $(STAMP)
	for b in bench/bench_*.py; do echo "== $$b"; taskset -c $(BENCH_CPUS) $(BIN)/python $$b || exit 1; done

# `snakemake --profile slurm` from any folder: link profiles/slurm into Snakemake's profile
# folder ($XDG_CONFIG_HOME/snakemake, default ~/.config/snakemake). Run once per user.
SNAKEMAKE_PROFILES ?= $(if $(XDG_CONFIG_HOME),$(XDG_CONFIG_HOME),$(HOME)/.config)/snakemake
slurm-profile:
	@if [ -e "$(SNAKEMAKE_PROFILES)/slurm" ] && [ ! -L "$(SNAKEMAKE_PROFILES)/slurm" ]; then \
		echo "$(SNAKEMAKE_PROFILES)/slurm exists and is not a link; move it away first" >&2; \
		exit 1; \
	fi
	mkdir -p "$(SNAKEMAKE_PROFILES)"
	ln -sfn "$(abspath profiles/slurm)" "$(SNAKEMAKE_PROFILES)/slurm"
	@echo "Linked $(SNAKEMAKE_PROFILES)/slurm -> $(abspath profiles/slurm)"
	@echo "Dry run from any folder:  snakemake --profile slurm -n"

clean:
	rm -rf results logs benchmarks .snakemake resources/demo
