"""`.ci/check_imports.py` on tiny packages built for the test: it fails on a loop, a sibling or an upward import,
and on an import inside a function that does not say why it is deferred."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / ".ci" / "check_imports.py"


def _package(root: Path, files: dict[str, str]) -> Path:
    """Write `files` ({"core/a.py": source}) under `root`, each folder a package."""
    for name, source in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        (path.parent / "__init__.py").touch()
        path.write_text(source, encoding="utf-8")
    return root


def _check(root: Path) -> tuple[int, str]:
    done = subprocess.run([sys.executable, str(SCRIPT), str(root)], capture_output=True, text=True, timeout=120)
    return done.returncode, done.stdout


def test_a_loop_hidden_inside_a_function_fails_and_names_both_edges(tmp_path: Path) -> None:
    root = _package(tmp_path, {
        "vending/rules.py": "def check():\n    from vending.rule_cache import CACHE\n    return CACHE\n",
        "vending/rule_cache.py": "from vending.rules import check\n\nCACHE = {}\n",
    })  # fmt: skip
    code, out = _check(root)
    assert code == 1
    assert "import loop between vending.rule_cache, vending.rules" in out
    assert "vending/rules.py:2: vending.rules -> vending.rule_cache" in out
    assert "vending/rule_cache.py:1: vending.rule_cache -> vending.rules" in out


def test_a_loop_through_three_modules_and_relative_imports_fails(tmp_path: Path) -> None:
    root = _package(tmp_path, {
        "web/app.py": "from . import cli\n",
        "web/cli.py": "from .demo import run\n",
        "web/demo.py": "from web.app import create_app\n\ndef run(): ...\n",
    })  # fmt: skip
    code, out = _check(root)
    assert code == 1 and "import loop between web.app, web.cli, web.demo" in out


def test_an_import_between_sibling_domains_fails(tmp_path: Path) -> None:
    root = _package(tmp_path, {"procurement/stock.py": "import vending.ledger\n", "vending/ledger.py": ""})
    code, out = _check(root)
    assert code == 1
    assert "procurement/stock.py:1: procurement may not import vending.ledger" in out


def test_upward_imports_fail(tmp_path: Path) -> None:
    root = _package(tmp_path, {
        "core/events.py": "from tracking import models\n",
        "tracking/models.py": "",
        "vending/kiosk.py": "def page():\n    from web.auth import is_allowed\n",
        "web/auth.py": "def is_allowed(): ...\n",
    })  # fmt: skip
    code, out = _check(root)
    assert code == 1
    assert "core/events.py:1: core may not import tracking.models" in out
    assert "vending/kiosk.py:2: vending may not import web.auth" in out


def test_an_import_inside_a_function_without_a_reason_fails_and_names_the_fix(tmp_path: Path) -> None:
    root = _package(tmp_path, {
        "core/db.py": "def engine():\n    from sqlalchemy.pool import StaticPool\n    return StaticPool\n",
        "vending/plugin.py": (
            "class Reader:\n"
            "    def __init__(self):\n"
            "        import json\n"
            "        self.load = lambda: __import__('json')\n"
        ),
    })  # fmt: skip
    code, out = _check(root)
    assert code == 1
    assert "core/db.py:2: import inside a function; move it to the top of the module" in out
    assert "vending/plugin.py:3: import inside a function" in out
    assert "`# deferred: <reason>`" in out
    assert "import check: 2 problem(s)" in out


def test_an_import_inside_a_function_that_says_why_it_waits_passes(tmp_path: Path) -> None:
    root = _package(tmp_path, {
        "web/serve.py": (
            "from typing import TYPE_CHECKING\n"
            "if TYPE_CHECKING:\n"
            "    import json\n"
            "class Server:\n"
            "    import os\n"
            "def run():\n"
            "    import waitress  # deferred: waitress, only for the one-process fallback\n"
            "    from migrations import (\n"
            "        upgrade,  # deferred: alembic (heavy), only to migrate\n"
            "    )\n"
        ),
    })  # fmt: skip
    assert _check(root) == (0, "import check: 0 problem(s)\n")


def test_a_clean_tree_passes(tmp_path: Path) -> None:
    root = _package(tmp_path, {
        "core/events.py": "import json\n",
        "vending/ledger.py": "from core import events\n",
        "procurement/stock.py": "from core.events import json\n",
        "web/app.py": "from vending import ledger\nfrom procurement import stock\n",
    })  # fmt: skip
    assert _check(root) == (0, "import check: 0 problem(s)\n")


def test_this_repository_passes() -> None:
    code, out = _check(SCRIPT.parents[1])
    assert code == 0, out
