# The two commands a newcomer needs: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
PLAYER_STAMP := player/node_modules/.installed-stamp
# tus-js-client for the browser tests of direct uploads (test-only, never served by the app).
TUS_CLIENT_STAMP := tests/browser/tus/node_modules/.installed-stamp

.PHONY: run test test-fleet setup player lint fmt pytest clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $(STAMP)

$(PLAYER_STAMP): player/package.json player/package-lock.json
	cd player && npm ci --no-audit --no-fund
	touch $(PLAYER_STAMP)

$(TUS_CLIENT_STAMP): tests/browser/tus/package.json tests/browser/tus/package-lock.json
	cd tests/browser/tus && npm ci --no-audit --no-fund
	touch $(TUS_CLIENT_STAMP)

# One esbuild step builds the player and the dashboard's scripts (player/dist/dashboard/).
player/dist/vsrc-player.js: $(PLAYER_STAMP) player/build.mjs $(shell find player/src player/dashboard -type f -name "*.js" -o -type f -name "*.css")
	cd player && npm run build

# The player is built only once its sources exist.
ifneq ($(wildcard player/package.json),)
player: player/dist/vsrc-player.js
else
player:
endif

setup: $(STAMP) player $(TUS_CLIENT_STAMP)

run: setup
	$(BIN)/vsrc serve

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy

fmt: $(STAMP)
	$(BIN)/ruff format src tests bench
	$(BIN)/ruff check --fix src tests bench

# The suite runs on PYTEST_WORKERS parallel processes (pytest-xdist); each test module stays on one
# worker, so its module-scoped servers start once. Most tests wait on real time (publishers, encodes,
# browsers), hence more workers than cores. `PYTEST_WORKERS=0` runs serially; `PYTEST_ARGS='-m "not
# slow"'` skips the real encodes, processes and browsers (see docs/architecture.md, "Tests").
PYTEST_WORKERS ?= 4
PYTEST_ARGS ?=
PYTEST := $(BIN)/pytest -n $(PYTEST_WORKERS) --dist loadfile $(PYTEST_ARGS)

pytest: $(STAMP)
	$(PYTEST)

test: setup lint
ifneq ($(wildcard player/package.json),)
	cd player && npm test
endif
	$(PYTEST)

# "Fleet mode": the API, encode, live and webhook suites again with every test server on its own fresh
# PostgreSQL database and Redis database (queue + rate limits): see docs/architecture.md, "Tests".
# Needs Debian's postgresql and redis-server packages (.ci/run installs them).
FLEET_DIR ?= /tmp/vsrc-test-fleet
PG_PORT ?= 55432
REDIS_PORT ?= 56379
test-fleet: $(STAMP)
	mkdir -p $(FLEET_DIR)
	redis-server --port $(REDIS_PORT) --bind 127.0.0.1 --save "" --appendonly no --databases 256 --daemonize yes \
	  --pidfile $(FLEET_DIR)/redis.pid --logfile $(FLEET_DIR)/redis.log
	url=$$(scripts/pg-test-server.sh start $(FLEET_DIR)/pg $(PG_PORT)) && \
	TEST_POSTGRES_URL=$$url TEST_REDIS_URL=redis://127.0.0.1:$(REDIS_PORT) \
	  $(PYTEST) tests/api tests/tasks tests/live tests/webhooks tests/fleet; \
	rc=$$?; scripts/pg-test-server.sh stop $(FLEET_DIR)/pg; redis-cli -p $(REDIS_PORT) shutdown nosave; exit $$rc

clean:
	rm -rf $(VENV) player/node_modules player/dist tests/browser/tus/node_modules .pytest_cache .mypy_cache .ruff_cache
