"""Tracking's status enums and their one transition table each: asset service status, alert status, guided walks.

Asset service status (the database keeps the same strings)::

    clean ──check_out──► in_use ──return_dirty──► dirty ──mark_clean──► clean
      └──to_maintenance──► maintenance ──mark_clean──► clean ◄── dirty ──to_maintenance──┘

Alert status: an alert is raised `open`; a person acknowledges it ("I have seen it"), assigns it to a user,
snoozes it until a time (it comes back by itself when that time passes) or resolves it with a note; the
pipeline resolves it by itself when the condition clears, recording why. `resolved` is final: if the
condition returns, a new alert is raised.

Guided calibration walk (tracking.walk): a walk is `open` while staff tap rooms, `finished` once the fit is
computed, then `applied` or `discarded`; an open walk can be discarded outright. Each mark's time-to-room-change
sample is `pending` until the engine places the tag in the room (`reached`) or the deadline passes (`never`).
"""

from __future__ import annotations

from core.states import State, StateMachine
from core.texts import N_


class AssetStatus(State):
    CLEAN = "clean"
    IN_USE = "in_use"
    DIRTY = "dirty"
    MAINTENANCE = "maintenance"


ASSET_STATUS = StateMachine(
    N_("asset"),
    AssetStatus,
    {
        AssetStatus.CLEAN: {AssetStatus.IN_USE: "check_out", AssetStatus.MAINTENANCE: "to_maintenance"},
        AssetStatus.IN_USE: {AssetStatus.DIRTY: "return_dirty"},
        AssetStatus.DIRTY: {AssetStatus.CLEAN: "mark_clean", AssetStatus.MAINTENANCE: "to_maintenance"},
        AssetStatus.MAINTENANCE: {AssetStatus.CLEAN: "mark_clean"},
    },
    labels={AssetStatus.IN_USE: "In use"},
    tones={
        AssetStatus.CLEAN: "good",
        AssetStatus.IN_USE: "info",
        AssetStatus.DIRTY: "warn",
        AssetStatus.MAINTENANCE: "neutral",
    },
)
ASSET_ACTION_LABELS = {  # the button that performs each asset action
    "check_out": N_("Check out (in use)"),
    "return_dirty": N_("Return (dirty)"),
    "mark_clean": N_("Mark clean"),
    "to_maintenance": N_("Send to maintenance"),
}


class AlertStatus(State):
    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    ASSIGNED = "assigned"
    SNOOZED = "snoozed"
    RESOLVED = "resolved"


ALERT_STATUS = StateMachine(
    N_("tracking alert"),
    AlertStatus,
    {
        AlertStatus.OPEN: {
            AlertStatus.ACKNOWLEDGED: "acknowledge",
            AlertStatus.ASSIGNED: "assign",
            AlertStatus.SNOOZED: "snooze",
            AlertStatus.RESOLVED: "resolve",
        },
        AlertStatus.ACKNOWLEDGED: {
            AlertStatus.ASSIGNED: "assign",
            AlertStatus.SNOOZED: "snooze",
            AlertStatus.RESOLVED: "resolve",
        },
        AlertStatus.ASSIGNED: {
            AlertStatus.ACKNOWLEDGED: "acknowledge",  # the assignee says "on it"
            AlertStatus.ASSIGNED: "assign",  # hand it to someone else
            AlertStatus.SNOOZED: "snooze",
            AlertStatus.RESOLVED: "resolve",
        },
        AlertStatus.SNOOZED: {
            AlertStatus.ACKNOWLEDGED: "acknowledge",
            AlertStatus.ASSIGNED: "assign",
            AlertStatus.SNOOZED: "snooze",  # snooze for longer
            AlertStatus.RESOLVED: "resolve",
        },
        AlertStatus.RESOLVED: {},
    },
    tones={
        AlertStatus.OPEN: "bad",
        AlertStatus.ACKNOWLEDGED: "warn",
        AlertStatus.ASSIGNED: "info",
        AlertStatus.SNOOZED: "neutral",
        AlertStatus.RESOLVED: "good",
    },
)
ALERT_ACTIONS = ("acknowledge", "assign", "snooze", "resolve")  # the order buttons appear in


