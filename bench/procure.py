"""Procurement benchmark: replenishment at scale on SQLite, and reportlab PO PDFs beside WeasyPrint.

(a) 5,000 items × 20 sites = 100,000 reorder policies (70 % min/max, 30 % automatic reorder point), one or
    two supplier items per item with price breaks, stock levels for every pair, and 1,000,000 dispense
    events over 60 days loaded into the demand aggregates (day totals + rolling Σq/Σq², what the event
    consumer keeps incrementally). Timed: one full replenishment run (load positions, policies, demand,
    open orders, decide, choose suppliers, round, write merged draft lines, commit); then 100 new
    dispense events go through the real consumer handler and an incremental run (dirty pairs only) is timed.
    On SQLite the write-ahead log is checkpointed by a thread of its own, as `vendtrack serve` and `vendtrack
    workers` run it (core.wal), not inside the commit of a run that writes more than 1000 pages.
(b) A 10-line and a 500-line PO rendered by procurement.pdf (reportlab) and, in the same run, the same PO
    as HTML rendered by WeasyPrint; time per PDF and the ratio.

Run: python bench/procure.py [--scale 4] [--items 5000 --sites 20 --events 1000000] [--database-url URL]
`--scale N` multiplies the items and the events (N = 4: 20,000 items × 20 sites = 400,000 policies and 4,000,000
events); the targets stay the same. `--database-url postgresql+psycopg://...` runs part (a) on a fresh database made
on that server (each full run on its own copy, `CREATE DATABASE ... TEMPLATE`), dropped afterwards.
Needs WeasyPrint (pip install weasyprint; system pango): without it part (b) says so and the script exits 1.
"""

from __future__ import annotations

import argparse
import html
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from sqlalchemy import create_engine, insert, select, text
from sqlalchemy.engine import make_url

from core.clock import ManualClock
from core.db import make_engine, make_session_factory, unit_of_work
from core.events import Event, ItemDispensed, StockLevelChanged
from core.models import Item, Site
from core.wal import WalCheckpointer, checkpointers_for
from migrations.models import load_all_models
from procurement import pdf
from procurement.documents import LineRow, Party, PoContext
from procurement.models import (
    PriceBreak,
    ReorderPolicy,
    StockView,
    Supplier,
    SupplierItem,
)
from procurement.replenish import replenish
from procurement.stock import Dispense, backfill_demand, handle_event

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
WINDOW = 90


