"""Bytes to hardware: transports, frame codecs, device drivers, BLE decoding and a simulator per device."""
