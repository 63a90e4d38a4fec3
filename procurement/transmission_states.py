"""E-mail transmission statuses of a PO (queued, sending, sent, failed): the enum and its one transition table.

A transmission is created `sending` (claimed by the process that e-mails it). A failed attempt goes back to `queued`
until its next attempt (or `failed` once retries are used up: a person sends again); a claim that went stale is
claimed again; a delivery that succeeded is recorded `sent` whatever another process wrote meanwhile, since the
e-mail has left.
"""

from __future__ import annotations

from core.states import State, StateMachine
from core.texts import N_


class TransmissionStatus(State):
    QUEUED = "queued"  # waiting for next_attempt_at
    SENDING = "sending"  # claimed at claimed_at by claim_token
    SENT = "sent"
    FAILED = "failed"  # gave up: a person sends again


QUEUED, SENDING = TransmissionStatus.QUEUED, TransmissionStatus.SENDING
SENT, FAILED = TransmissionStatus.SENT, TransmissionStatus.FAILED

# from-status → {to-status: the action that performs it}
TRANSMISSION: StateMachine[TransmissionStatus] = StateMachine(
    N_("transmission"),
    TransmissionStatus,
    {
        QUEUED: {SENDING: "claim", SENT: "record", FAILED: "give_up"},
        SENDING: {SENDING: "claim", SENT: "record", QUEUED: "record", FAILED: "record"},
        FAILED: {SENDING: "send_again", SENT: "record"},
        SENT: {},
    },
    tones={QUEUED: "warn", SENDING: "info", SENT: "good", FAILED: "bad"},
)
