# The two commands a newcomer needs: `make run` and `make test`.
# Each creates .venv if missing and installs the pinned requirements.txt.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.requirements-installed
PORT ?= 8501

.PHONY: run test demo lint clean-db

$(STAMP): requirements.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	@touch $(STAMP)

run: $(STAMP)
	$(PY) cli.py demo
	$(VENV)/bin/streamlit run server.py --server.port $(PORT)

test: $(STAMP)
	$(PY) -m pytest -n 2 --dist loadfile   # two workers (the machine's two cores); a file's tests stay together

demo: $(STAMP)
	$(PY) cli.py demo --force

lint: $(STAMP)
	$(VENV)/bin/ruff check .

clean-db:
	rm -f var/eldercare.db var/eldercare.db-wal var/eldercare.db-shm