def alert_action_target(current: AlertStatus | str, action: str) -> AlertStatus | None:
    """The state `action` leads to from `current`, or None when the table does not allow it there."""
    for target, name in ALERT_STATUS.transitions.get(AlertStatus(current), {}).items():
        if name == action:
            return target
    return None


class AlertKind(State):
    """What an alert is about; a label and a colour of its own (it has no transitions)."""

    BELOW_PAR = "below_par"
    MISSING = "missing"
    BATTERY_LOW = "battery_low"
    ZONE_EXIT = "zone_exit"
    GATEWAY_DOWN = "gateway_down"
    FOD_OVERSTAY = "fod_overstay"  # a tool in custody stayed in a must-return (FOD) zone past its limit
    TOOL_OVERDUE = "tool_overdue"  # a tagged tool not back by its due time, with where it was last heard
    RETURN_UNSEEN = "return_unseen"  # returned at a machine but its tag was not heard near that machine

    @property
    def label(self) -> str:
        return KIND_LABELS[self]

    @property
    def tone(self) -> str:
        return "warn" if self in (AlertKind.BELOW_PAR, AlertKind.BATTERY_LOW) else "bad"


KIND_LABELS = {
    AlertKind.BELOW_PAR: N_("Below PAR"),
    AlertKind.MISSING: N_("Missing"),
    AlertKind.BATTERY_LOW: N_("Low battery"),
    AlertKind.ZONE_EXIT: N_("Zone exit"),
    AlertKind.GATEWAY_DOWN: N_("Gateway down"),
    AlertKind.FOD_OVERSTAY: N_("Tool in FOD zone"),
    AlertKind.TOOL_OVERDUE: N_("Tool overdue"),
    AlertKind.RETURN_UNSEEN: N_("Return not seen"),
}


class WalkStatus(State):
    OPEN = "open"
    FINISHED = "finished"
    APPLIED = "applied"
    DISCARDED = "discarded"


WALK_STATUS = StateMachine(
    N_("guided walk"),
    WalkStatus,
    {
        WalkStatus.OPEN: {WalkStatus.FINISHED: "finish", WalkStatus.DISCARDED: "discard"},
        WalkStatus.FINISHED: {WalkStatus.APPLIED: "apply", WalkStatus.DISCARDED: "discard"},
        WalkStatus.APPLIED: {},
        WalkStatus.DISCARDED: {},
    },
    labels={WalkStatus.OPEN: "Walking", WalkStatus.FINISHED: "Fitted, not applied"},
    tones={
        WalkStatus.OPEN: "info",
        WalkStatus.FINISHED: "warn",
        WalkStatus.APPLIED: "good",
        WalkStatus.DISCARDED: "neutral",
    },
)


class MarkOutcome(State):
    PENDING = "pending"
    REACHED = "reached"
    NEVER = "never"


MARK_OUTCOME = StateMachine(
    N_("walk mark"),
    MarkOutcome,
    {MarkOutcome.PENDING: {MarkOutcome.REACHED: "reach", MarkOutcome.NEVER: "expire"}},
    labels={MarkOutcome.PENDING: "Waiting for the engine", MarkOutcome.REACHED: "Placed",
            MarkOutcome.NEVER: "Not placed in time"},
    tones={MarkOutcome.PENDING: "info", MarkOutcome.REACHED: "good", MarkOutcome.NEVER: "bad"},
)  # fmt: skip


class GatewayStatus(State):
    """Whether a gateway is heard: the pipeline marks it down after its silence limit and up when it is heard again."""

    UP = "up"
    DOWN = "down"


GATEWAY_STATUS = StateMachine(
    N_("gateway"),
    GatewayStatus,
    {GatewayStatus.UP: {GatewayStatus.DOWN: "went_silent"}, GatewayStatus.DOWN: {GatewayStatus.UP: "heard_again"}},
    labels={GatewayStatus.UP: "Heard", GatewayStatus.DOWN: "Not heard"},
    tones={GatewayStatus.UP: "good", GatewayStatus.DOWN: "bad"},
)
