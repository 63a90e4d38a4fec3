"""axe-core (vendored from the npm registry, tests/vendor/axe-core) on every main page, on a desktop and on a phone,
against the running demo: zero serious or critical violations. Totals per page are printed and written to
test-screenshots/axe-totals.json for a person to read."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from core.runtime import DemoContext
from tests.web.people_pages import MAIN_PAGES, resolve

pytestmark = pytest.mark.browser
ROOT = Path(__file__).resolve().parents[2]
AXE = ROOT / "tests" / "vendor" / "axe-core" / "axe.min.js"
SHOTS = ROOT / "test-screenshots"
PAGES = [*MAIN_PAGES, ("restocker", "kiosk", "/kiosk/LOCKER-1")]
RUN_AXE = """async () => {
  const result = await axe.run(document, {resultTypes: ['violations']});
  return result.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
    targets: v.nodes.slice(0, 3).map(n => n.target.join(' '))}));
}"""


def _axe(page: Any) -> list[dict[str, Any]]:
    page.add_script_tag(path=str(AXE))
    return list(page.evaluate(RUN_AXE))


def _record(name: str, found: list[dict[str, Any]]) -> None:
    SHOTS.mkdir(exist_ok=True)
    path = SHOTS / "axe-totals.json"
    totals = json.loads(path.read_text()) if path.exists() else {}
    counts: dict[str, int] = {}
    for v in found:
        counts[v["impact"] or "none"] = counts.get(v["impact"] or "none", 0) + 1
    totals[name] = {"counts": counts, "rules": sorted(v["id"] for v in found)}
    path.write_text(json.dumps(totals, indent=1, sort_keys=True))
    print(f"axe {name}: {counts or 'no violations'}")


@pytest.mark.parametrize("phone", [False, True], ids=["desktop", "phone"])
@pytest.mark.parametrize(("user", "name", "target"), PAGES, ids=[name for _u, name, _t in PAGES])
def test_no_serious_or_critical_violations(
    login_as: Callable[..., Any], people_demo: DemoContext, user: str, name: str, target: str, phone: bool
) -> None:
    page = login_as(user, phone=phone, bypass_csp=True)  # axe is injected as a script the page did not ship
    page.goto(resolve(page, people_demo.base_url, target))
    page.wait_for_load_state("networkidle")
    found = _axe(page)
    _record(f"{name}{' (phone)' if phone else ''}", found)
    bad = [v for v in found if v["impact"] in ("serious", "critical")]
    assert bad == [], f"{name}: {json.dumps(bad, indent=1)}"


def test_login_page_and_kiosk_signin_in_german(browser: Any, people_demo: DemoContext) -> None:
    context = browser.new_context(locale="de-DE", bypass_csp=True, extra_http_headers={"Accept-Language": "de-DE,de"})
    page = context.new_page()
    page.goto(people_demo.base_url + "/login")
    assert page.get_attribute("html", "lang") == "de"
    found = _axe(page)
    _record("login (de)", found)
    assert [v for v in found if v["impact"] in ("serious", "critical")] == []
    context.close()
