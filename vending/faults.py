"""What a dispense's hardware fault is called for a person: a translated label per fault code, stored as a note.

The device layer (vending.devices, firmware_bridge) reports a fault as a code ("jammed", "door_not_opened") and an
English detail from the hardware. The reason stored on the dispense and on the flagged slot is a `core.notes.Note`:
the fault's label (translated when shown) and the hardware's detail as it is. The kiosk reads the fault code back
(`code_of`) to tell the worker what happened in the kiosk's language.
"""

from __future__ import annotations

from core.notes import N_, Note

# One label per fault code the device layer reports: vending.devices' own codes, firmware_bridge's VendStatus
# values (a coil controller's outcome) and "weight_" + CountRefusal values (a weighing shelf's refusal).
LABELS: dict[str, str] = {
    "door_already_open": N_("Door already open"),
    "door_not_opened": N_("Door did not open"),
    "door_left_open": N_("Door left open"),
    "interrupted": N_("Interrupted"),
    "device_offline": N_("Device offline"),
    "driver_error": N_("Driver error"),
    "jammed": N_("Jammed"),
    "motor_did_not_stop": N_("Motor did not stop"),
    "no_motor": N_("No motor"),
    "terminated": N_("Vend terminated"),
    "timeout": N_("No answer in time"),
    "offline": N_("Controller offline"),
    "weight_unstable": N_("Weight unstable"),
    "weight_overflow": N_("Scale out of range"),
    "weight_out_of_tolerance": N_("Weight change not a whole number of items"),
    "weight_bad_unit_weight": N_("Unit weight missing or invalid"),
}
_NOT_SENT = N_("Interrupted before the command was sent; no charge")
NOT_SENT = Note.of(_NOT_SENT).encode()  # the reason of a dispense a restart found never commanded
_LOST = N_("interrupted mid-dispense and the device cannot tell what happened: no charge; count the slot")
INTERRUPTED = Note.of(_LOST)  # the detail of a dispense a restart found commanded and the device cannot explain
_CODES = {**{label: code for code, label in LABELS.items()}, _NOT_SENT: "interrupted"}


def reason(fault: str, detail: str = "") -> str:
    """The stored reason for a fault: its label (an unknown code as it is) and the detail: the hardware's words as
    they came, or an encoded note when vending wrote the detail itself (`interrupted`)."""
    label = Note.of(LABELS[fault]) if fault in LABELS else Note.typed(fault)
    if not detail:
        return label.encode()
    return Note.of(N_("%(fault)s: %(detail)s"), fault=label, detail=Note.decode(detail)).encode()


def code_of(stored: str) -> str:
    """The fault code of a stored reason ("" when it names none); reads the plain "code: detail" of older rows."""
    note = Note.decode(stored)
    if note.plain:
        return stored.split(":", 1)[0].strip()
    label = note.value("fault") if note.values else note
    if isinstance(label, Note):
        return _CODES.get(label.message, label.message if label.plain else "")
    return label if isinstance(label, str) else ""  # an unknown code, stored as it is
