# The suite's commands. Each one installs and starts what it needs itself.
#   make run    the whole suite on this machine with demo data (Ctrl-C stops it)
#   make test   the test suite (real PostgreSQL, Kafka, SMTP and SMPP servers, Keycloak)
#   make fuzz   every service's OpenAPI fuzzed by schemathesis with a larger budget (no 5xx)
#   make keycloak  a local Keycloak with the suite's realm (prints OIDC_ISSUER for the services and console)

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: setup run test test-unit fuzz keycloak lint bench clean infra-up infra-down

# requirements.txt is what the services run on (all the production image installs);
# requirements-dev.txt adds the tests, lint and the local infrastructure.
$(STAMP): requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements-dev.txt
	# The common library and the four service packages, importable from their folders; the
	# repository root for devtools/ (and bench/, tests/).
	printf '%s\n' "$(CURDIR)/shared" "$(CURDIR)/services/crm" "$(CURDIR)/services/eoms-bridge" \
	  "$(CURDIR)/services/sla" "$(CURDIR)/services/notify" "$(CURDIR)" \
	  > "$$($(PY) -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')/groupsuite.pth"
	touch $(STAMP)

setup: $(STAMP)

run: setup
	$(PY) -m devtools.suite

test: setup
	GS_TEST_FRESH_INFRA=1 $(PY) -m pytest -q -p no:cacheprovider

# GS_FUZZ_EXAMPLES cases per operation and generation mode (make test runs 2).
fuzz: setup
	GS_FUZZ_EXAMPLES=$${GS_FUZZ_EXAMPLES:-40} $(PY) -m pytest -q -p no:cacheprovider tests/security/test_security_fuzz.py

keycloak: setup
	$(PY) -m devtools.keycloak up

test-unit: setup
	$(PY) -m pytest -q -p no:cacheprovider -m "not infra"

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy shared/backbone devtools services/crm/crm services/eoms-bridge/eoms_bridge services/sla/sla services/notify/notify

bench: setup
	$(PY) -m bench.run_all

infra-up: setup
	$(PY) -m devtools.infra up

infra-down: setup
	$(PY) -m devtools.infra down

clean:
	-$(PY) -m devtools.infra down --profile run
	-$(PY) -m devtools.infra down --profile test
	rm -rf .data
