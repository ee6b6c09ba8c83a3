"""The conveyor sorter PLC (DESIGN §5.3): `model` (pure) and `device` (MQTT)."""
