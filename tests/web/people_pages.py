"""The main pages people use, by role, and the in-page measurements the phone and accessibility tests share."""

from __future__ import annotations

import time
from typing import Any

# (who opens it, name for screenshots, path or a finder below). The staff's and approver's pages are phone-first.
MAIN_PAGES: list[tuple[str, str, str]] = [
    ("nurse", "home", "/"),
    ("nurse", "locate", "/tracking/?q=pump"),
    ("nurse", "nearest-available", "/tracking/?type=infusion_pump&from=ICU-1"),
    ("nurse", "asset", "asset"),
    ("nurse", "par", "/tracking/par"),
    ("nurse", "alerts", "/tracking/alerts"),
    ("approver", "po-queue", "/procurement/"),
    ("approver", "po", "po"),
    ("restocker", "pick-list", "/vending/restock/1"),
    ("restocker", "vending", "/vending/"),
    ("admin", "usage", "/vending/reports/usage"),
    ("admin", "utilisation", "/tracking/utilisation"),
    ("admin", "users", "/admin/users"),
    ("buyer", "suppliers", "/procurement/suppliers"),
]

# Every control a finger or a keyboard can reach. A link inside a sentence is exempt (WCAG 2.5.8 inline exception);
# a checkbox counts with its label.
MEASURE_JS = """() => {
  const doc = document.documentElement, small = [];
  const sel = 'a[href], button, input:not([type=hidden]), select, textarea, summary, [role=button], [role=tab]';
  for (const el of document.querySelectorAll(sel)) {
    let r = el.getBoundingClientRect();
    const st = getComputedStyle(el);
    if (!r.width || !r.height || st.visibility === 'hidden' || el.closest('[hidden]')) continue;
    if (el.tagName === 'A' && st.display === 'inline') {
      const p = el.parentElement;
      if (p && p.textContent.trim().length > el.textContent.trim().length + 2) continue;
    }
    const label = el.closest('label');
    if ((el.type === 'checkbox' || el.type === 'radio') && label) r = label.getBoundingClientRect();
    if (r.height < 43.5 || r.width < 43.5) {
      const text = (el.textContent || el.name || '').trim().slice(0, 24);
      const name = (el.id ? '#' + el.id : el.tagName.toLowerCase()) + ' "' + text + '"';
      small.push(name + ' ' + Math.round(r.width) + 'x' + Math.round(r.height));
    }
  }
  return {overflow: doc.scrollWidth - doc.clientWidth, small: small};
}"""


def resolve(page: Any, base: str, target: str) -> str:
    """A page's URL: paths as they are; "asset" and "po" are found from the lists the user sees."""
    if target == "asset":
        page.goto(base + "/tracking/?q=pump")
        return base + str(page.get_attribute("#results a[href*='/tracking/assets/']", "href"))
    if target == "po":  # one waiting for approval if there is one (another test may have decided it), else any
        deadline = time.monotonic() + 30  # the demo's first orders appear a few seconds after it starts
        while True:
            for status in ("pending_approval", ""):
                page.goto(base + "/procurement/?status=" + status)
                if page.locator("tr[data-po]").count():
                    return base + "/procurement/po/" + str(page.get_attribute("tr[data-po]", "data-po"))
            if time.monotonic() > deadline:
                raise AssertionError("the demo made no purchase order within 30 s of starting")
            time.sleep(0.5)
    return base + target
