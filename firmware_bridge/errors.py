"""Errors raised by transports, codecs and drivers; each names the device and what to check."""

from __future__ import annotations


class BridgeError(Exception):
    """Base of every firmware_bridge error."""


class FrameError(BridgeError):
    """Bytes that are not a valid frame (bad start/end byte, checksum, length). Never acted on."""


class BusOffline(BridgeError):
    """The port is gone or cannot be opened; the driver keeps trying to reopen it in the background."""


class DeviceTimeout(BridgeError):
    """The device did not answer within its response budget."""


class DeviceRefused(BridgeError):
    """The device answered with an error or an exception response."""


class ConfigError(BridgeError, ValueError):
    """A driver configuration value is missing or malformed; the message names the field."""
