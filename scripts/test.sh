#!/usr/bin/env bash
# The whole test suite: PyTorch reference tests, then the TypeScript unit/parity tests, then the
# browser tests in headless Chromium. Stops at the first failing stage.
set -euo pipefail
cd "$(dirname "$0")/.."
echo "== reference (pytest)"
/usr/bin/python3 -m pytest -q models/train/tests
echo "== engine (vitest)"
npx vitest run
if [ -d test/browser ] && ls test/browser/*.test.ts >/dev/null 2>&1; then
	echo "== browser (playwright + chromium)"
	npx vitest run --config test/browser/vitest.config.ts
fi
