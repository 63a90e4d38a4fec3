"""Shared simulator plumbing: a virtual line (pty or TCP) that can vanish and return, fault injection, wire time.

Every device simulator lives in this package, each beside its `vendtrack sim` command (`<name>_cli.py`): the
serial lock boards (`lockboard`, `xorboard`, on `lockbank` and `device`), the coil controller (`coil`), and
the Modbus devices (`relayboard`, `scale`) on our own Modbus slave (`modbus_server`, `modbus_device`,
`modbus_cli`). A simulator speaks the real bytes, so drivers are tested and demonstrated against it unchanged.

`VirtualLine` is the device end of a line: a pseudo-terminal (the driver opens `url`, optionally a
stable symlink like udev's /dev/serial/by-id) or a TCP listener (`socket://host:port`). `Faults`
shapes each outgoing frame: noise, drop, truncate, corrupt, delay, either by probability (seeded)
or for the next N frames (deterministic, for tests).
"""

from __future__ import annotations

import contextlib
import os
import random
import select
import socket
import threading
import tty
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import click

WRITE_TIMEOUT_S = 1.0  # a TCP send to a client that stopped reading gives up after this


class VirtualLine:
    """The device side of a serial line. Not thread-safe for reads: one simulator thread reads it."""

    def __init__(self, tcp: tuple[str, int] | None = None, link: str | None = None) -> None:
        self.tcp = tcp
        self.link = link
        self._master: int | None = None
        self._slave: int | None = None
        self._slave_path = ""
        self._listener: socket.socket | None = None
        self._client: socket.socket | None = None
        self._write_lock = threading.Lock()
        self.vanished = False
        self.open()

    @property
    def url(self) -> str:
        if self.tcp is not None:
            return f"socket://{self.tcp[0]}:{self.tcp[1]}"
        return self.link or self._slave_path

    def open(self) -> None:
        if self.tcp is not None:
            listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            listener.bind(self.tcp)
            listener.listen(2)
            self.tcp = (self.tcp[0], listener.getsockname()[1])
            self._listener = listener
        else:
            master, slave = os.openpty()
            tty.setraw(slave)
            tty.setraw(master)
            # a full line (nobody reading the driver's end) must lose bytes, not block the writer: a writer blocked
            # while holding the write lock once hung close(), and with it the demo's shutdown
            os.set_blocking(master, False)
            self._master, self._slave = master, slave
            self._slave_path = os.ttyname(slave)
            if self.link:
                tmp = f"{self.link}.tmp{os.getpid()}"
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(tmp)
                os.symlink(self._slave_path, tmp)
                os.replace(tmp, self.link)
        self.vanished = False

    def close(self) -> None:
        with self._write_lock:
            for sock in (self._client, self._listener):
                if sock is not None:
                    with contextlib.suppress(OSError):
                        sock.close()
            self._client = self._listener = None
            for fd in (self._master, self._slave):
                if fd is not None:
                    with contextlib.suppress(OSError):
                        os.close(fd)
            self._master = self._slave = None
            if self.link:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(self.link)

    def vanish(self) -> None:
        """The device disappears (USB unplugged / converter off): the driver's port fails until `restore`."""
        self.close()
        self.vanished = True

    def restore(self) -> None:
        if self.vanished:
            self.open()

    def read(self, timeout: float) -> bytes:
        """Bytes the driver sent, waiting up to `timeout` (b"" on timeout, while vanished, or without a client)."""
        if self.vanished:
            select.select((), (), (), timeout)
            return b""
        if self.tcp is None:
            master = self._master
            if master is None:
                return b""
            try:
                if not select.select((master,), (), (), timeout)[0]:
                    return b""
                return os.read(master, 4096)
            except OSError:
                return b""
        return self._read_tcp(timeout)

    def _read_tcp(self, timeout: float) -> bytes:
        listener, client = self._listener, self._client
        waiting = [s for s in (listener, client) if s is not None]
        if not waiting:
            return b""
        try:
            ready = select.select(waiting, (), (), timeout)[0]
        except (OSError, ValueError):
            return b""
        if listener is not None and listener in ready:
            try:
                new, _ = listener.accept()
                new.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                new.settimeout(WRITE_TIMEOUT_S)  # reads wait in select(); a send nobody reads gives up
            except OSError:  # closed by vanish() on another thread
                return b""
            if client is not None:
                with contextlib.suppress(OSError):
                    client.close()
            self._client = client = new
            return b""
        if client is not None and client in ready:
            try:
                data = client.recv(4096)
            except OSError:
                data = b""
            if not data:
                self._client = None
                with contextlib.suppress(OSError):
                    client.close()
            return data
        return b""

    def write(self, data: bytes) -> None:
        with self._write_lock:
            try:
                if self.tcp is None:
                    if self._master is not None:
                        os.write(self._master, data)
                elif self._client is not None:
                    self._client.sendall(data)
            except OSError:
                pass  # nobody listening: bytes on a wire nobody reads are lost, as on a real line


