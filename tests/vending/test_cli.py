"""`vendtrack vending ...` commands through Flask's CLI runner."""

from __future__ import annotations

from pathlib import Path

from flask import Flask

from tests.vending.conftest import seed_world


def test_import_export_pick_list_reconcile_overdue(app: Flask, tmp_path: Path) -> None:
    seed_world(app.extensions["vendtrack"].session_factory)
    runner = app.test_cli_runner()
    csv_file = tmp_path / "items.csv"
    csv_file.write_text("sku,name,category\nCLI-1,Cable ties,general\n,nameless,x\n")
    result = runner.invoke(args=["vending", "import", "items", str(csv_file)])
    assert result.exit_code == 2 and "1 rows imported, 1 rejected" in result.output
    assert "line 3: sku is empty" in result.output
    exported = runner.invoke(args=["vending", "export", "items"])
    assert exported.exit_code == 0 and "CLI-1,Cable ties,general" in exported.output
    assert "every slot is at its maximum" in runner.invoke(args=["vending", "pick-list", "L1"]).output
    assert runner.invoke(args=["vending", "reconcile"]).exit_code == 0
    assert "0 overdue, 0 newly reported" in runner.invoke(args=["vending", "overdue"]).output
