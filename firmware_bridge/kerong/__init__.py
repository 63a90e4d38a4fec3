"""Kerong KR-CU16 RS-485 lock boards: frame codec, configuration and the LockerBus driver."""

from firmware_bridge.kerong.codec import BoardStatus, KerongRequest, KerongScanner, Polarity
from firmware_bridge.kerong.config import KerongBoard, KerongConfig
from firmware_bridge.kerong.driver import KerongLockerBus

__all__ = [
    "BoardStatus",
    "KerongBoard",
    "KerongConfig",
    "KerongLockerBus",
    "KerongRequest",
    "KerongScanner",
    "Polarity",
]
