"""Coil (spiral) vending controllers on the "VMC ↔ host" protocol: frame codec, configuration, CoilController driver."""

from firmware_bridge.coil.codec import CoilFrame, CoilScanner, DispenseReport, DriveRequest, SelectionReport
from firmware_bridge.coil.config import CoilConfig
from firmware_bridge.coil.driver import CoilDriver

__all__ = ["CoilConfig", "CoilDriver", "CoilFrame", "CoilScanner", "DispenseReport", "DriveRequest", "SelectionReport"]
