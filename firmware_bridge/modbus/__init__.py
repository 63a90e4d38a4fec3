"""Modbus RTU/TCP drivers: the shared bus client, relay-board lockers, weigh-scale bins and item counting."""

from firmware_bridge.modbus.client import ModbusBus, ModbusRefused
from firmware_bridge.modbus.config import BusConfig
from firmware_bridge.modbus.counting import CountRefusal, WeightCount, count_change
from firmware_bridge.modbus.relay_locker import RelayBoardLocker, RelayLockerConfig, RelaySlot
from firmware_bridge.modbus.scale import ModbusScale, ScaleConfig
from firmware_bridge.modbus.scale_map import ScaleRegisterMap
from firmware_bridge.modbus.scale_presets import PRESETS

__all__ = [
    "PRESETS",
    "BusConfig",
    "CountRefusal",
    "ModbusBus",
    "ModbusRefused",
    "ModbusScale",
    "RelayBoardLocker",
    "RelayLockerConfig",
    "RelaySlot",
    "ScaleConfig",
    "ScaleRegisterMap",
    "WeightCount",
    "count_change",
]
