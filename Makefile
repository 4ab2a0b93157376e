# The two commands of the README: `make serve` and `make test`.
PYTHON ?= python3
# uv from PATH, else the copy pip installs for this Python (run as a module: PATH-independent).
UV := $(shell command -v uv 2>/dev/null || echo "$(PYTHON) -m uv")
SRC := src tests bench
# Python caches compiled modules only when allowed to. Some environments set this variable,
# and then every process (each test server, CLI run and pytest worker) compiled pushgate and
# its libraries from source again: 8.6 s to import the app instead of 3.5 s.
unexport PYTHONDONTWRITEBYTECODE

.PHONY: serve test uv chromium lint typecheck pytest bench

uv:
	@$(UV) --version >/dev/null 2>&1 || { \
		echo "installing uv with pip"; \
		$(PYTHON) -m pip install --quiet --user uv 2>/dev/null \
		|| $(PYTHON) -m pip install --quiet --user --break-system-packages uv \
		|| $(PYTHON) -m pip install --quiet uv; }

# Debian's Chromium for the console's browser tests (Playwright drives it; no browser downloads).
chromium:
	@scripts/ensure-chromium

serve: uv
	$(UV) sync --frozen --no-dev
	$(UV) run --frozen --no-dev pushgate serve $(SERVE_ARGS)

lint: uv
	$(UV) sync --frozen
	$(UV) run --frozen ruff format --check $(SRC)
	$(UV) run --frozen ruff check $(SRC)

typecheck: uv
	$(UV) run --frozen mypy
	$(UV) run --frozen lint-imports

# One pytest worker per core (pytest-xdist); pytest-cov gathers the workers' coverage.
pytest: uv chromium
	$(UV) run --frozen pytest -n auto --cov --cov-report= $(PYTEST_ARGS)
	$(UV) run --frozen coverage report

test: lint typecheck pytest

bench: uv
	$(UV) sync --frozen
	$(UV) run --frozen python bench/registrations.py
