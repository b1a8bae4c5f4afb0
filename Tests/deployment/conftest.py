"""Fixtures of the deployment tests: the chart rendered with its default values and with
argocd/values-prod.yaml. The helpers are in deployment_helpers.py.

Run with `python3 -m pytest Tests/deployment` after the Swift build (the runtime tests start
.build/debug/registry-cli). Needs the packages .ci/run installs.
"""

from __future__ import annotations

from typing import Any

import pytest

from deployment_helpers import PROD_VALUES, Rendered, load_yaml


@pytest.fixture(scope="session")
def default_render() -> Rendered:
    return Rendered(None)


@pytest.fixture(scope="session")
def prod_values() -> dict[str, Any]:
    return load_yaml(PROD_VALUES)


@pytest.fixture(scope="session")
def prod_render(prod_values) -> Rendered:
    return Rendered(prod_values)
