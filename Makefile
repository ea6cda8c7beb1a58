# The two commands a newcomer runs: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint bench fuzz clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/testigo demo --workdir demo-out

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

test: lint
	$(BIN)/pytest -q

bench: $(STAMP)
	$(BIN)/python -m bench

# Coverage-guided fuzzing of every parser of untrusted bytes (atheris), 60 s per target.
fuzz: $(STAMP)
	$(BIN)/python -m pip install --quiet atheris
	for target in recording relay_messages receipts identity_file key_strings \
		live_messages documents offers metadata; do \
		$(BIN)/python -m bench.fuzz_parsers $$target -max_total_time=60 || exit 1; \
	done

clean:
	rm -rf $(VENV) demo-out .mypy_cache .pytest_cache .ruff_cache .hypothesis
