# Two commands from a fresh clone (only Python needed): `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install demo test lint bench bench-full bench-gpu clean

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	# torch first, pinned: otherwise a dependency pulls the newest CUDA build (several GB).
	$(BIN)/python -m pip install -q torch==2.13.0
	$(BIN)/python -m pip install -q -c constraints.txt -e ".[dev,distributed]"
	touch $(STAMP)

install: $(STAMP)

# Train and evaluate the tiny offline model on the generated SocSci210 sample; log to MLflow.
demo: $(STAMP)
	HF_HUB_OFFLINE=1 $(BIN)/python train.py

# DeepSpeed's CPU ops compile once into the cache (g++ and ninja are needed, as on CI).
# Two pytest workers (pytest-xdist), a test module per worker: most tests wait on a train.py
# subprocess that keeps one core busy, so two at a time use both cores of a CI machine.
# TEST_WORKERS=0 runs everything in one process.
TEST_WORKERS ?= 2
test: $(STAMP)
	HF_HUB_OFFLINE=1 TORCH_EXTENSIONS_DIR=$(CURDIR)/.cache/torch_extensions $(BIN)/python -m pytest -q -n $(TEST_WORKERS) --dist loadscope

# Benchmarks (not tests): each figure beside its baseline, measured in the same run; writes
# benchmarks/results/*.json and benchmarks/RESULTS.md.
BENCHES := padding tokenize prepare socrates_train relext_train relext_prepare relext_realsize socrates_eval overheads
bench: $(STAMP)
	for b in $(BENCHES); do HF_HUB_OFFLINE=1 $(BIN)/python benchmarks/bench_$$b.py || exit 1; done
	$(BIN)/python benchmarks/report.py

# The prepare step on all 2.9M rows of generated SocSci210 (about 5 minutes on 2 cores; the
# shards, 300 MB, stay in .cache for the next run).
bench-full: $(STAMP)
	HF_HUB_OFFLINE=1 $(BIN)/python benchmarks/bench_prepare.py --scale 1.0 --no-baseline
	$(BIN)/python benchmarks/report.py

# On a machine with a CUDA GPU: real-shaped Qwen2.5 / Llama-3.1 models, full and LoRA, bf16
# (needs only torch, transformers and peft: `python3 benchmarks/bench_gpu.py` works without
# the venv on a machine that has them).
bench-gpu: $(STAMP)
	$(BIN)/python benchmarks/bench_gpu.py
	$(BIN)/python benchmarks/report.py

lint: $(STAMP)
	$(BIN)/ruff check .

clean:
	rm -rf outputs multirun .cache mlflow.db mlartifacts mlruns
