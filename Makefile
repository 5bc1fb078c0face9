# Rubric Studio. `make run` serves the demo; `make test` runs the whole suite.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: run test lint format bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(VENV)/.installed: requirements.txt | $(BIN)/python
	$(BIN)/pip install -q -r requirements.txt
	touch $@

# llama-cpp-python (the real model server of the integration test) is compiled here; a native
# build (-march=native) crashes in decode on some CPUs, so it is built for the generic target.
# pip caches the built wheel, so only the first install pays for the compile.
$(VENV)/.installed-dev: requirements.txt requirements-dev.txt requirements-gpu.txt | $(BIN)/python
	CMAKE_ARGS="-DGGML_NATIVE=OFF" $(BIN)/pip install -q -r requirements-dev.txt
	$(BIN)/pip install -q -r requirements-gpu.txt
	touch $@

run: $(VENV)/.installed
	$(BIN)/python manage.py migrate --noinput -v0
	$(BIN)/python manage.py demo
	$(BIN)/python manage.py runstudio 127.0.0.1:8000

# Uses PostgreSQL and Redis when DATABASE_URL/REDIS_URL are set, or found on their usual local
# ports; otherwise SQLite and the filesystem broker. The test header says which.
test: $(VENV)/.installed-dev lint
	$(BIN)/python -m tests.services -- $(BIN)/pytest $(PYTEST_ARGS)

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports --no-cache

format: $(VENV)/.installed-dev
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: $(VENV)/.installed-dev
	for script in bench/bench_*.py; do $(BIN)/python $$script || exit 1; done

clean:
	rm -rf var staticfiles test-artifacts .pytest_cache .mypy_cache .ruff_cache
