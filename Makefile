# Two commands on a fresh clone: `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
# setuptools warns on every editable install that a folder named like the package may shadow
# it (this checkout is that folder, on purpose): silenced so `make demo` shows sk's own steps.
PIP    := PYTHONWARNINGS="ignore:Editable installation" $(BIN)/python -m pip

.PHONY: demo install test lint contract completions shells screenshots browser node-sdk bench bench-sdk bench-smoke clean

# The runtime install (what a user gets from `pip install`), stamped so reruns are instant.
$(VENV)/.installed: pyproject.toml
	@echo "make: installing sk into $(VENV) (once)"
	@$(PYTHON) -m venv $(VENV)
	@$(PIP) install --quiet --upgrade pip
	@$(PIP) install --quiet -e .
	@touch $@

# The local AgentKit on top (the `[sandbox]` extra): what `sk demo` runs on.
$(VENV)/.installed-sandbox: $(VENV)/.installed
	@$(PIP) install --quiet -e '.[sandbox]'
	@touch $@

# The dev extras on top (they include `[sandbox]` and `[mcp]`): pytest, hypothesis, ruff, ….
$(VENV)/.installed-dev: $(VENV)/.installed
	$(PIP) install --quiet -e '.[dev]'
	touch $@

demo: $(VENV)/.installed-sandbox
	@$(BIN)/sk demo

# `sk` on PATH: with pipx or uv when there is one (an isolated install of this checkout),
# else a link to .venv/bin/sk in BIN_DIR. INSTALLER=pipx|uv|link chooses.
BIN_DIR   ?= $(HOME)/.local/bin
INSTALLER ?= $(shell command -v pipx >/dev/null 2>&1 && echo pipx || \
                     (command -v uv >/dev/null 2>&1 && echo uv) || echo link)
install: $(VENV)/.installed
ifeq ($(INSTALLER),pipx)
	pipx install --force .
else ifeq ($(INSTALLER),uv)
	uv tool install --force .
else
	mkdir -p "$(BIN_DIR)"
	ln -sf "$(CURDIR)/$(BIN)/sk" "$(BIN_DIR)/sk"
	@echo "linked $(BIN_DIR)/sk -> $(CURDIR)/$(BIN)/sk"
endif
	@case ":$$PATH:" in *":$(BIN_DIR):"*) ;; *) [ "$(INSTALLER)" != link ] || \
	  echo "note: $(BIN_DIR) is not on PATH; add it, e.g. export PATH=\"$(BIN_DIR):\$$PATH\"";; esac

# The browser test drives Debian's Chromium; install it when it is missing and we may.
browser:
	@command -v chromium >/dev/null 2>&1 || ./.ci/install-chromium

# The official Node SDK, pinned by tests/grpc/node/package-lock.json, for its gRPC test; Debian's
# nodejs and npm when they are missing and we may.
NODE_SDK := tests/grpc/node/node_modules/.package-lock.json
$(NODE_SDK): tests/grpc/node/package.json tests/grpc/node/package-lock.json
	./.ci/install-node
	cd tests/grpc/node && npm ci --no-audit --no-fund --loglevel=error
	touch $@

node-sdk: $(NODE_SDK)

test: $(VENV)/.installed-dev browser shells $(NODE_SDK)
	$(BIN)/ruff check scalekit_cli tests bench scripts
	$(BIN)/python -m pytest -q

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check scalekit_cli tests bench scripts
	$(BIN)/ruff format --check scalekit_cli tests bench scripts

# The vendor's documents the project ships: newer copies from ../shared, what changed, the
# descriptor set of the official SDK's proto messages, and the two small tables derived from it
# (scalekit_cli/sandbox/contract/routes.json, scalekit_cli/scalekit/limits.py).
contract: $(VENV)/.installed-dev
	$(BIN)/python scripts/contract.py --descriptors

# zsh and fish, for the completion tests that source the scripts in each shell.
shells:
	@command -v zsh >/dev/null 2>&1 && command -v fish >/dev/null 2>&1 || ./.ci/install-shells

completions: $(VENV)/.installed
	$(BIN)/python scripts/completions.py completions

# The README's terminal pictures, from real runs on an in-memory sandbox.
screenshots: $(VENV)/.installed
	$(BIN)/python scripts/screenshots.py --out docs/screenshots

# sk against its floor and the hand-written baselines, over TLS with a 40 ms round trip
# (docs/benchmarks.md); bench-smoke runs each pair once or twice and judges no timing.
bench: $(VENV)/.installed-dev
	$(BIN)/python -m bench.run

bench-sdk: $(VENV)/.installed-dev
	$(BIN)/python -m bench.run --with-sdk

bench-smoke: $(VENV)/.installed-dev
	$(BIN)/python -m bench.run --smoke

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis build *.egg-info tests/grpc/node/node_modules
