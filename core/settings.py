"""Settings read from VENDTRACK_* environment variables, validated at start with messages naming the variable."""

from __future__ import annotations

import os
import secrets
import ssl
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

PREFIX = "VENDTRACK_"
ALIVE_INTERVALS = 3  # a worker beat younger than this many intervals is alive (core.heartbeats uses the same)


class SettingsError(ValueError):
    """A VENDTRACK_* variable is unknown or malformed; the message names it and the fix."""


def _parse_bool(name: str, raw: str) -> bool:
    lowered = raw.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise SettingsError(f"{PREFIX}{name}={raw!r} is not a boolean: use true or false")


def _parse_int(name: str, raw: str) -> int:
    try:
        return int(raw)
    except ValueError:
        raise SettingsError(f"{PREFIX}{name}={raw!r} is not a whole number") from None


def _parse_float(name: str, raw: str) -> float:
    try:
        return float(raw)
    except ValueError:
        raise SettingsError(f"{PREFIX}{name}={raw!r} is not a number") from None


def _parse_str(name: str, raw: str) -> str:
    return raw


DATABASE_URL_EXAMPLES = "sqlite:////path/vendtrack.db or postgresql+psycopg://user@host:5432/dbname"
SUPPORTED_DATABASES = ("sqlite", "sqlite+pysqlite", "postgresql", "postgresql+psycopg")  # postgresql: psycopg 3 too


def _parse_url(name: str, raw: str) -> str:
    if "://" not in raw:
        raise SettingsError(f"{PREFIX}{name}={raw!r} is not a database URL: use e.g. {DATABASE_URL_EXAMPLES}")
    scheme = raw.split("://", 1)[0].lower()
    if scheme not in SUPPORTED_DATABASES:
        hint = "postgresql+psycopg://..." if scheme.startswith("postgres") else DATABASE_URL_EXAMPLES
        raise SettingsError(
            f"{PREFIX}{name} starts {scheme}://, a database or driver vendtrack does not run on: "
            f"it runs on SQLite and on PostgreSQL through psycopg 3; use e.g. {hint}"
        )
    return raw


def _parse_http_url(name: str, raw: str) -> str:
    if raw and not raw.startswith(("http://", "https://")):
        raise SettingsError(f"{PREFIX}{name}={raw!r} is not an http(s) URL: use e.g. https://central.example.com")
    return raw.rstrip("/")


def _parse_port(name: str, raw: str) -> int:
    port = _parse_int(name, raw)
    if not 1 <= port <= 65535:
        raise SettingsError(f"{PREFIX}{name}={raw!r} is not a TCP port: use 1..65535 (MQTT: 1883, over TLS: 8883)")
    return port


def _parse_positive(name: str, raw: str) -> float:
    value = _parse_float(name, raw)
    if not 0 < value < 1e6:
        raise SettingsError(f"{PREFIX}{name}={raw!r} must be a positive number of seconds")
    return value


def _parse_file(name: str, raw: str) -> str:
    if raw and not os.access(raw, os.R_OK):
        raise SettingsError(f"{PREFIX}{name}={raw!r}: no readable file there; give the path of a PEM file")
    return raw


def _check_mqtt(settings: Settings) -> None:
    """Combinations that cannot work, and PEM files that do not load, stop the start naming the variable."""
    if settings.mqtt_password and not settings.mqtt_username:
        raise SettingsError(f"{PREFIX}MQTT_PASSWORD is set without {PREFIX}MQTT_USERNAME: set both")
    files = {"MQTT_CA_FILE": settings.mqtt_ca_file, "MQTT_CERT_FILE": settings.mqtt_cert_file,
             "MQTT_KEY_FILE": settings.mqtt_key_file}  # fmt: skip
    given = [name for name, path in files.items() if path]
    if given and not settings.mqtt_tls:
        raise SettingsError(f"{PREFIX}{given[0]} is set but {PREFIX}MQTT_TLS is off: set {PREFIX}MQTT_TLS=1")
    if bool(settings.mqtt_cert_file) != bool(settings.mqtt_key_file):
        raise SettingsError(f"{PREFIX}MQTT_CERT_FILE and {PREFIX}MQTT_KEY_FILE go together: set both or neither")
    if not settings.mqtt_tls:
        return

    context = ssl.create_default_context()
    try:
        if settings.mqtt_ca_file:
            context.load_verify_locations(cafile=settings.mqtt_ca_file)
    except (ssl.SSLError, ValueError) as exc:
        raise SettingsError(f"{PREFIX}MQTT_CA_FILE={settings.mqtt_ca_file!r} is not a PEM CA bundle: {exc}") from None
    try:
        if settings.mqtt_cert_file:
            context.load_cert_chain(settings.mqtt_cert_file, settings.mqtt_key_file)
    except (ssl.SSLError, ValueError) as exc:
        raise SettingsError(
            f"{PREFIX}MQTT_CERT_FILE / {PREFIX}MQTT_KEY_FILE do not load as a certificate and its key: {exc}"
        ) from None


