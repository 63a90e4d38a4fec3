"""Test helpers: waiting on a condition with a deadline, reading a device's reply, and test-only tables.

Tests never sleep to let something happen and never assert on elapsed time: they wait for the thing itself
(`wait_until`), and the deadline only bounds how long a broken build takes to say so. `read_in("de")` reads
stored notes back as a German reader would. The test-only tables
live on a metadata of their own, so they never leak into the product schema checks.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from typing import Protocol, TypeVar

from flask import Flask
from flask_babel import force_locale
from sqlalchemy import Integer, MetaData, String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from web import i18n

T = TypeVar("T")


def wait_until(
    predicate: Callable[[], T], timeout: float = 10.0, what: str = "the condition", every: float = 0.01
) -> T:
    """Call `predicate` until it returns something truthy and return that; fail naming `what` after `timeout` s.

    The deadline is generous on purpose (a loaded CI machine is slow); a passing test returns as soon as the
    condition holds, so the timeout costs nothing when things work.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"gave up waiting for {what} after {timeout:g} s")
        time.sleep(every)


class ReadablePort(Protocol):
    @property
    def in_waiting(self) -> int: ...

    def read(self, size: int = 1) -> bytes: ...


def read_until(port: ReadablePort, done: Callable[[bytes], bool], timeout: float) -> bytes:
    """Bytes from a serial port until `done(bytes so far)` holds or `timeout` s pass (a silent device: b"").

    Open the port with a short read timeout (e.g. 0.02 s): each read waits at most that long for a byte.
    Waiting for silence needs a window; waiting for a reply does not: this returns as soon as it is complete.
    """
    deadline = time.monotonic() + timeout
    received = b""
    while not done(received) and time.monotonic() < deadline:
        received += port.read(max(1, port.in_waiting))
    return received


class TestBase(DeclarativeBase):
    metadata = MetaData()


class DeliveryEffect(TestBase):
    """One row per effect a consumer produced; no uniqueness, so doubled deliveries show up."""

    __tablename__ = "test_delivery_effect"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    consumer: Mapped[str] = mapped_column(String(50))
    event_id: Mapped[str] = mapped_column(String(64))


_reader_app: list[Flask] = []


@contextlib.contextmanager
def read_in(language: str) -> Iterator[None]:
    """Inside: a request whose reader's language is `language` (web's translations), for reading stored notes back."""
    if not _reader_app:
        app = Flask("web")  # the web package's root: its translations folder
        i18n.init_app(app)
        _reader_app.append(app)
    with _reader_app[0].test_request_context("/"), force_locale(language):
        yield
