# evalkit: `make quickstart` (a real budget-forcing sweep on this CPU) and `make test`.
# VENV can point elsewhere (CI keeps one outside the clone so the 3.5 GB engine install is reused).
VENV ?= .venv
PYTHON ?= python3
PY := $(VENV)/bin/python
EVALKIT := $(VENV)/bin/evalkit
EXTRAS ?= cpu,dev,lmeval,contamination
STAMP := $(VENV)/.evalkit-deps-$(shell cat pyproject.toml | sha256sum | cut -c1-12)
# `make test` fails (instead of skipping) the tests whose engine, browser or cluster is missing; set one
# to 0 to skip those tests (e.g. `EVALKIT_REQUIRE_SLURM=0 make test` where Slurm cannot be installed).
EVALKIT_REQUIRE_ENGINE ?= 1
EVALKIT_REQUIRE_BROWSER ?= 1
EVALKIT_REQUIRE_SLURM ?= 1
export EVALKIT_REQUIRE_ENGINE EVALKIT_REQUIRE_BROWSER EVALKIT_REQUIRE_SLURM

.PHONY: install quickstart test services lint docs clean-results soak

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[$(EXTRAS)]'
	# PyPI's torchvision/torchaudio/torchcodec builds break `import transformers` beside torch+cpu
	$(PY) -m pip uninstall --quiet -y torchvision torchaudio torchcodec
	rm -f $(VENV)/.evalkit-deps-*
	touch $(STAMP)

install: $(STAMP)
	PYTHONWARNINGS=ignore $(PY) -m pip install --quiet --no-deps -e .

# --within 15: on a CPU whose measured (or the project's reference) tokens/s cannot generate the whole sweep's
# trees in 15 minutes, the first problems that fit run instead, and the run says so (an AVX2-only CPU: about half)
quickstart: install
	$(EVALKIT) models install qwen2.5-coder-0.5b
	$(EVALKIT) sweep sweeps/quickstart.yaml --within 15

# System services the tests need (Debian's chromium; a one-node Slurm cluster), installed and started
# when missing; reused when present.
services:
	bash tests/services/up

test: install services lint
	$(EVALKIT) models install smollm2-135m
	VENV=$(VENV) bash tests/services/suite

# The tests that wait on real processes, SOAK_N times (default 5) with a CPU hog beside them (tests/services/soak):
# run before submitting a change to the engine, server, Slurm or kill/resume paths.
soak: install services
	$(EVALKIT) models install smollm2-135m
	VENV=$(VENV) bash tests/services/soak

# The rules the code follows (pyproject.toml, [tool.ruff.lint]), the types (mypy, [tool.mypy]) and the documentation built with warnings as
# errors (mkdocs.yml; no network needed); `make test` runs it first, so CI does. Never --quiet: it hides the
# warnings that --strict fails on.
lint: install
	$(VENV)/bin/ruff check evalkit tests benchmarks docs setup.py
	$(VENV)/bin/mypy  # strict on records, store, analyze, claims ([tool.mypy] in pyproject.toml)
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict

# The documentation site, served at http://127.0.0.1:8000 while you edit docs/ or docstrings.
docs: install
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs serve

clean-results:
	find results -mindepth 1 -maxdepth 1 ! -name README.md -exec rm -rf {} +