@dataclass(slots=True)
class Settings:
    """Everything configurable from the environment. Field name = variable name without the prefix."""

    instance_path: str = ""
    database_url: str = ""
    secret_key: str = ""
    outbox_max_attempts: int = 8
    outbox_backoff_seconds: float = 2.0
    outbox_poll_seconds: float = 0.5
    session_cookie_secure: bool = False
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 25
    smtp_user: str = ""
    smtp_password: str = ""
    smtp_starttls: bool = False
    mail_from: str = "purchasing@vendtrack.local"
    mqtt_host: str = "127.0.0.1"
    mqtt_port: int = 1883
    mqtt_username: str = ""
    mqtt_password: str = ""
    mqtt_tls: bool = False
    mqtt_ca_file: str = ""  # PEM bundle that signed the broker's certificate (empty: the system's CAs)
    mqtt_cert_file: str = ""  # client certificate for mutual TLS, with mqtt_key_file
    mqtt_key_file: str = ""
    heartbeat_seconds: float = 5.0  # how often each process writes its workers' heartbeats
    heartbeat_expire_intervals: int = 24  # a worker silent this many intervals is gone: it no longer degrades health
    log_level: str = "INFO"
    upstream_url: str = ""  # an edge's central vendtrack: its events are forwarded there (store and forward)
    upstream_token: str = ""  # an EDGE-scope token issued by the upstream for this edge's site
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


_PARSERS: dict[str, Callable[[str, str], Any]] = {
    "database_url": _parse_url,
    "outbox_max_attempts": _parse_int,
    "outbox_backoff_seconds": _parse_float,
    "outbox_poll_seconds": _parse_float,
    "session_cookie_secure": _parse_bool,
    "smtp_port": _parse_int,
    "smtp_starttls": _parse_bool,
    "mqtt_port": lambda name, raw: _parse_port(name, raw),
    "mqtt_tls": _parse_bool,
    "mqtt_ca_file": lambda name, raw: _parse_file(name, raw),
    "mqtt_cert_file": lambda name, raw: _parse_file(name, raw),
    "mqtt_key_file": lambda name, raw: _parse_file(name, raw),
    "heartbeat_seconds": lambda name, raw: _parse_positive(name, raw),
    "heartbeat_expire_intervals": _parse_int,
    "upstream_url": lambda name, raw: _parse_http_url(name, raw),
}

# Domain packages may declare their own variables here (name -> parser) before settings are loaded.
EXTRA_VARIABLES: dict[str, Callable[[str, str], Any]] = {}


def _known_names() -> set[str]:
    return {f.name for f in fields(Settings) if f.name != "extra"}


def check_environment(environ: Mapping[str, str] | None = None) -> None:
    """Parse every VENDTRACK_* variable without side effects; raises SettingsError naming the first bad one."""
    env = os.environ if environ is None else environ
    known = _known_names()
    values: dict[str, Any] = {}
    for key, raw in env.items():
        if not key.startswith(PREFIX) or key.startswith("VENDTRACK_TEST_"):
            continue
        name = key[len(PREFIX) :].lower()
        if name in known:
            values[name] = _PARSERS.get(name, _parse_str)(name.upper(), raw)
        elif name in EXTRA_VARIABLES:
            EXTRA_VARIABLES[name](name.upper(), raw)
        else:
            choices = ", ".join(sorted(PREFIX + n.upper() for n in known | set(EXTRA_VARIABLES)))
            raise SettingsError(f"unknown setting {key}: remove it or use one of {choices}")
    _check_combinations(Settings(**values))


def _check_combinations(settings: Settings) -> None:
    if settings.outbox_max_attempts < 1:
        raise SettingsError(f"{PREFIX}OUTBOX_MAX_ATTEMPTS must be at least 1")
    if settings.heartbeat_expire_intervals < ALIVE_INTERVALS + 1:
        raise SettingsError(f"{PREFIX}HEARTBEAT_EXPIRE_INTERVALS must be at least {ALIVE_INTERVALS + 1}")
    _check_mqtt(settings)


def load_settings(
    environ: Mapping[str, str] | None = None,
    instance_path: str | os.PathLike[str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> Settings:
    """Build Settings from the environment; unknown VENDTRACK_* names fail with the list of known ones."""
    env = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    extra: dict[str, str] = {}
    known = _known_names()
    for key, raw in env.items():
        if not key.startswith(PREFIX) or key.startswith("VENDTRACK_TEST_"):
            continue
        name = key[len(PREFIX) :].lower()
        if name in known:
            values[name] = _PARSERS.get(name, _parse_str)(name.upper(), raw)
        elif name in EXTRA_VARIABLES:
            extra[name] = EXTRA_VARIABLES[name](name.upper(), raw)
        else:
            choices = ", ".join(sorted(PREFIX + n.upper() for n in known | set(EXTRA_VARIABLES)))
            raise SettingsError(f"unknown setting {key}: remove it or use one of {choices}")
    if overrides:
        for name, value in overrides.items():
            if name not in known:
                raise SettingsError(f"unknown setting override {name!r}")
            values[name] = value
    settings = Settings(**values, extra=extra)
    base = Path(instance_path or settings.instance_path or Path.cwd() / "instance")
    settings.instance_path = str(base)
    if not settings.database_url:
        settings.database_url = f"sqlite:///{base / 'vendtrack.db'}"
    _check_combinations(settings)
    if not settings.secret_key:
        settings.secret_key = _instance_secret(base)
    return settings


def _instance_secret(base: Path) -> str:
    """Read the secret key kept in the instance folder, creating it (mode 600) on first run."""
    base.mkdir(parents=True, exist_ok=True)
    path = base / "secret_key"
    if path.exists():
        return path.read_text().strip()
    key = secrets.token_hex(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(key)
    return key
