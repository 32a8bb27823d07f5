# The suite's commands. Each one installs and starts what it needs itself.
#   make run    the whole suite on this machine with demo data (Ctrl-C stops it)
#   make test   the test suite (real PostgreSQL, Kafka, SMTP and SMPP servers, Keycloak)
#   make fuzz   every service's OpenAPI fuzzed by schemathesis with a larger budget (no 5xx)
#   make keycloak  a local Keycloak with the suite's realm (prints OIDC_ISSUER for the services and console)
#   make screenshots  the console's browser tests, saving every screen to docs/screenshots/
#   make drill  the fault drills on their own servers; rewrites the drill table in docs/reliability.md

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: setup run test test-unit fuzz keycloak lint bench clean infra-up infra-down \
        console console-deps console-test browser screenshots drill

# requirements.txt is what the services run on (all the production image installs);
# requirements-dev.txt adds the tests, lint and the local infrastructure.
$(STAMP): requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements-dev.txt
	# The common library and the four service packages, importable from their folders; the
	# repository root for devtools/ (and bench/, tests/).
	printf '%s\n' "$(CURDIR)/shared" "$(CURDIR)/services/crm" "$(CURDIR)/services/eoms-bridge" \
	  "$(CURDIR)/services/sla" "$(CURDIR)/services/notify" "$(CURDIR)/services/stats" "$(CURDIR)" \
	  > "$$($(PY) -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')/groupsuite.pth"
	touch $(STAMP)

setup: $(STAMP)

# The ops console (console/): `npm ci` only when package-lock.json changed, `npm run build` only when
# its sources did (devtools/console_build.py keeps both hashes as stamps).
console-deps: setup
	$(PY) -m devtools.console_build --deps-only

console: setup
	$(PY) -m devtools.console_build

# Stale OpenAPI snapshots (a service's API changed, console/openapi/*.json not refreshed) fail here.
console-test: console-deps
	$(PY) console/scripts/openapi.py --check
	cd console && npm test

# The browser tests drive Debian's Chromium (never a downloaded browser), with a CJK font for the
# screenshots; installed only when missing.
browser: setup
	$(PY) -m devtools.testrun --ensure-chromium

run: setup
	$(PY) -m devtools.suite

# Three lanes side by side, each on servers of its own (devtools/testrun.py): services/, shared/ + tests/,
# and the console's build, unit tests, browser and Keycloak tests.
test: setup
	$(PY) -m devtools.testrun

screenshots: setup console browser
	GS_SCREENSHOTS_DIR=$(CURDIR)/docs/screenshots $(PY) -m pytest -q -p no:cacheprovider tests/browser

# GS_FUZZ_EXAMPLES cases per operation and generation mode (make test runs 2).
fuzz: setup
	GS_FUZZ_EXAMPLES=$${GS_FUZZ_EXAMPLES:-40} $(PY) -m pytest -q -p no:cacheprovider tests/security/test_security_fuzz.py

drill: setup
	$(PY) -m devtools.drill --table docs/reliability.md

keycloak: setup
	$(PY) -m devtools.keycloak up

test-unit: setup
	$(PY) -m pytest -q -p no:cacheprovider -m "not infra"

lint: setup console-deps
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy shared/backbone devtools services/crm/crm services/eoms-bridge/eoms_bridge services/sla/sla services/notify/notify services/stats/stats
	$(PY) console/scripts/openapi.py --check
	cd console && npm run lint && npm run typecheck

bench: setup console browser
	$(PY) -m bench.run_all

infra-up: setup
	$(PY) -m devtools.infra up

infra-down: setup
	$(PY) -m devtools.infra down

clean:
	-$(PY) -m devtools.infra down --profile run
	-$(PY) -m devtools.infra down --profile test
	rm -rf .data
