# Quick start: `make demo` and `make test`. Everything below installs itself into .venv/.
PYTHON ?= python3
VENV := $(CURDIR)/.venv
UV := $(shell command -v uv 2>/dev/null || echo $(VENV)/bootstrap/bin/uv)
AIRFLOW3 ?= 3.3.2
AIRFLOW2 ?= 2.11.*
AF3 := $(VENV)/af3
AF2 := $(VENV)/af2
PYTEST_ARGS ?= --durations=15
# Two pytest-xdist workers (this machine's two cores): the real deployments (marker `scheduler`) run one
# after another on one of them while the other takes the rest; `make test XDIST=` runs everything in turn.
XDIST ?= -n 2 --dist loadgroup

.PHONY: test test3 test2 lint docs demo bench bench-peers soak clean redis-server chromium postgresql

$(VENV)/bootstrap/bin/uv:
	$(PYTHON) -m venv $(VENV)/bootstrap
	$(VENV)/bootstrap/bin/pip install --quiet --disable-pip-version-check uv

# One venv per supported Airflow line; reinstalled when the dependencies, the version or these recipes change.
$(AF3)/.installed: pyproject.toml airflow_provider_akinon/__init__.py Makefile | $(UV)
	$(UV) venv --quiet --allow-existing --python $(PYTHON) $(AF3)
	$(UV) pip install --quiet --python $(AF3) -e ".[test,iceberg]" "apache-airflow==$(AIRFLOW3)"
	touch $@

# cryptography 51 (December 2026) made MultiFernet a Rust object: Airflow 2.11.2's get_fernet() sets an
# attribute on it and fails, so every connection with a password fails to load wherever a fernet key is set.
# Airflow's own constraints pin cryptography; without them (no GitHub here) the pin is ours.
$(AF2)/.installed: pyproject.toml airflow_provider_akinon/__init__.py Makefile | $(UV)
	$(UV) venv --quiet --allow-existing --python $(PYTHON) $(AF2)
	$(UV) pip install --quiet --python $(AF2) -e ".[test]" "apache-airflow==$(AIRFLOW2)" "cryptography<51"
	touch $@

# The peers `make bench` measures (benchmarks/peers.py), in a venv of their own, at the versions measured:
# dlt's rest_api source into its filesystem destination (Parquet through pyarrow), Meltano's Singer SDK;
# compiled to bytecode, as a deployment has it (PYTHONDONTWRITEBYTECODE here would compile every import anew).
PEERS := $(VENV)/peers
PEER_PINS := "dlt[parquet]==1.31.0" "pyarrow==26.0.1" "singer-sdk==0.54.9"
$(PEERS)/.installed: Makefile | $(UV)
	$(UV) venv --quiet --allow-existing --python $(PYTHON) $(PEERS)
	$(UV) pip install --quiet --reinstall --compile-bytecode --python $(PEERS) $(PEER_PINS)
	touch $@

# ruff; mypy (clean outside the shipped fake); the house rules no linter knows (scripts/check_house.py)
lint: $(AF3)/.installed
	$(AF3)/bin/ruff check airflow_provider_akinon dags tests benchmarks scripts
	$(AF3)/bin/ruff format --check airflow_provider_akinon dags tests benchmarks scripts
	$(AF3)/bin/mypy airflow_provider_akinon
	$(AF3)/bin/python scripts/check_house.py

# The Celery test needs a Redis server: Debian's, installed when missing (root, as on CI).
redis-server:
	@command -v redis-server >/dev/null || { apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends redis-server >/dev/null; }

# The chaos soak runs Airflow's metadata database and the tenant's on Debian's PostgreSQL: installed when missing.
postgresql:
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || { apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql >/dev/null; }

# The browser test (tests/dags/test_browser.py) drives Debian's Chromium with Playwright: installed when missing.
chromium:
	@command -v chromium >/dev/null || { apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null; }

# the documentation (docs/, Sphinx), warnings as errors
docs: $(AF3)/.installed
	$(AF3)/bin/sphinx-build -q -W --keep-going -b html docs docs/_build/html

test: lint docs test3 test2

test3: $(AF3)/.installed redis-server chromium postgresql
	@echo "== pytest on Airflow $(AIRFLOW3) =="
	$(AF3)/bin/python -m pytest -q $(XDIST) $(PYTEST_ARGS)

test2: $(AF2)/.installed
	@echo "== pytest on Airflow $(AIRFLOW2) =="
	$(AF2)/bin/python -m pytest -q $(XDIST) $(PYTEST_ARGS)

demo: $(AF3)/.installed
	$(AF3)/bin/python scripts/demo.py

bench: $(AF3)/.installed $(PEERS)/.installed
	$(AF3)/bin/python benchmarks/bench.py

# The peers alone (benchmarks/peers.py: dlt and a Singer tap, and this provider in the same servers).
bench-peers: $(AF3)/.installed $(PEERS)/.installed
	$(AF3)/bin/python benchmarks/peers.py

# A whole deployment killed at random for 20 minutes (AKINON_SOAK_SEED replays a run); prints its table.
soak: $(AF3)/.installed redis-server postgresql
	mkdir -p test-artifacts
	AKINON_SOAK_MINUTES=$${AKINON_SOAK_MINUTES:-20} AKINON_SOAK_DAYS=$${AKINON_SOAK_DAYS:-14} \
		AKINON_SOAK_REPORT=$${AKINON_SOAK_REPORT:-test-artifacts/soak.md} \
		$(AF3)/bin/python -m pytest -q -s -p no:cacheprovider -m soak tests/soak

clean:
	rm -rf $(VENV) .pytest_cache docs/_build docs/_generated test-artifacts