def build(factory: object, items: int, sites: int, events: int, rng: random.Random) -> dict[str, float]:
    """Master data, policies, stock and demand history; returns setup timings."""
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    with unit_of_work(factory) as s:  # type: ignore[arg-type]
        s.execute(insert(Site), [{"code": f"S{n:02d}", "name": f"Site {n}"} for n in range(sites)])
        s.execute(insert(Item), [{"sku": f"SKU-{n:05d}", "name": f"Item {n}", "category": ("c1", "c2", "c3")[n % 3],
                                  "unit_of_measure": "EA", "unit_cost": Decimal("1"), "active": True}
                                 for n in range(items)])  # fmt: skip
        s.execute(insert(Supplier), [{"code": f"SUP{n}", "name": f"Supplier {n}", "email": f"s{n}@x.example",
                                      "currency": "USD", "payment_terms": "Net 30", "address": "", "active": True}
                                     for n in range(5)])  # fmt: skip
        site_ids = list(s.scalars(select(Site.id).order_by(Site.id)))
        item_ids = list(s.scalars(select(Item.id).order_by(Item.id)))
        si_rows = []
        for n, item_id in enumerate(item_ids):
            for k in range(1 + (n % 5 == 0)):
                si_rows.append({"supplier_id": (n + k) % 5 + 1, "item_id": item_id, "supplier_part_number": f"P{n}-{k}",
                                "description": "", "pack_qty": rng.choice((1, 1, 6, 10, 12)), "unit_of_measure": "EA",
                                "moq": 1, "order_multiple": 1, "lead_time_days": rng.randint(3, 20),
                                "priority": 10 - k, "last_price": None})  # fmt: skip
        s.execute(insert(SupplierItem), si_rows)
        si_ids = list(s.scalars(select(SupplierItem.id)))
        s.execute(insert(PriceBreak), [{"supplier_item_id": i, "min_qty": q, "unit_price": p} for i in si_ids
                                       for q, p in ((1, Decimal("2.50")), (100, Decimal("2.10")))])  # fmt: skip
        policies, stock = [], []
        for item_id in item_ids:
            for site_id in site_ids:
                rop = rng.random() < 0.3
                policies.append(
                    {
                        "item_id": item_id,
                        "site_id": site_id,
                        "kind": "auto_rop" if rop else "min_max",
                        "min_qty": 20,
                        "max_qty": 60,
                        "reorder_level": 0,
                        "reorder_qty": 0,
                        "lookback_days": WINDOW,
                        "service_level": Decimal("0.95"),
                        "cover_days": 14,
                        "order_cost": None,
                        "holding_rate": None,
                        "cost_center_id": None,
                        "active": True,
                    }
                )
                stock.append({"item_id": item_id, "site_id": site_id, "on_hand": rng.randint(0, 200),
                              "level_at": NOW, "dirty": False, "dirty_at": None})  # fmt: skip
        s.execute(insert(ReorderPolicy), policies)
        s.execute(insert(StockView), stock)
    timings["master_s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    today = NOW.date()
    history = (
        Dispense(rng.choice(item_ids), rng.choice(site_ids), today - timedelta(days=rng.randrange(60)),
                 rng.randint(1, 4))
        for _ in range(events)
    )  # fmt: skip
    with unit_of_work(factory) as s:  # type: ignore[arg-type]
        timings["day_rows"] = backfill_demand(s, history, today, WINDOW)
    timings["history_s"] = time.perf_counter() - t0
    return timings


def _events(rng: random.Random, skus: list[str], sites: int, clock: ManualClock) -> list[Event]:
    """100 dispenses at random pairs, half of them followed by their new (low) stock level."""
    new: list[Event] = []
    for n in range(100):
        sku, site = rng.choice(skus), f"S{rng.randrange(sites):02d}"
        new.append(ItemDispensed(occurred_at=clock.now(), site_code=site, sku=sku, quantity=3, worker="w",
                                 machine="m", slot="A1"))  # fmt: skip
        if n % 2 == 0:
            new.append(StockLevelChanged(occurred_at=clock.now(), site_code=site, sku=sku, on_hand=rng.randint(0, 30),
                                         min_level=20, max_level=60, low=True))  # fmt: skip
    return new


class Copies:
    """A base database to build once and fresh copies of it for each timed full run: SQLite files or, on
    PostgreSQL, databases made with `CREATE DATABASE ... TEMPLATE base` (all dropped at the end)."""

    def __init__(self, server_url: str | None, folder: Path) -> None:
        self.server_url, self.folder = server_url, folder
        self.made: list[str] = []
        self.prefix = f"vt_procure_{os.getpid()}"

    def url(self, name: str) -> str:
        if self.server_url is None:
            return f"sqlite:///{self.folder / (name + '.db')}"
        return make_url(self.server_url).set(database=f"{self.prefix}_{name}").render_as_string(hide_password=False)

    def _admin(self, statement: str) -> None:
        assert self.server_url is not None
        admin = create_engine(self.server_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(statement))
        admin.dispose()

    def base(self) -> str:
        if self.server_url is not None:
            self._admin(f'CREATE DATABASE "{self.prefix}_base"')
            self.made.append(f"{self.prefix}_base")
        return self.url("base")

    def copy(self, name: str) -> str:
        if self.server_url is None:
            base, copy = self.folder / "base.db", self.folder / f"{name}.db"
            shutil.copy(base, copy)
            if Path(f"{base}-wal").exists():
                shutil.copy(f"{base}-wal", f"{copy}-wal")
        else:
            self._admin(f'CREATE DATABASE "{self.prefix}_{name}" TEMPLATE "{self.prefix}_base"')
            self.made.append(f"{self.prefix}_{name}")
        return self.url(name)

    def drop_all(self) -> None:
        for name in reversed(self.made):
            self._admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def part_a(items: int, sites: int, events: int, repeat: int, server_url: str | None) -> tuple[float, float]:
    """Median of `repeat` full runs (each on a fresh copy of the database) and of `repeat` incremental rounds."""
    rng = random.Random(7)
    with tempfile.TemporaryDirectory() as tmp:
        copies = Copies(server_url, Path(tmp))
        try:
            return _part_a(copies, items, sites, events, repeat, rng)
        finally:
            copies.drop_all()


def _part_a(
    copies: Copies, items: int, sites: int, events: int, repeat: int, rng: random.Random
) -> tuple[float, float]:
    engine = make_engine(copies.base())
    load_all_models().create_all(engine)
    setup = build(make_session_factory(engine), items, sites, events, rng)
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE"))  # what autovacuum does after a bulk load, before the first run
    engine.dispose()  # SQLite: the last connection to close checkpoints the WAL into the file
    print(f"database: {engine.dialect.name}")
    print(f"setup: {items} items × {sites} sites = {items * sites} policies in {setup['master_s']:.1f} s; "
          f"{events} dispense events → {int(setup['day_rows'])} day rows + rolling sums in "
          f"{setup['history_s']:.1f} s")  # fmt: skip
    print("    WAL checkpoints: in a thread of their own, as `vendtrack serve` and `vendtrack workers` run them "
          "(core.wal.checkpointers_for), not inside the commit that crosses 1000 pages")  # fmt: skip
    fulls = []
    checkpointers: list[WalCheckpointer] = []
    for n in range(repeat):
        engine = make_engine(copies.copy(f"run{n}"))
        checkpointers = checkpointers_for(engine)  # none on PostgreSQL
        for checkpointer in checkpointers:
            checkpointer.start()
        factory = make_session_factory(engine)
        clock = ManualClock(NOW)
        t0 = time.perf_counter()
        with unit_of_work(factory) as s:
            report = replenish(s, clock)
        fulls.append(time.perf_counter() - t0)
        if n < repeat - 1:
            _stop(checkpointers)
            engine.dispose()
    runs = ", ".join(f"{x:.3f}" for x in fulls)
    print(f"(a) full replenishment: {statistics.median(fulls):.3f} s median of {runs} — {report.examined} "
          f"item×site policies, {report.lines_created} lines on {report.pos_created} draft POs, "
          f"{len(report.problems)} problems")  # fmt: skip
    with factory() as s:
        skus = list(s.execute(select(Item.sku)).scalars())
    consumes, incs = [], []
    for _ in range(repeat):
        clock.advance(minutes=10)
        new = _events(rng, skus, sites, clock)
        t0 = time.perf_counter()
        with unit_of_work(factory) as s:
            for evt in new:
                handle_event(s, evt)
        consumes.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        with unit_of_work(factory) as s:
            inc = replenish(s, clock, only_dirty=True)
        incs.append(time.perf_counter() - t0)
    t0 = time.perf_counter()
    with unit_of_work(factory) as s:
        replenish(s, clock, only_dirty=True)
    idle = time.perf_counter() - t0
    print(f"    100 new dispense events (+50 stock levels) through the consumer handler: "
          f"{statistics.median(consumes) * 1000:.1f} ms median")  # fmt: skip
    print(f"    incremental replenishment after them: {statistics.median(incs) * 1000:.1f} ms median of "
          f"{', '.join(f'{x * 1000:.1f}' for x in incs)} — last: {inc.examined} dirty pairs, {inc.lines_created} "
          f"new + {inc.lines_merged} merged lines; a run with nothing dirty: {idle * 1000:.1f} ms")  # fmt: skip
    _stop(checkpointers)
    engine.dispose()
    return statistics.median(fulls), statistics.median(incs)


def _stop(checkpointers: list[WalCheckpointer]) -> None:
    for checkpointer in checkpointers:
        checkpointer.stop()  # its last checkpoint, outside the timings


def po_context(lines: int) -> PoContext:
    rows = tuple(
        LineRow(n, f"SKU-{n:05d}", f"SP-{n}-Ω", f"Item {n} — nitrile gloves size L & <b>bold</b> 手套", 6 * n, "EA",
                Decimal("9.20"), Decimal("9.20") * 6 * n)
        for n in range(1, lines + 1)
    )  # fmt: skip
    subtotal = sum((r.extended for r in rows), Decimal("0"))
    tax = (subtotal * Decimal("0.08")).quantize(Decimal("0.01"))
    return PoContext(
        "PO-000042", "approved", "USD", NOW, Party("Riverside Purchasing", ("Dock 2", "Springfield"), "PLANT1"),
        Party("<b>Acme & Sons</b> Ωμέγα 深圳", ("12 Foundry Lane", "Springfield"), "ACME", "o@acme.example"),
        Party("Plant One", ("Dock 2", "Springfield"), "PLANT1"), rows, subtotal, Decimal("0.08"), tax, subtotal + tax,
        "Net 30", "user:ann", NOW,
    )  # fmt: skip


def po_html(ctx: PoContext) -> str:
    from reportlab.graphics import renderSVG
    from reportlab.graphics.barcode import createBarcodeDrawing

    svg = renderSVG.drawToString(createBarcodeDrawing("Code128", value=ctx.po_number, barHeight=30))
    svg = svg[svg.find("<svg") :]
    e = html.escape
    body = "".join(
        f"<tr><td>{r.line_number}</td><td>{e(r.sku)}</td><td>{e(r.supplier_part_number)}</td><td>{e(r.description)}"
        f"</td><td class=n>{r.quantity}</td><td>{r.unit}</td><td class=n>{r.unit_price:,.2f}</td>"
        f"<td class=n>{r.extended:,.2f}</td></tr>"
        for r in ctx.lines
    )
    return f"""<!doctype html><html><head><meta charset="utf-8"><style>
@page {{ size: A4; margin: 38mm 15mm 18mm 15mm;
  @top-left {{ content: "PURCHASE ORDER {ctx.po_number}"; font: bold 14pt "DejaVu Sans"; }}
  @bottom-right {{ content: "Page " counter(page) " of " counter(pages); font: 8pt "DejaVu Sans"; }} }}
body {{ font: 8.5pt "DejaVu Sans", "WenQuanYi Micro Hei", sans-serif; }}
table {{ width: 100%; border-collapse: collapse; }} thead {{ display: table-header-group; }}
th {{ background: #2b4a6f; color: white; text-align: left; }} td.n {{ text-align: right; }}
td, th {{ border-bottom: 0.25pt solid #ccc; padding: 1pt 2pt; vertical-align: top; }}
</style></head><body>{svg}
<table><tr><td><b>Buyer</b><br>{e(ctx.buyer.name)}<br>{"<br>".join(map(e, ctx.buyer.lines))}</td>
<td><b>Supplier</b><br>{e(ctx.supplier.name)}<br>{"<br>".join(map(e, ctx.supplier.lines))}</td>
<td><b>Ship to</b><br>{e(ctx.ship_to.name)}<br>{"<br>".join(map(e, ctx.ship_to.lines))}</td></tr></table>
<table><thead><tr><th>Line</th><th>SKU</th><th>Supplier part</th><th>Description</th><th>Qty</th><th>Unit</th>
<th>Unit price</th><th>Extended</th></tr></thead><tbody>{body}</tbody></table>
<p>Subtotal {ctx.subtotal:,.2f} · Tax {ctx.tax:,.2f} · <b>Total {ctx.currency} {ctx.total:,.2f}</b></p>
<p>Terms: {e(ctx.terms)}</p><p><b>{e(pdf.approval_statement(ctx))}</b></p></body></html>"""


def timed(fn: object, repeat: int) -> float:
    samples = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()  # type: ignore[operator]
        samples.append(time.perf_counter() - t0)
    return statistics.median(samples)


def part_b() -> float | None:
    try:
        from weasyprint import HTML
    except (ImportError, OSError) as exc:
        print(f"(b) WeasyPrint is not available ({type(exc).__name__}: {exc}).")
        print("    Install it to compare: pip install weasyprint (needs libpango-1.0-0 libpangoft2-1.0-0).")
        return None
    ratios = []
    for lines, repeat_rl, repeat_wp in ((10, 10, 3), (500, 3, 1)):
        ctx = po_context(lines)
        pdf.render(ctx)  # fonts registered, first-call costs out of the timing
        markup = po_html(ctx)
        HTML(string=markup).write_pdf() if lines == 10 else None
        rl = timed(lambda ctx=ctx: pdf.render(ctx), repeat_rl)
        wp = timed(lambda markup=markup: HTML(string=markup).write_pdf(), repeat_wp)
        ratios.append(wp / rl)
        print(f"(b) {lines:>3}-line PO: reportlab {rl * 1000:8.1f} ms/PDF, WeasyPrint {wp * 1000:8.1f} ms/PDF, "
              f"×{wp / rl:.1f}")  # fmt: skip
    return min(ratios)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=int, default=1, help="multiplies --items and --events (4: the 4x size)")
    parser.add_argument("--items", type=int, default=5000)
    parser.add_argument("--sites", type=int, default=20)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3, help="runs per figure; the median is reported")
    parser.add_argument("--database-url", help="a PostgreSQL server URL: part (a) runs on databases made there")
    args = parser.parse_args()
    if args.scale < 1:
        parser.error("--scale must be 1 or more")
    items, events = args.items * args.scale, args.events * args.scale
    full, incremental = part_a(items, args.sites, events, args.repeat, args.database_url)
    speedup = part_b()
    ok_full, ok_inc = full <= 2.0, incremental * 1000 <= 100
    ok_pdf = speedup is not None and speedup >= 5
    speed_text = f"{speedup:.1f}" if speedup is not None else "n/a (WeasyPrint missing)"
    verdict = {True: "met", False: "missed"}
    print(f"targets: full_replenish_s={full:.2f} (<=2.0) {verdict[ok_full]}; "
          f"incremental_ms={incremental * 1000:.1f} (<=100) {verdict[ok_inc]}; "
          f"pdf_speedup={speed_text} (>=5) {verdict[ok_pdf]}")  # fmt: skip
    sys.exit(0 if ok_full and ok_inc and ok_pdf else 1)


if __name__ == "__main__":
    main()
