"""Reorder maths as pure functions: min/max, reorder level, reorder point, EOQ, pack rounding, each with its reason."""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from statistics import NormalDist

from core import notes
from core.note_values import Number, Percent
from core.notes import N_, Note
from core.states import shown_as_labels

MIN_MAX, REORDER_LEVEL, AUTO_ROP = "min_max", "reorder_level", "auto_rop"
POLICY_KINDS = (MIN_MAX, REORDER_LEVEL, AUTO_ROP)
shown_as_labels({MIN_MAX: "Min/max", REORDER_LEVEL: "Reorder level", AUTO_ROP: "Reorder point from demand"})


@dataclass(frozen=True, slots=True)
class PolicyInput:
    """Everything one decision needs; built from rows so the maths never touches the database."""

    kind: str
    position: int
    min_qty: int = 0
    max_qty: int = 0
    reorder_level: int = 0
    reorder_qty: int = 0
    mean_daily: float = 0.0
    sigma_daily: float = 0.0
    lead_time_days: int = 0
    service_level: float = 0.95
    cover_days: int = 14
    eoq: float | None = None


@dataclass(frozen=True, slots=True)
class Need:
    """How much to order before rounding (0 = nothing) and why, as a note stored on the line."""

    quantity: int
    reason: Note


@dataclass(frozen=True, slots=True)
class Rounded:
    quantity: int
    reason: Note | None  # None when the need was already whole packs above the MOQ


@functools.lru_cache(maxsize=64)
def z_for(service_level: float) -> float:
    if not 0.5 <= service_level < 1:
        raise ValueError(f"service level {service_level} must be at least 0.5 and below 1 (e.g. 0.95)")
    return NormalDist().inv_cdf(service_level)


def safety_stock(sigma_daily: float, lead_time_days: float, z: float) -> float:
    return z * sigma_daily * math.sqrt(lead_time_days)


def reorder_point(mean_daily: float, sigma_daily: float, lead_time_days: float, z: float) -> float:
    return mean_daily * lead_time_days + safety_stock(sigma_daily, lead_time_days, z)


