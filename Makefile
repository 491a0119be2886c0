# The two commands a fresh machine needs: `make serve` and `make test`.
SHELL := /bin/bash
export BENTOML_DO_NOT_TRACK := true
export MLFLOW_SKIP_PIP_REQUIREMENTS_CHECK := true
export HIT_COMPASS_STATE ?= $(CURDIR)/state
export BENTOML_HOME ?= $(HIT_COMPASS_STATE)/bentoml
UV := python3 -m uv
PORT ?= 3000
# loopback only; another interface only on purpose: `make serve HOST=0.0.0.0`
HOST ?= 127.0.0.1

.PHONY: setup serve test lint chromium java postgresql wrk bench-serve soak mlflow-ui mlflow-server

# --compile-bytecode: these machines set PYTHONDONTWRITEBYTECODE=1 and uv writes no .pyc by
# default, so every process compiled MLflow, pandas, scikit-learn... from source again
# (`import mlflow` 6.8 s -> 2.4 s once compiled); the first sync compiles (~25 s), later ones
# find the .pyc files current
setup:  ## uv (via pip if missing) and the locked environment, compiled to bytecode
	@python3 -m uv --version >/dev/null 2>&1 || python3 -m pip install --quiet uv
	@$(UV) sync --frozen --quiet --compile-bytecode

# the launch history to serve: its spec (default: the simulator's); `make serve SPEC=...`
SPEC ?= training/specs/simulated.yaml

serve: setup  ## train a champion for $(SPEC) if it has none, then serve it on :$(PORT)
	@tag=$$($(UV) run compass ensure-champion --spec $(SPEC)) && \
	HIT_COMPASS_MODEL=$$tag $(UV) run bentoml serve serving.service:HitCompass \
		--host $(HOST) --port $(PORT)

MLFLOW_PORT ?= 5000
mlflow-ui: setup  ## the MLflow UI on the state folder: runs, run reports, registry (:$(MLFLOW_PORT))
	$(UV) run mlflow ui --backend-store-uri \
		$${MLFLOW_TRACKING_URI:-sqlite:///$(HIT_COMPASS_STATE)/mlflow.db} \
		--host 127.0.0.1 --port $(MLFLOW_PORT)

# the team's tracking server: runs and registry in PostgreSQL, artifacts uploaded through the
# server into a folder on its machine; `make mlflow-server MLFLOW_DB=postgresql://u:p@host/mlflow`
MLFLOW_DB ?=
MLFLOW_ARTIFACTS ?= $(HIT_COMPASS_STATE)/mlflow-artifacts
MLFLOW_HOST ?= 127.0.0.1
MLFLOW_WORKERS ?= 2
mlflow-server: setup  ## MLflow tracking server on PostgreSQL (MLFLOW_DB) + artifact folder
	@[ -n "$(MLFLOW_DB)" ] || { echo "set MLFLOW_DB=postgresql://user:password@host:5432/database"; exit 2; }
	$(UV) run mlflow server \
		--backend-store-uri $(subst postgresql://,postgresql+psycopg://,$(MLFLOW_DB)) \
		--artifacts-destination $(MLFLOW_ARTIFACTS) --serve-artifacts \
		--host $(MLFLOW_HOST) --port $(MLFLOW_PORT) --workers $(MLFLOW_WORKERS)

# OMP_WAIT_POLICY=PASSIVE: LightGBM's OpenMP threads sleep instead of spinning while they wait;
# with the suite's servers and workers sharing 2 cores, spinning threads starved one another
# (a training of 1,000 launches took 10x as long beside one other busy process; same results)
test: setup chromium java postgresql  ## lint and the whole suite
	$(UV) run ruff check .
	OMP_WAIT_POLICY=PASSIVE $(UV) run pytest

# the browser test drives Debian's chromium (Playwright cannot download its own browser here);
# like postgresql, a failed install fails `make test` (the page tests would otherwise skip)
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
chromium:  ## Debian's chromium for the /ui browser test, if missing
	@command -v chromium >/dev/null 2>&1 || { \
		echo "installing chromium (apt-get)"; \
		$(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium >/dev/null; \
	}

# the PostgreSQL tests start their own server from Debian's binaries (tests/postgres.py)
postgresql:  ## Debian's postgresql for the shared-state tests, if missing
	@command -v pg_ctl >/dev/null 2>&1 || ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1 || { \
		echo "installing postgresql (apt-get)"; \
		$(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq postgresql >/dev/null; \
	}

# PySpark 4 (`compass score --engine spark` and its tests) runs on Java 17 or 21: Debian's default
java:  ## a Java runtime for Spark, if missing
	@command -v java >/dev/null 2>&1 || { \
		echo "installing a Java runtime (apt-get)"; \
		$(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq default-jre-headless >/dev/null; \
	}

wrk:  ## Debian's wrk, the load generator of `compass bench serve`
	@command -v wrk >/dev/null 2>&1 || { \
		echo "installing wrk (apt-get)"; \
		$(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq wrk >/dev/null; \
	}

bench-serve: setup wrk  ## serving benchmark -> serve.json (this service vs no-op BentoML vs mlflow)
	$(UV) run compass bench serve --out serve.json

soak: setup wrk  ## 60 s, 32 connections: zero errors, RSS growth < 10 % (opt-in test)
	$(UV) run pytest -m soak -s tests/benchmarks/test_soak.py

requirements.txt: uv.lock  ## what `bentoml build` installs: the lock's export (test_build checks)
	$(UV) export --frozen --no-default-groups --no-hashes --no-emit-project -o requirements.txt
