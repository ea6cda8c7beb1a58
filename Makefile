# The two commands a newcomer runs: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
WEB := relay_server/web
NODE_STAMP := $(WEB)/node_modules/.installed

.PHONY: demo test lint bench fuzz clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/testigo demo --workdir demo-out

# The browser app's type checker (and the vendored packages' sources), from the lock file.
$(NODE_STAMP): $(WEB)/package.json $(WEB)/package-lock.json
	cd $(WEB) && npm ci --no-audit --no-fund --loglevel=error
	touch $(NODE_STAMP)

lint: $(STAMP) $(NODE_STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports
	$(WEB)/node_modules/.bin/tsc -p $(WEB)
	$(WEB)/node_modules/.bin/tsc -p $(WEB)/tsconfig.sw.json
	$(BIN)/python -m relay_server.web_vendor check

test: lint
	$(BIN)/pytest -q

bench: $(STAMP)
	$(BIN)/python -m bench

# Coverage-guided fuzzing of every parser of untrusted bytes (atheris), 60 s per target.
fuzz: $(STAMP)
	$(BIN)/python -m pip install --quiet atheris
	for target in recording relay_messages receipts identity_file key_strings \
		live_messages documents offers metadata invite_links; do \
		$(BIN)/python -m bench.fuzz_parsers $$target -max_total_time=60 || exit 1; \
	done

clean:
	rm -rf $(VENV) $(WEB)/node_modules demo-out .mypy_cache .pytest_cache .ruff_cache .hypothesis