def eoq(annual_demand: float, order_cost: float, holding_cost_per_unit: float) -> Decimal:
    """Economic order quantity √(2DS/H), to two decimals."""
    if holding_cost_per_unit <= 0:
        raise ValueError("holding cost per unit and year must be positive")
    value = math.sqrt(2 * annual_demand * order_cost / holding_cost_per_unit)
    return Decimal(str(value)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def demand_stats(total: int, total_sq: int, days: int) -> tuple[float, float]:
    """Mean and (population) standard deviation of daily demand from Σq and Σq² over `days` days."""
    if days <= 0:
        return 0.0, 0.0
    mean = total / days
    variance = max(total_sq / days - mean * mean, 0.0)
    return mean, math.sqrt(variance)


def below_reorder_point(position: int, total: int, total_sq: int, days: int, lead: int, service_level: float) -> bool:
    """The cheap test `decide` makes for an automatic reorder point, without building any words."""
    if days <= 0 or total <= 0:
        return position <= 0
    mean = total / days
    sigma = math.sqrt(max(total_sq / days - mean * mean, 0.0))
    return position <= math.ceil(mean * lead + z_for(service_level) * sigma * math.sqrt(lead) - 1e-9)


def decide(p: PolicyInput) -> Need:
    if p.kind == MIN_MAX:
        if p.position >= p.min_qty:
            return Need(0, Note.of(N_("position %(position)s ≥ min %(min)s"), position=p.position, min=p.min_qty))
        qty = p.max_qty - p.position
        return Need(qty, Note.of(N_("position %(position)s < min %(min)s → %(quantity)s"),
                                 position=p.position, min=p.min_qty, quantity=qty))  # fmt: skip
    if p.kind == REORDER_LEVEL:
        if p.position >= p.reorder_level:
            return Need(0, Note.of(N_("position %(position)s ≥ reorder level %(level)s"),
                                   position=p.position, level=p.reorder_level))  # fmt: skip
        gap = p.reorder_level - p.position
        qty = max(p.reorder_qty, gap)
        return Need(
            qty,
            Note.of(
                N_("position %(position)s < reorder level %(level)s → max(reorder qty %(reorder_qty)s, gap %(gap)s) = "
                   "%(quantity)s"),
                position=p.position, level=p.reorder_level, reorder_qty=p.reorder_qty, gap=gap, quantity=qty,
            ),
        )  # fmt: skip
    if p.kind == AUTO_ROP:
        return _decide_rop(p)
    raise ValueError(f"unknown policy kind {p.kind!r}: use one of {', '.join(POLICY_KINDS)}")


def _decide_rop(p: PolicyInput) -> Need:
    return decide_rop(p.position, p.mean_daily, p.sigma_daily, p.lead_time_days, p.service_level, p.cover_days, p.eoq)


def decide_rop(position: int, mean_daily: float, sigma_daily: float, lead_time_days: int, service_level: float,
               cover_days: int, eoq: float | None) -> Need:  # fmt: skip
    """`decide` for an automatic reorder point, from its values (a full run decides thousands of these)."""
    z = z_for(service_level)
    ss = safety_stock(sigma_daily, lead_time_days, z)
    rop = math.ceil(mean_daily * lead_time_days + ss - 1e-9)
    if position > rop or (mean_daily == 0 and position > 0):
        return Need(0, Note.of(N_("position %(position)s > reorder point %(point)s"), position=position, point=rop))
    # Built as Note.of would build them (counts as text, floats as Number, sorted by name), without its sorting: a
    # full run writes thousands of these.
    level, z_shown = _level_values(service_level)
    basis = Note(
        N_("reorder point %(point)s = %(mean)s/day × %(lead)s d + safety %(safety)s (σ %(sigma)s, z %(z)s for "
           "%(level)s)"),
        (("lead", str(lead_time_days)), ("level", level), ("mean", Number(f"{mean_daily:.1f}")),
         ("point", str(rop)), ("safety", str(round(ss))), ("sigma", Number(f"{sigma_daily:.1f}")), ("z", z_shown)),
    )  # fmt: skip  # Number(f"{x:.1f}") is Number.of(x, 1)
    if eoq is not None and eoq > 0:
        lot, lot_text = math.ceil(eoq), Note(N_("EOQ %(eoq)s"), (("eoq", Number.of(eoq, 2)),))
    else:
        lot = math.ceil(mean_daily * cover_days)
        lot_text = _cover_note(cover_days)
    qty = max(lot, rop - position + 1)
    return Need(qty, Note(N_("position %(position)s ≤ %(basis)s → %(quantity)s (%(lot)s, at least back above the "
                             "point)"), (("basis", basis), ("lot", lot_text), ("position", str(position)),
                                         ("quantity", str(qty)))))  # fmt: skip


@functools.lru_cache(maxsize=64)
def _level_values(service_level: float) -> tuple[Percent, Number]:
    """A service level and its z as a reorder point's reason shows them (a run meets a few levels many times)."""
    return Percent.of(service_level), Number.of(z_for(service_level), 2)


@functools.lru_cache(maxsize=64)
def _cover_note(days: int) -> Note:
    return Note(N_("%(days)s days of demand"), (("days", str(days)),))


def round_order(quantity: int, pack_qty: int = 1, order_multiple: int = 1, moq: int = 1) -> Rounded:
    """Round a positive need up to whole packs, the order multiple and the MOQ; never gives zero."""
    if quantity <= 0:
        return Rounded(0, Note.of(N_("nothing to order")))
    for name, value in (("pack_qty", pack_qty), ("order_multiple", order_multiple), ("moq", moq)):
        if value < 1:
            raise ValueError(f"{name} must be at least 1, got {value}")
    step = math.lcm(pack_qty, order_multiple)
    steps: list[Note] = []
    qty = quantity
    rounded = _up(qty, step)
    if rounded != qty:
        why = _step_words(pack_qty, order_multiple)
        steps.append(Note.of(N_("→ %(quantity)s, %(why)s"), quantity=rounded, why=why))
        qty = rounded
    if qty < moq:
        qty = _up(moq, step)
        steps.append(Note.of(N_("→ %(quantity)s, MOQ %(moq)s"), quantity=qty, moq=moq))
    return Rounded(qty, notes.joined(steps, " ") if steps else None)


def _up(value: int, step: int) -> int:
    return -(-value // step) * step


def _step_words(pack_qty: int, order_multiple: int) -> Note:
    if pack_qty > 1 and order_multiple > 1:
        return Note.of(N_("pack of %(pack)s and multiple of %(multiple)s"), pack=pack_qty, multiple=order_multiple)
    if pack_qty > 1:
        return Note.of(N_("pack of %(pack)s"), pack=pack_qty)
    return Note.of(N_("multiple of %(multiple)s"), multiple=order_multiple)


def line_reason(need: Need, rounded: Rounded) -> Note:
    """The PO line's reason: why the need, then how it was rounded (shown in the reader's language)."""
    return need.reason if rounded.reason is None else notes.joined([need.reason, rounded.reason], " ")
