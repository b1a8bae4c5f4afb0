#!/usr/bin/env bash
# Runs every test: builds the package (the CLI binary the end-to-end tests start included), runs
# the Swift Testing suites, then the deployment and monitoring suites (pytest), which render and
# validate the Helm chart, run the image's entrypoint as a process, and check the Prometheus rules
# and Grafana dashboard against a real Prometheus scraping the real service, and the Locust file
# against the service (Tests/loadtest, bounded runs of a few seconds), and the benchmark report's
# judgement of the targets (Tests/bench). Needs what .ci/run
# installs (see TESTING.md for each suite's needs).
set -euo pipefail
cd "$(dirname "$0")/.."
swift build --build-tests
swift test --skip-build "$@"
python3 -m pytest -q -rs -p no:cacheprovider Tests/deployment Tests/monitoring Tests/loadtest Tests/bench
