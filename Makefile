# Quick start: `make demo` and `make test`. Everything else is set up on demand.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
PYTHON ?= python3
STAMP := $(VENV)/.installed
NODE_STAMP := node_modules/.installed
export PYTHONDONTWRITEBYTECODE := 1
export NUMBA_CACHE_DIR := $(CURDIR)/.cache/numba

.PHONY: setup sysdeps demo test test-fast test-blender bench viseme-eval build head head-sheet corpus train lint clean

setup: sysdeps $(STAMP) $(NODE_STAMP)

sysdeps:
	@bash tools/ensure_system_deps.sh

# One pip call, one resolve: bpy pins numpy<2 and a second call would break it.
$(STAMP): requirements.txt requirements.lock pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info[:2] == (3, 11), "Python 3.11 is required (bpy 4.5 LTS wheels are cp311)"'
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check -r requirements.txt -c requirements.lock -e .
	@touch $@

$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

demo: setup
	$(VENV)/bin/thunder generate thunder_blender/assets/demo_speech.wav --takes 4 --target demo --out out --name demo --format blend,glb,fbx,csv,json,png

test: setup
	$(PY) -m pytest -q

test-fast: setup
	$(PY) -m pytest -m "not blender and not train" -q

test-blender: setup
	$(PY) -m pytest -m blender -q

bench: setup
	$(PY) -m thunder_train.bench --out bench.json

# Oculus/VRM visemes against pocketsphinx-aligned phones of the Asterisk en/es/fr prompts (docs/VISEMES.md).
viseme-eval: setup
	$(PY) -m thunder_train.evaluation.viseme_eval --per-lang 40 --out out/viseme_eval.json

build: setup
	$(PY) build.py

head: setup
	$(PY) -m thunder_train.head.build

head-sheet: setup
	$(PY) -m thunder_train.head.sheet --out out/head_sheet.png

corpus: setup
	$(VENV)/bin/thunder-train corpus --out data/corpus

train: setup
	$(VENV)/bin/thunder-train all --out models

lint: setup
	$(VENV)/bin/ruff check .

clean:
	rm -rf out dist build .pytest_cache
