# Quick start: `make demo` and `make test`. Everything else is set up on demand.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
PYTHON ?= python3
STAMP := $(VENV)/.installed
NODE_STAMP := node_modules/.installed
export PYTHONDONTWRITEBYTECODE := 1
export NUMBA_CACHE_DIR := $(CURDIR)/.cache/numba

.PHONY: setup sysdeps demo test test-fast test-blender test-blender-matrix bench viseme-eval build head head-sheet corpus train lint clean

# Blender version matrix, run by `make test` after the main suite (whose .venv is bpy 4.5 LTS):
# <venv tag>:<bpy version>:<Python line>. The oldest is the manifest's blender_version_min (tests/test_build.py).
# A Python line without an interpreter on this machine is skipped (and reported); set PYTHON3_13=... to choose one.
BLENDER_MATRIX := 44:4.4.0:3.11 50:5.0.1:3.11 52:5.2.3:3.13 53:5.3.0:3.13
PYTHON3_11 ?= $(shell $(PYTHON) tools/blender_matrix.py find-python 3.11 2>/dev/null)
PYTHON3_13 ?= $(shell $(PYTHON) tools/blender_matrix.py find-python 3.13 2>/dev/null)

setup: sysdeps $(STAMP) $(NODE_STAMP)

sysdeps:
	@bash tools/ensure_system_deps.sh

# One pip call, one resolve: bpy pins numpy<2 and a second call would break it.
$(STAMP): requirements.txt requirements.lock pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info[:2] == (3, 11), "Python 3.11 is required (bpy 4.5 LTS wheels are cp311)"'
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check -r requirements.txt -c requirements.lock -e .
	@touch $@

# .venv-bpy<tag>: bpy and its Python line's pinned test requirements, in one resolve.
define bpy_venv
.venv-bpy$(1)/.installed-$(2): requirements-blender-py$(subst .,,$(3)).txt
	@test -n "$$(PYTHON$(subst .,_,$(3)))" || { echo "no Python $(3) interpreter found for bpy $(2)" >&2; exit 1; }
	rm -rf .venv-bpy$(1)
	$$(PYTHON$(subst .,_,$(3))) -m venv .venv-bpy$(1)
	.venv-bpy$(1)/bin/pip install -q --disable-pip-version-check -r $$< bpy==$(2)
	@touch $$@
endef
$(foreach e,$(BLENDER_MATRIX),$(eval $(call bpy_venv,$(word 1,$(subst :, ,$(e))),$(word 2,$(subst :, ,$(e))),$(word 3,$(subst :, ,$(e))))))

$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

demo: setup
	$(VENV)/bin/thunder generate thunder_blender/assets/demo_speech.wav --takes 4 --target demo --out out --name demo --format blend,glb,fbx,csv,json,png

test: setup
	$(PY) -m pytest -q
	@$(MAKE) --no-print-directory test-blender-matrix

test-fast: setup
	$(PY) -m pytest -m "not blender and not train" -q

test-blender: setup
	$(PY) -m pytest -m blender -q

# tests/blender under every Blender of BLENDER_MATRIX, each in its own venv (made on first use).
test-blender-matrix: setup
	@$(PYTHON) tools/blender_matrix.py run $(BLENDER_MATRIX)

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
