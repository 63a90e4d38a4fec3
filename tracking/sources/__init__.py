"""BLE sources: gateway HTTP/MQTT batches of raw adverts, ESPresense over MQTT, the bleak scanner and replay files."""
