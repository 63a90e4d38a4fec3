"""0x8A/0x80 XOR "lock control boards" (12/24/48-channel RS-485 locker boards): codec, config, LockerBus driver."""

from firmware_bridge.xorboard.codec import DoorBitmap, LockReply, Polarity, XorRequest, XorScanner
from firmware_bridge.xorboard.config import XorBoard, XorBoardConfig
from firmware_bridge.xorboard.driver import XorBoardLockerBus

__all__ = [
    "DoorBitmap",
    "LockReply",
    "Polarity",
    "XorBoard",
    "XorBoardConfig",
    "XorBoardLockerBus",
    "XorRequest",
    "XorScanner",
]
