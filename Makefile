# The two commands a fresh machine needs: `make serve` and `make test`.
SHELL := /bin/bash
export BENTOML_DO_NOT_TRACK := true
export MLFLOW_SKIP_PIP_REQUIREMENTS_CHECK := true
export HIT_COMPASS_STATE ?= $(CURDIR)/state
export BENTOML_HOME ?= $(HIT_COMPASS_STATE)/bentoml
UV := python3 -m uv
PORT ?= 3000

.PHONY: setup serve test lint

setup:  ## uv (via pip if missing) and the locked environment
	@python3 -m uv --version >/dev/null 2>&1 || python3 -m pip install --quiet uv
	@$(UV) sync --frozen --quiet

serve: setup  ## simulate + train a champion if none exists, then serve on :$(PORT)
	$(UV) run compass ensure-champion
	$(UV) run bentoml serve serving.service:HitCompass --port $(PORT)

test: setup  ## lint and the whole suite
	$(UV) run ruff check .
	$(UV) run pytest
