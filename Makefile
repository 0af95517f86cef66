# Two commands on a fresh machine: `make demo` and `make test`. Each installs what it needs.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
# The image parity check's environment: the processing image's Python and libraries (scripts/image_parity.py).
IMAGE_VENV := .venv-image
CDK := node_modules/.bin/cdk
ENVIRONMENTS := dev prod
ENGINES := self-hosted managed
MODEL := model/build/model.tar.gz
# What the deployed baseline job profiles: the model's score in place of the label, then the inputs
# (captured rows are output then input; see workshop/baseline.py).
BASELINE_DATA := model/build/baseline-dataset.csv
# What the model-quality baseline profiles: probability,prediction,label on the held-out rows.
VALIDATION_DATA := model/build/validation-predictions.csv
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: help setup lambda-wheels model lint actionlint test pytest image-parity browser synth synth-all cfn-lint demo clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

$(VENV)/.installed: requirements.txt requirements-dev.txt requirements-image.txt requirements-parity.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11 or newer is required (found " + sys.version.split()[0] + ")")'
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	@touch $@

node_modules/.installed: package.json package-lock.json
	@command -v npm >/dev/null || { echo "npm is required (Node.js 20 or newer) for the CDK CLI"; exit 1; }
	npm ci --no-audit --no-fund --silent
	@touch $@

# The Lambda runner's numpy/pyarrow wheels (arm64, Python 3.14) and the x86_64 build its package test imports;
# fetched once by pip for those platforms (no Docker), reused by every synth.
lambda-wheels: $(VENV)/.installed ## Download the Lambda runner's wheels for its platform (cached)
	$(PY) -m scripts.lambda_wheels
	$(PY) -m scripts.lambda_wheels --python 3.13 --machine x86_64

setup: $(VENV)/.installed node_modules/.installed lambda-wheels ## Create .venv, install the CDK CLI locally, fetch the Lambda runner's wheels (idempotent)

$(MODEL): $(VENV)/.installed model/synthetic.py model/train.py
	$(PY) -m model.train

$(BASELINE_DATA): $(MODEL) workshop/baseline.py
	$(PY) -m workshop baseline-dataset --out $@

$(VALIDATION_DATA): $(MODEL) workshop/baseline.py
	$(PY) -m workshop validation-dataset --out $@

model: $(MODEL) $(BASELINE_DATA) $(VALIDATION_DATA) ## Generate the synthetic data, train the model, write the baseline datasets

lint: setup ## ruff
	$(VENV)/bin/ruff check .

# actionlint and shellcheck come from requirements-dev.txt as wheels that carry the binaries (offline install).
actionlint: setup ## actionlint (with shellcheck) on .github/workflows
	$(VENV)/bin/actionlint -shellcheck=$(VENV)/bin/shellcheck .github/workflows/*.yml

pytest: setup $(MODEL) $(BASELINE_DATA) $(VALIDATION_DATA) browser
	$(PY) -m pytest

# Built by .venv's Python (order only: a .venv update does not rebuild it).
$(IMAGE_VENV)/.installed: requirements-image.txt requirements-parity.txt | $(VENV)/.installed
	$(PY) -m scripts.image_parity setup $(IMAGE_VENV)
	@touch $@

image-parity: $(IMAGE_VENV)/.installed $(MODEL) $(BASELINE_DATA) $(VALIDATION_DATA) ## The analyzer's tests and baselines under the processing image's Python and libraries
	$(PY) -m scripts.image_parity check $(IMAGE_VENV)

# The HTML report test renders the page in Debian's chromium; install it when it is missing.
browser: ## Install Debian's chromium (headless, for the HTML report test) if missing
	@command -v chromium >/dev/null || { echo "installing chromium (apt-get) for the HTML report test"; \
	  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; } || \
	  { echo "could not install chromium: install it (Debian/Ubuntu: apt-get install chromium) and retry"; exit 1; }; }

synth: setup model ## cdk synth of one environment to cdk.out/ (ENV=dev|prod, ENGINE=...)
	$(CDK) synth -q -c env=$(or $(ENV),dev) $(if $(ENGINE),-c engine=$(ENGINE)) -o cdk.out

synth-all: setup model ## cdk synth of every environment and engine to cdk.out.<env>-<engine>/
	@set -e; for env in $(ENVIRONMENTS); do for engine in $(ENGINES); do \
	  echo "cdk synth env=$$env engine=$$engine"; \
	  $(CDK) synth -q -c env=$$env -c engine=$$engine -o cdk.out.$$env-$$engine > /dev/null; \
	done; done

# cfn-lint's exit code is a bit mask: 2 = errors (fail), 4 = warnings, 8 = informational.
cfn-lint: synth-all ## cfn-lint on every synthesized template (errors fail)
	@rc=0; $(VENV)/bin/cfn-lint cdk.out.*/*.template.json || rc=$$?; \
	if (( rc & 2 )); then echo "cfn-lint found errors"; exit 1; fi; echo "cfn-lint: no errors"

test: lint actionlint pytest image-parity cfn-lint ## Everything CI runs: ruff, actionlint, pytest, the image parity check, synth of every environment, cdk-nag, cfn-lint

demo: setup model synth ## The whole monitoring loop offline (emulated AWS), then what a deploy would create
	$(PY) -m workshop demo
	@echo; echo "== What 'cdk deploy' would create (cdk.out, env=dev)"
	$(PY) -m scripts.deploy_summary cdk.out

clean: ## Remove generated files (keeps .venv, .venv-image and node_modules)
	rm -rf cdk.out cdk.out.* model/build build
