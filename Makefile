# The two commands a new user needs: `make demo` and `make test`. Each sets itself up first.
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.hearth-installed
export HEARTH_HOME ?= $(CURDIR)/.hearth
# llama-cpp-python builds from source; portable x86 flags (AVX2/FMA, no -march=native) keep
# pip's cached wheel usable on any machine of this kind.
export CMAKE_ARGS ?= -DGGML_NATIVE=OFF

.PHONY: install test demo export-gguf clean

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	# Without CUDA take the CPU build of torch (on this kind of machine it lies on disk).
	$(PY) -c "import torch" 2>/dev/null || \
	  if command -v nvidia-smi >/dev/null 2>&1; then $(PY) -m pip install -q torch; \
	  else $(PY) -m pip install -q torch==2.13.0; fi
	$(PY) -m pip install -q -e '.[dev]'
	touch $@

test: install
	$(PY) -m pytest -q

demo: install
	$(VENV)/bin/hearth demo

# make export-gguf RUN=<run-id or path> QUANT=q4_k_m,q8_0
export-gguf: install
	$(VENV)/bin/hearth export $(RUN) $(if $(QUANT),--quant $(QUANT))

clean:
	rm -rf $(VENV) .hearth build *.egg-info
