#!/usr/bin/env bash
# Builds Sentinel's container image from the Dockerfile at the top of the repository, with
# Docker if it is installed, else Podman (ENGINE=docker|podman chooses).
# Usage: scripts/build-image.sh [TAG]      (default TAG: sentinel:dev)
set -euo pipefail
cd "$(dirname "$0")/.."

tag=${1:-sentinel:dev}
engine=${ENGINE:-}
if [ -z "$engine" ]; then
    for candidate in docker podman; do
        if command -v "$candidate" >/dev/null 2>&1; then
            engine=$candidate
            break
        fi
    done
fi
if [ -z "$engine" ]; then
    echo "build-image.sh: neither docker nor podman is installed" >&2
    exit 1
fi
if ! command -v "$engine" >/dev/null 2>&1; then
    echo "build-image.sh: $engine is not installed" >&2
    exit 1
fi

echo "Building $tag with $engine" >&2
# Podman writes OCI images by default, which drop HEALTHCHECK; the docker format keeps it.
format_args=()
if [ "$(basename "$engine")" = podman ]; then
    format_args=(--format docker)
fi
# (The ${a[@]+...} form keeps bash 3.2, macOS's, happy with an empty array under set -u.)
"$engine" build ${format_args[@]+"${format_args[@]}"} --tag "$tag" --file Dockerfile .
