"""The ``app`` fixture: a function that starts the dashboard at a page (see ``_helpers.start``)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from streamlit.testing.v1 import AppTest

from tests.app._helpers import start


@pytest.fixture
def app() -> Callable[..., AppTest]:
    return start
