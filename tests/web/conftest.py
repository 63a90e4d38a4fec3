"""Fixtures of the web browser tests: one running demo (fresh SQLite, every device simulated) shared by the phone,
accessibility and German-language tests, and a browser context per demo login."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from core.runtime import DemoContext


@pytest.fixture(scope="session")
def people_demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoContext]:
    """`vendtrack demo --no-shift` in this process, for tests that look at pages as people would."""
    from web.app import create_app
    from web.demo import _ServerThread, build_demo_app, start_demo
    from web.workers import WorkerSet

    instance = tmp_path_factory.mktemp("people-demo")
    app = build_demo_app(create_app, instance)
    server = _ServerThread(app, "127.0.0.1", 0)
    demo = start_demo(app, f"http://127.0.0.1:{server.port}", {})
    workers = WorkerSet(demo.workers)
    workers.start()
    server.start()
    try:
        yield demo
    finally:
        server.shutdown()
        workers.stop()


@pytest.fixture
def login_as(browser: Any, people_demo: DemoContext) -> Iterator[Callable[..., Any]]:
    """login_as("nurse", phone=True, locale="de-DE") -> a Playwright page signed in as that demo user."""
    from web.demo_logins import demo_password

    contexts: list[Any] = []

    def _open(user: str, phone: bool = False, locale: str = "en-GB", bypass_csp: bool = False) -> Any:
        size = {"width": 390, "height": 844} if phone else {"width": 1280, "height": 800}
        context = browser.new_context(
            viewport=size, is_mobile=phone, has_touch=phone, locale=locale, bypass_csp=bypass_csp
        )
        contexts.append(context)
        page = context.new_page()
        page.goto(people_demo.base_url + "/login")
        page.fill("input[name=username]", user)
        page.fill("input[name=password]", demo_password(user))
        page.click("button[type=submit]")
        page.wait_for_load_state()
        return page

    yield _open
    for context in contexts:
        context.close()
