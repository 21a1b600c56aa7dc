# The two commands a newcomer needs: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
PLAYER_STAMP := player/node_modules/.installed-stamp

.PHONY: run test test-postgres setup player lint fmt pytest clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $(STAMP)

$(PLAYER_STAMP): player/package.json player/package-lock.json
	cd player && npm ci --no-audit --no-fund
	touch $(PLAYER_STAMP)

player/dist/vsrc-player.js: $(PLAYER_STAMP) $(wildcard player/src/*.js player/src/*.css)
	cd player && npm run build

# The player is built only once its sources exist.
ifneq ($(wildcard player/package.json),)
player: player/dist/vsrc-player.js
else
player:
endif

setup: $(STAMP) player

run: setup
	$(BIN)/vsrc serve

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/mypy

fmt: $(STAMP)
	$(BIN)/ruff format src tests bench
	$(BIN)/ruff check --fix src tests bench

pytest: $(STAMP)
	$(BIN)/pytest

test: setup lint
ifneq ($(wildcard player/package.json),)
	cd player && npm test
endif
	$(BIN)/pytest

# The database-facing suites again, each test server on a fresh PostgreSQL database
# (DESIGN.md: PostgreSQL is supported and tested). Needs Debian's postgresql package.
PG_DIR ?= /tmp/vsrc-test-pg
PG_PORT ?= 55432
test-postgres: $(STAMP)
	url=$$(scripts/pg-test-server.sh start $(PG_DIR) $(PG_PORT)) && \
	TEST_POSTGRES_URL=$$url $(BIN)/pytest tests/api tests/tasks tests/live; \
	rc=$$?; scripts/pg-test-server.sh stop $(PG_DIR); exit $$rc

clean:
	rm -rf $(VENV) player/node_modules player/dist .pytest_cache .mypy_cache .ruff_cache
