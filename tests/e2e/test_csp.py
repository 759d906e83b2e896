"""The pages run under the real policy in Chromium without a single CSP violation."""

from __future__ import annotations

import pytest

from accounts.models import Role
from tests.factories import MembershipFactory

pytestmark = pytest.mark.browser

LISTEN = """
window.__csp = [];
document.addEventListener('securitypolicyviolation',
  e => window.__csp.push(`${e.violatedDirective} ${e.blockedURI} ${e.sourceFile}:${e.lineNumber}`));
"""


def _visit(tab, url: str) -> tuple[list[str], list[str]]:
    csp_console: list[str] = []
    tab.page.on("console", lambda m: csp_console.append(m.text)
                if "Content Security Policy" in m.text or "Content-Security-Policy" in m.text
                else None)
    response = tab.page.goto(url)
    assert response is not None and response.status == 200
    assert "script-src 'self'" in response.headers["content-security-policy"]
    tab.page.wait_for_load_state("networkidle")
    return tab.page.evaluate("window.__csp"), csp_console


def test_labeling_project_and_dashboard_pages_log_no_csp_violation(open_tab, lab, live_server):
    pi = MembershipFactory(project=lab.project, role=Role.PI).user
    p = lab.project.pk
    for user, path in ((lab.annotator, f"/projects/{p}/label/"), (pi, f"/projects/{p}/"),
                       (pi, f"/projects/{p}/dashboard/"), (pi, f"/projects/{p}/models/"),
                       (pi, f"/projects/{p}/analysis/")):
        tab = open_tab(user)
        tab.page.context.add_init_script(LISTEN)
        events, console = _visit(tab, f"{live_server.url}{path}")
        assert events == [], (path, events)
        assert console == [], (path, console)
        tab.assert_no_console_errors()
