"""A local SMTP server (aiosmtpd) that keeps every message it receives: for the smoke flow and the tests."""

from __future__ import annotations

import logging
import socket
from email import message_from_bytes, policy
from email.message import EmailMessage
from types import TracebackType
from typing import Any


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class _Keeper:
    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.recipients: list[list[str]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        raw = envelope.original_content or envelope.content
        self.messages.append(message_from_bytes(raw, policy=policy.default))
        self.recipients.append(list(envelope.rcpt_tos))
        return "250 Message accepted for delivery"


class SmtpCapture:
    """`with SmtpCapture() as smtp:` send to smtp.host:smtp.port, then read smtp.messages."""

    def __init__(self, host: str = "127.0.0.1", port: int | None = None) -> None:
        try:
            from aiosmtpd.controller import Controller  # deferred: aiosmtpd, optional (demo, tests)
        except ImportError as exc:  # pragma: no cover - depends on the installed extras
            raise RuntimeError("aiosmtpd is not installed: pip install aiosmtpd (it is in the test extra)") from exc
        # aiosmtpd logs every SMTP command of every connection at INFO ("mail.log"): in the demo's terminal that
        # buried the summary under a dozen lines per e-mailed PO; its warnings and errors still show
        logging.getLogger("mail.log").setLevel(logging.WARNING)
        self.host, self.port = host, port or free_port()
        self._keeper = _Keeper()
        self._controller = Controller(self._keeper, hostname=host, port=self.port)

    @property
    def messages(self) -> list[EmailMessage]:
        return self._keeper.messages

    @property
    def recipients(self) -> list[list[str]]:
        return self._keeper.recipients

    def __enter__(self) -> SmtpCapture:
        self._controller.start()
        return self

    def __exit__(self, *_exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self._controller.stop()
