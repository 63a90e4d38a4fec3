"""The location engine alone: windows, margin and dwell, calibration, radius, unknown, silent gateways."""

from __future__ import annotations

from tracking.engine import EngineConfig, FloorModel, GatewaySpec, LocationEngine


def _engine(offsets: dict[str, float] | None = None, radius: dict[str, float] | None = None) -> LocationEngine:
    offsets = offsets or {}
    gateways = {
        gw: GatewaySpec(gw, zone, offsets.get(gw, 0.0)) for gw, zone in (("gw-a", "A"), ("gw-b", "B"), ("gw-c", "C"))
    }
    return LocationEngine(FloorModel(gateways, radius or {}), EngineConfig(window_s=15, margin_db=3, dwell_s=3))


def _feed(engine: LocationEngine, start: float, end: float, levels: dict[str, int], tag: str = "t") -> None:
    t = start
    while t < end:
        for gateway, rssi in levels.items():
            engine.observe(tag, gateway, rssi, -59, t)
        t += 1.0


def test_first_fix_is_immediate_and_reason_is_recorded() -> None:
    engine = _engine()
    _feed(engine, 0, 3, {"gw-a": -60, "gw-b": -75})
    [change] = engine.drain_changes()
    assert (change.from_zone, change.to_zone) == (None, "A")
    assert "gw-a strongest at -60 dBm" in change.reason.english()
    assert 0.5 < change.confidence <= 1.0


def test_challenger_needs_margin_and_dwell() -> None:
    engine = _engine()
    _feed(engine, 0, 20, {"gw-a": -60, "gw-b": -75})
    engine.drain_changes()
    _feed(engine, 20, 60, {"gw-a": -62, "gw-b": -60})  # 2 dB better: below the margin, never moves
    assert engine.drain_changes() == []
    _feed(engine, 60, 100, {"gw-a": -70, "gw-b": -60})
    [change] = engine.drain_changes()
    assert change.to_zone == "B" and "dB over A" in change.reason.english() and "for 3 s" in change.reason.english()


def test_calibration_offset_is_applied() -> None:
    engine = _engine(offsets={"gw-b": +8.0})  # gw-b under-reads by 8 dB
    _feed(engine, 0, 5, {"gw-a": -64, "gw-b": -69})
    assert engine.drain_changes()[0].to_zone == "B"


def test_beyond_room_radius_is_unknown() -> None:
    engine = _engine(radius={"A": 3.0})
    _feed(engine, 0, 5, {"gw-a": -85})  # about 15 m away with n=2.2
    assert engine.location("t")[0] is None
    _feed(engine, 5, 25, {"gw-a": -62})
    assert engine.location("t")[0] == "A"
    _feed(engine, 25, 60, {"gw-a": -90})
    changes = engine.drain_changes()
    assert changes[-1].to_zone is None and "beyond A's 3 m radius" in changes[-1].reason.english()


def test_tag_nobody_hears_becomes_unknown() -> None:
    engine = _engine()
    _feed(engine, 0, 10, {"gw-a": -60}, tag="t")
    _feed(engine, 0, 80, {"gw-a": -60}, tag="other")  # gw-a stays alive
    engine.tick(80.0)
    assert engine.location("t")[0] is None
    assert "no gateway heard the tag" in engine.drain_changes()[-1].reason.english()


def test_silent_gateway_keeps_its_tags_and_is_reported_down() -> None:
    engine = _engine()
    _feed(engine, 0, 30, {"gw-a": -58, "gw-b": -80})
    assert engine.location("t")[0] == "A"
    engine.drain_changes()
    _feed(engine, 30, 90, {"gw-b": -80})  # gw-a dies; gw-b next door still hears the tag faintly
    down = engine.tick(90.0)
    assert [(g.gateway_id, g.up) for g in down] == [("gw-a", False), ("gw-c", False)]
    assert engine.location("t")[0] == "A"
    assert "silent" in engine.location("t")[2].english() and engine.drain_changes() == []
    _feed(engine, 90, 95, {"gw-a": -58, "gw-b": -80})
    assert ("gw-a", True) in [(g.gateway_id, g.up) for g in engine.tick(95.0)]


def test_offline_status_marks_gateway_down() -> None:
    engine = _engine()
    _feed(engine, 0, 5, {"gw-a": -60, "gw-b": -70, "gw-c": -70})
    engine.gateway_status("gw-c", False, 5.0)
    changes = engine.tick(5.5)
    assert [(c.gateway_id, c.reason.english()) for c in changes] == [("gw-c", "reported offline")]


def test_stale_readings_leave_the_window() -> None:
    engine = _engine()
    _feed(engine, 0, 10, {"gw-a": -55, "gw-b": -80})
    _feed(engine, 10, 40, {"gw-b": -65, "gw-a": -90})
    assert engine.location("t")[0] == "B"


def test_drain_seen_reports_tags_heard_since_last_time() -> None:
    engine = _engine()
    _feed(engine, 0, 3, {"gw-a": -60})
    engine.telemetry("t", 2900, -1.0, 2.0)
    [seen] = engine.drain_seen(3.0)
    assert (seen.tag_key, seen.battery_mv, seen.temperature_c, seen.zone) == ("t", 2900, -1.0, "A")
    assert engine.drain_seen(4.0) == []


def test_long_silent_unknown_tags_are_forgotten() -> None:
    engine = _engine()
    _feed(engine, 0, 5, {"gw-a": -60})
    _feed(engine, 0, 100, {"gw-a": -60}, tag="other")  # gw-a stays alive, so "t" is lost, not held
    engine.tick(100.0)
    assert engine.location("t")[0] is None
    engine.tick(100.0 + engine.config.forget_after_s)
    zone, confidence, reason = engine.location("t")
    assert (zone, confidence, reason.english()) == (None, 0.0, "never heard")


def test_zone_left_without_gateways_releases_its_tags() -> None:
    engine = _engine()
    _feed(engine, 0, 10, {"gw-a": -58, "gw-b": -80})
    assert engine.location("t")[0] == "A"
    moved = {**engine.floor.gateways, "gw-a": GatewaySpec("gw-a", "B")}  # gw-a is moved to room B on the setup page
    engine.set_floor(FloorModel(moved, {}))
    _feed(engine, 10, 20, {"gw-a": -58, "gw-b": -80})
    assert engine.location("t")[0] == "B"  # not held in A as if its (now absent) gateway were down
    assert "A no longer hears it" in engine.drain_changes()[-1].reason.english()
