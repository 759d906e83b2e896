"""Browser fixtures shared with the e2e tests."""

from tests.e2e.conftest import browser, lab, open_tab  # noqa: F401 - fixtures
