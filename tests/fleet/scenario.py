"""The fleet scenario the multi-process test checks and bench/fleet_partition.py measures.

1. Both edges take the initial configuration; a worker deactivated and a rule changed centrally reach both.
2. Limits across edges online: W1 takes gloves at edge A; edge B hears of it and refuses past the limit.
3. Partition: both edges' networks are cut while workers keep dispensing on both (W3 takes gloves at both
   edges, each deciding alone); the network comes back; every event arrives once, the central stock and ledger
   agree with the edges', and the overrun across edges is reported.
4. Edge B's credential is revoked: it stops syncing and says why.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select

from core.fleet_feed import current_version
from core.fleet_models import FleetEdge, FleetFact, FleetOverrun
from tests.fleet.harness import FleetRig, cli, wait_for
from vending.models import Rule, Worker

DISPENSED = "vending.item_dispensed"
LEVEL = "vending.stock_level_changed"


@dataclass
class Figures:
    config_reached_s: float = 0.0  # central change -> applied on both edges
    sent: int = 0
    received: int = 0
    duplicates: int = 0
    lost: int = 0
    converge_s: float = 0.0  # network back -> every event at the central server, both backlogs empty
    drain_s: float = 0.0  # first to last fact received after the network came back
    backlog_during_cut: dict[str, int] = field(default_factory=dict)
    overruns: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _version(rig: FleetRig) -> int:
    with rig.factory() as s:
        return current_version(s)


def _both_at(rig: FleetRig, version: int) -> bool:
    return all(edge.ask("state")["version"] >= version for edge in rig.edges.values())


def configuration_reaches_edges(rig: FleetRig, figures: Figures) -> None:
    wait_for(lambda: _both_at(rig, _version(rig)), 180, "both edges to take the initial configuration")
    with rig.factory() as s, s.begin():
        worker = s.scalar(select(Worker).where(Worker.worker_code == "W4"))
        rule = s.scalar(select(Rule).where(Rule.name == "Ear plugs per day"))
        assert worker is not None and rule is not None
        worker.active, rule.quantity = False, 999
    started = time.monotonic()
    wait_for(lambda: _both_at(rig, _version(rig)), 180, "both edges to apply the worker and rule change")
    figures.config_reached_s = time.monotonic() - started
    for name, edge in rig.edges.items():
        state = edge.ask("state")
        assert state["workers"]["W4"] is False, f"{name} still has W4 active"
        assert state["rules"]["Ear plugs per day"] == 999, f"{name} has the old rule"
        refused = edge.ask("dispense 1 W4 12")
        assert refused["completed"] == 0 and "not active" in refused["refused"][0], refused


def limits_across_edges_online(rig: FleetRig, figures: Figures) -> None:
    a, b = rig.edges["edge-a"], rig.edges["edge-b"]
    assert a.ask("dispense 3 W1 11")["completed"] == 3
    wait_for(lambda: b.ask("state")["remote_usage"].get("W1") == 3, 180, "edge B to hear of W1's gloves at A")
    answer = b.ask("dispense 3 W1 11")
    assert answer["completed"] == 1, answer  # 3 at A + 1 here = the limit of 4
    assert "Gloves per day" in answer["refused"][0], answer
    figures.notes.append(f"online: W1 took 3 gloves at A, B allowed 1 more and refused 2 ({answer['refused'][0]})")


def partition(rig: FleetRig, figures: Figures, per_edge: int) -> None:
    for proxy in rig.proxies.values():
        proxy.cut()
    for edge in rig.edges.values():
        assert edge.ask("dispense 3 W3 11")["completed"] == 3  # each edge alone: within the limit of 4
        done = edge.ask(f"dispense {per_edge} W2,W3 12")
        assert done["completed"] == per_edge, done
    for name, edge in rig.edges.items():
        figures.backlog_during_cut[name] = edge.ask("state")["backlog"]
    started, restored_at = time.monotonic(), datetime.now(UTC)
    for proxy in rig.proxies.values():
        proxy.restore()
    sent = {key for edge in rig.edges.values() for key in edge.ask("state")["dispensed_events"]}

    def arrived() -> bool:
        got = rig.central_scalar(select(func.count()).select_from(FleetFact).where(FleetFact.event_type == DISPENSED))
        return got >= len(sent) and all(e.ask("state")["backlog"] == 0 for e in rig.edges.values())

    wait_for(arrived, 300, "every event to reach the central server")
    figures.converge_s = time.monotonic() - started
    first, last = rig.central_rows(
        select(func.min(FleetFact.received_at), func.max(FleetFact.received_at)).where(
            FleetFact.received_at >= restored_at
        )
    )[0]
    figures.drain_s = (last - first).total_seconds() if first and last else 0.0
    rows = rig.central_rows(select(FleetFact.event_key).where(FleetFact.event_type == DISPENSED))
    received = [r[0] for r in rows]
    figures.sent, figures.received = len(sent), len(received)
    figures.duplicates = len(received) - len(set(received))
    figures.lost = len(sent - set(received))


def books_agree(rig: FleetRig) -> list[str]:
    """Central ledger (sum of dispensed facts) and stock (last level reported) per site and item vs each edge."""
    problems = []
    issued = {
        (site, sku): int(n)
        for site, sku, n in rig.central_rows(
            select(FleetFact.site_code, FleetFact.sku, func.sum(FleetFact.quantity))
            .where(FleetFact.event_type == DISPENSED)
            .group_by(FleetFact.site_code, FleetFact.sku)
        )
    }
    levels: dict[tuple[str, str], int] = {}
    for site, sku, on_hand in rig.central_rows(
        select(FleetFact.site_code, FleetFact.sku, FleetFact.on_hand)
        .where(FleetFact.event_type == LEVEL)
        .order_by(FleetFact.occurred_at, FleetFact.id)
    ):
        levels[(site, sku)] = int(on_hand)
    for name, edge in rig.edges.items():
        site = {"edge-a": "PA", "edge-b": "PB"}[name]
        state = edge.ask("state")
        for sku, n in state["issued"].items():
            if issued.get((site, sku), 0) != n:
                problems.append(f"{name} {sku}: issued {n} on the edge, {issued.get((site, sku), 0)} centrally")
        for sku, n in state["stock"].items():
            if levels.get((site, sku)) != n:
                problems.append(f"{name} {sku}: {n} on hand on the edge, {levels.get((site, sku))} centrally")
    return problems


def overruns(rig: FleetRig) -> list[str]:
    rows = rig.central_rows(select(FleetOverrun.worker, FleetOverrun.rule_name, FleetOverrun.used, FleetOverrun.sites))
    return [f"{w}: {rule} used {used} ({sites})" for w, rule, used, sites in rows]


def revoke_stops_edge(rig: FleetRig) -> str:
    cli(rig.central_env, "fleet", "revoke", "edge-b", "--reason", "replaced by new hardware")
    b = rig.edges["edge-b"]
    state = wait_for(lambda: (s := b.ask("state"))["stopped"] and s, 180, "edge B to stop syncing")
    assert "replaced by new hardware" in state["stopped"], state
    status = cli(rig.edge_env["edge-b"], "edge", "status")
    assert "STOPPED" in status and "replaced by new hardware" in status, status
    edge = rig.central_scalar(select(FleetEdge).where(FleetEdge.name == "edge-b"))
    assert edge is not None and edge.revoked_at is not None
    return str(state["stopped"])


def run(rig: FleetRig, per_edge: int) -> tuple[Figures, list[str], str]:
    figures = Figures()
    for edge in rig.edges.values():
        edge.ask("restock 1000")
    configuration_reaches_edges(rig, figures)
    limits_across_edges_online(rig, figures)
    partition(rig, figures, per_edge)
    problems = books_agree(rig)
    reported = lambda: any(o.startswith("W3: Gloves per day used 6") for o in overruns(rig))  # noqa: E731
    wait_for(reported, 120, "the overrun report")
    figures.overruns = overruns(rig)
    why = revoke_stops_edge(rig)
    return figures, problems, why


def describe(figures: Figures) -> dict[str, Any]:
    return {
        "config_reached_s": round(figures.config_reached_s, 2),
        "sent": figures.sent,
        "received": figures.received,
        "duplicates": figures.duplicates,
        "lost": figures.lost,
        "converge_s": round(figures.converge_s, 2),
        "drain_s": round(figures.drain_s, 2),
        "backlog_during_cut": figures.backlog_during_cut,
        "overruns": figures.overruns,
    }
