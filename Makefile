# hostdesk: `make demo` opens the TUI on demo data, `make test` runs every test.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
DEMO_STAMP := $(VENV)/.demo-stamp
DEMO_DB ?= $(CURDIR)/demo.db

STRESS_SECONDS ?= 300
STRESS_ADMINS ?= 6

.PHONY: demo test bench stress install clean mariadb-server

# Two installs: the demo needs hostdesk alone; the tests add the PostgreSQL driver, the test
# tools and the example provisioning module. The test stamp implies the demo one.
$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(DEMO_STAMP): pyproject.toml | $(VENV)/bin/python
	$(BIN)/pip install --quiet -e .
	touch $(DEMO_STAMP)

$(STAMP): pyproject.toml tests/fixtures/hostdesk_example_module/pyproject.toml | $(VENV)/bin/python
	$(BIN)/pip install --quiet -e '.[postgres,test]'
	$(BIN)/pip install --quiet --no-deps -e tests/fixtures/hostdesk_example_module
	touch $(STAMP) $(DEMO_STAMP)

install: $(STAMP)

demo: $(DEMO_STAMP)
	rm -f $(DEMO_DB) $(DEMO_DB)-wal $(DEMO_DB)-shm
	$(BIN)/hostdesk --db sqlite:///$(DEMO_DB) demo

# Five workers on two cores: the screen and process tests spend much of their time waiting
# (same hour: three workers 633 s, four 549 s; another: four 662 s, five 555 s; every test
# passing). Since the PostgreSQL tests reuse their databases (tests/pg_databases.py): 399 s.
test: $(STAMP) mariadb-server
	$(BIN)/python -m pytest -q -n 5 --dist loadfile --durations=15

# The WHMCS import tests and its bench figure start a throw-away MariaDB server: install it
# when it is missing (as root, like CI; otherwise say how).
mariadb-server:
	@if ! command -v mariadbd >/dev/null 2>&1 && [ ! -x /usr/sbin/mariadbd ]; then \
		if [ "$$(id -u)" = 0 ]; then \
			DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
			DEBIAN_FRONTEND=noninteractive apt-get install -y -qq mariadb-server >/dev/null; \
		else echo "the WHMCS import tests need MariaDB: sudo apt-get install mariadb-server"; \
			exit 1; fi; fi

bench: $(STAMP) mariadb-server stress
	$(BIN)/python -m bench

# The concurrency stress test at full length: admins and the daily run on one database,
# on SQLite and PostgreSQL (`make test` runs it for a few seconds).
stress: $(STAMP)
	HOSTDESK_STRESS_SECONDS=$(STRESS_SECONDS) HOSTDESK_STRESS_ADMINS=$(STRESS_ADMINS) \
		$(BIN)/python -m pytest -q -s tests/test_stress.py

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache
