# The two commands of the README: `make serve` and `make test`.
PYTHON ?= python3
# uv from PATH, else the copy pip installs for this Python (run as a module: PATH-independent).
UV := $(shell command -v uv 2>/dev/null || echo "$(PYTHON) -m uv")
SRC := src tests bench
# Python caches compiled modules only when allowed to. Some environments set this variable,
# and then every process (each test server, CLI run and pytest worker) compiled pushgate and
# its libraries from source again: 8.6 s to import the app instead of 3.5 s.
unexport PYTHONDONTWRITEBYTECODE

.PHONY: serve test uv test-packages lint typecheck security secrets-baseline pytest bench

uv:
	@$(UV) --version >/dev/null 2>&1 || { \
		echo "installing uv with pip"; \
		$(PYTHON) -m pip install --quiet --user uv 2>/dev/null \
		|| $(PYTHON) -m pip install --quiet --user --break-system-packages uv \
		|| $(PYTHON) -m pip install --quiet uv; }

# Debian packages the tests need: Chromium for the console's browser tests (Playwright drives
# it; no browser downloads), libfaketime for the clock-skew fault test.
test-packages:
	@scripts/ensure-package /usr/bin/chromium chromium
	@scripts/ensure-package /usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1 faketime

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

# Security checks (reliability.md S9; docs/operations.md, "Security checks").
# bandit: settings in pyproject.toml [tool.bandit]; any finding fails. Its warnings "nosec
#   encountered (B...), but no failed test" are dropped: bandit prints one for every other node
#   on a `# nosec` line (PyCQA/bandit#1041), so they say nothing. Everything else is shown.
# pip-audit: scripts/audit-dependencies audits uv.lock; a known vulnerability fails, an
#   unreachable vulnerability service is reported as an audit that could not run.
# detect-secrets: every file git tracks or would track (untracked, not ignored) against the
#   audited .secrets.baseline; a secret not in it fails. The hook runs on a copy of the baseline:
#   when only line numbers moved it rewrites its baseline and exits 3, which is no finding (and
#   must not leave .secrets.baseline modified). Two processes: ~30 s of CPU in all.
security: uv
	@echo "bandit: src"
	@status=0; out=$$($(UV) run --frozen bandit -c pyproject.toml -q -r src 2>&1) || status=$$?; \
		printf '%s\n' "$$out" | grep -v 'nosec encountered (B[0-9]*), but no failed test' || true; \
		[ $$status -ne 0 ] || echo "bandit: no issues"; exit $$status
	@echo "pip-audit: uv.lock"
	@UV="$(UV)" $(UV) run --frozen python scripts/audit-dependencies
	@echo "detect-secrets: files git tracks or would track, against .secrets.baseline"
	@git ls-files -z --cached --others --exclude-standard | xargs -0 -r -P 2 -n 128 sh -c ' \
		copy=$$(mktemp) && cp .secrets.baseline "$$copy" || exit 255; \
		out=$$($(UV) run --frozen detect-secrets-hook --baseline "$$copy" "$$@"); rc=$$?; \
		rm -f "$$copy"; [ -z "$$out" ] || [ $$rc -eq 3 ] || printf "%s\n" "$$out"; \
		[ $$rc -ne 3 ] || echo "line numbers in .secrets.baseline are stale: make secrets-baseline"; \
		[ $$rc -eq 0 ] || [ $$rc -eq 3 ]' detect-secrets
	@echo "detect-secrets: no secret outside .secrets.baseline"

# Re-catalogue the secrets of the same files into .secrets.baseline (one scan of all of them:
# the baseline keeps only what this scan finds), keeping the decisions already taken. Then
# `$(UV) run --frozen detect-secrets audit .secrets.baseline` asks about each new entry; a real
# secret is taken out of the repository and revoked, not kept in the baseline.
secrets-baseline: uv
	$(UV) run --frozen detect-secrets scan --baseline .secrets.baseline \
		$$(git ls-files --cached --others --exclude-standard)

# One pytest worker per core (pytest-xdist); pytest-cov gathers the workers' coverage.
pytest: uv test-packages
	$(UV) run --frozen pytest -n auto --cov --cov-report= $(PYTEST_ARGS)
	$(UV) run --frozen coverage report

test: lint typecheck security pytest

bench: uv
	$(UV) sync --frozen
	$(UV) run --frozen python bench/registrations.py
