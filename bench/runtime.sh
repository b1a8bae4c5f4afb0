#!/usr/bin/env bash
# Builds the release benchmark binary and a venv with the training libraries (Python >= 3.12, as
# xgboost-cpu 3.4.1 requires), then runs bench/runtime.py. Single-threaded on both sides.
set -euo pipefail
cd "$(dirname "$0")/.."
swift build -c release --product sentinel-bench >/dev/null
venv=${BENCH_VENV:-.venv-bench}
if [ ! -x "$venv/bin/python" ]; then
    python=$(command -v python3.13 || command -v python3.12 || true)
    [ -n "$python" ] || { echo "bench/runtime.sh needs python3.12 or newer for xgboost-cpu 3.4.1" >&2; exit 1; }
    "$python" -m venv "$venv"
fi
# The venv may be bench/serve.sh's, made for the peer, without LightGBM.
if ! "$venv/bin/python" -c 'import lightgbm, xgboost' 2>/dev/null; then
    "$venv/bin/pip" install --quiet -r models/requirements.txt
fi
# One thread for every library underneath (OpenMP, BLAS).
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1
exec "$venv/bin/python" bench/runtime.py "$@"
