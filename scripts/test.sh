#!/usr/bin/env bash
# Runs every test: builds the package (the CLI binary the end-to-end tests start included), then
# runs the Swift Testing suites. Needs what .ci/run installs (libsqlite3-dev, sqlite3, python3 with
# prometheus-client, openapi-spec-validator and PyYAML).
set -euo pipefail
cd "$(dirname "$0")/.."
swift build --build-tests
swift test --skip-build "$@"
