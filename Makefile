# beamsim: two set-up commands that work on a fresh machine.
#   make demo   creates .venv, installs, runs the card end to end on the default data set (umi): generate,
#               distill --spc 50 --bits 6, a random coreset of the same size, and one table (full data
#               vs the distilled set vs the coreset: top-1, within 1 dB, bytes, compression ratio)
#   make test   creates/updates .venv, installs (with the [ray] and [tf] extras), runs the test suite
#               (the docs build included)
#   make docs   creates/updates .venv, installs, builds the documentation site into site/
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
EXTRAS := $(VENV)/.installed-extras

.PHONY: demo test docs install llvm clean

install: $(STAMP)

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# torch first, pinned to the CPU build that lies on these machines' disk: a bare `torch`
# would pull a multi-GB CUDA build. Then beamsim with every dependency at the version that
# constraints.txt pins, so a fresh clone computes the bytes the golden test recorded.
$(STAMP): $(BIN)/python pyproject.toml setup.py constraints.txt
	$(BIN)/python -m pip install -q torch==2.13.0
	$(BIN)/python -m pip install -q -c constraints.txt -e ".[test,docs]"
	touch $(STAMP)

# The optional extras [ray] and [tf] (Ray; tensorflow-cpu), pinned too: `make test` installs
# them so that their tests run here and in CI; `make demo` does without them.
$(EXTRAS): $(STAMP)
	$(BIN)/python -m pip install -q -c constraints.txt -e ".[ray,tf]"
	touch $(EXTRAS)

# Sionna RT on the CPU needs LLVM >= 16 (Debian's 14/15 abort in Dr.Jit). Install libllvm19
# with apt when apt is there and no usable libLLVM is found; beamsim points Dr.Jit at it.
llvm:
	@if ls /usr/lib/*/libLLVM-1[6-9]*.so* /usr/lib/*/libLLVM.so.1[6-9]* /usr/lib/*/libLLVM-[2-9][0-9]*.so* /usr/lib/llvm-1[6-9]/lib/libLLVM*.so* >/dev/null 2>&1; then \
		echo "libLLVM >= 16 found"; \
	elif command -v apt-get >/dev/null 2>&1; then \
		SUDO=""; [ "$$(id -u)" = 0 ] || SUDO="sudo -n"; \
		($$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq libllvm19) \
			|| echo "warning: could not install libllvm19; the Sionna RT scenarios will not run on the CPU"; \
	else \
		echo "warning: no apt-get; install LLVM >= 16 and set DRJIT_LIBLLVM_PATH for the Sionna RT scenarios"; \
	fi

# The card: one evaluation run per set keeps it within minutes on 2 cores (`beamsim evaluate --runs 5`
# on one file gives the mean and spread). The coreset has the distilled set's samples per class.
CARD     := data/distilled/umi-card-spc50-6bit.h5
CORESET  := data/distilled/umi-card-random-coreset-spc50.h5

demo: $(STAMP) llvm
	$(BIN)/beamsim generate --scenario umi
	$(BIN)/beamsim distill --spc 50 --bits 6 --out $(CARD)
	$(BIN)/beamsim distill --spc 50 --objective none --quantizer none --init real --out $(CORESET)
	$(BIN)/beamsim evaluate --train data/umi.h5 --train $(CARD) --train $(CORESET) --runs 1

test: $(STAMP) $(EXTRAS) llvm
	$(BIN)/python -m pytest -q

# Strict: a warning (broken link, docstring the API reference cannot parse, failing example) fails
# the build. NO_MKDOCS_2_WARNING silences the Material theme's notice about a future MkDocs 2.
docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --site-dir site

clean:
	rm -rf $(VENV) build dist site *.egg-info