@dataclass
class Faults:
    """Per-run fault injection for a simulator's outgoing frames. `*_next` counters take precedence."""

    noise: float = 0.0  # probability of 1-4 random bytes before, inside or after a frame
    drop: float = 0.0
    truncate: float = 0.0
    corrupt: float = 0.0  # checksum byte flipped
    delay: float = 0.0  # probability of holding a frame back `delay_s`
    delay_s: float = 0.3
    noise_next: int = 0
    drop_next: int = 0
    truncate_next: int = 0
    corrupt_next: int = 0
    delay_next: int = 0
    seed: int | None = 0
    rng: random.Random = field(init=False, repr=False)
    counts: dict[str, int] = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)

    def _hit(self, name: str, probability: float) -> bool:
        pending = getattr(self, f"{name}_next")
        if pending > 0:
            setattr(self, f"{name}_next", pending - 1)
        elif not (probability and self.rng.random() < probability):
            return False
        self.counts[name] = self.counts.get(name, 0) + 1
        return True

    def shape(self, frame: bytes) -> tuple[float, bytes] | None:
        """(delay in seconds, bytes to put on the line) for one outgoing frame, or None when it is dropped."""
        if self._hit("drop", self.drop):
            return None
        out = bytearray(frame)
        if self._hit("corrupt", self.corrupt):
            out[-1] ^= 0x5A
        if self._hit("truncate", self.truncate):
            del out[self.rng.randint(1, len(out) - 1) :]
        if self._hit("noise", self.noise):
            junk = bytes(self.rng.randrange(256) for _ in range(self.rng.randint(1, 4)))
            where = self.rng.choice((0, len(out) // 2, len(out)))
            out[where:where] = junk
        delay = self.delay_s if self._hit("delay", self.delay) else 0.0
        return delay, bytes(out)


def modelled_wire_time(n_bytes: int, baud: int, bits_per_char: float = 10.0) -> float:
    """What `n_bytes` take on a real line (a pty carries them instantly whatever the baud)."""
    return n_bytes * bits_per_char / baud


# -- command-line helpers shared by `vendtrack sim lockboard` and `vendtrack sim coil` --------------------------
def fault_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """Adds --noise/--drop/--truncate/--corrupt/--delay/--delay-ms/--seed/--vanish to a click command."""
    options = [
        click.option("--noise", default=0.0, show_default=True, help="Probability of noise bytes around a frame."),
        click.option("--drop", default=0.0, show_default=True, help="Probability a reply is lost."),
        click.option("--truncate", default=0.0, show_default=True, help="Probability a reply is cut short."),
        click.option("--corrupt", default=0.0, show_default=True, help="Probability of a wrong checksum."),
        click.option("--delay", default=0.0, show_default=True, help="Probability a reply is held back."),
        click.option("--delay-ms", default=300.0, show_default=True, help="How long a delayed reply is held."),
        click.option("--seed", default=0, show_default=True, help="Seed of the fault dice (reproducible runs)."),
        click.option("--vanish", multiple=True, metavar="AT+FOR", help="Vanish at AT s for FOR s, e.g. 20+5."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def faults_from(args: Mapping[str, Any]) -> Faults:
    for name in ("noise", "drop", "truncate", "corrupt", "delay"):
        if not 0.0 <= float(args.get(name) or 0.0) <= 1.0:
            raise click.BadParameter(f"{args[name]} is not a probability between 0 and 1", param_hint=f"--{name}")
    return Faults(
        noise=float(args.get("noise") or 0),
        drop=float(args.get("drop") or 0),
        truncate=float(args.get("truncate") or 0),
        corrupt=float(args.get("corrupt") or 0),
        delay=float(args.get("delay") or 0),
        delay_s=float(args.get("delay_ms") or 300) / 1000.0,
        seed=int(args.get("seed") or 0),
    )


def parse_tcp(spec: str | None) -> tuple[str, int] | None:
    if spec is None:
        return None
    host, _, port = spec.rpartition(":")
    if not host or not port.isdigit():
        raise click.BadParameter(f"{spec!r}: use HOST:PORT, e.g. 127.0.0.1:4001", param_hint="--tcp")
    return host, int(port)


def parse_pair(spec: str, option: str) -> tuple[int, int]:
    board, _, lock = spec.partition(":")
    if not board.strip().isdigit() or not lock.strip().isdigit():
        raise click.BadParameter(f"{spec!r}: use BOARD:LOCK with whole numbers, e.g. 0:3", param_hint=option)
    return int(board), int(lock)


def parse_vanish(specs: Any) -> list[tuple[float, float]]:
    out = []
    for spec in specs or ():
        at, _, length = str(spec).partition("+")
        try:
            out.append((float(at), float(length or 5)))
        except ValueError:
            raise click.BadParameter(f"{spec!r}: use AT+FOR seconds, e.g. 20+5", param_hint="--vanish") from None
    return out
