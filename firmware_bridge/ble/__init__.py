"""BLE advertisement decoding (iBeacon, Eddystone, AltBeacon) and the bleak scanner adapter."""
