#!/usr/bin/env bash
# Copies the Prometheus rule files of monitoring/rules/ (not their *.test.yml promtool tests) into
# the Helm chart (helm/sentinel/files/), which renders them into its PrometheusRule: a chart can
# read only files inside itself. Run it after changing a rule; Tests/deployment fails while the
# copies differ.
set -euo pipefail
cd "$(dirname "$0")/.."

src=monitoring/rules
dst=helm/sentinel/files
rules=()
for file in "$src"/*.yml; do
    case $file in *.test.yml) ;; *) [ -f "$file" ] && rules+=("$file") ;; esac
done
if [ ${#rules[@]} -eq 0 ]; then
    echo "sync-chart-rules.sh: no rule files in $src" >&2
    exit 1
fi
rm -f "$dst"/*.yml
cp "${rules[@]}" "$dst"/
echo "copied ${#rules[@]} rule file(s) from $src to $dst"
