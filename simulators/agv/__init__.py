"""A VDA 5050 2.1 tote-carrying AGV: `model` (pure) and `device` (MQTT)."""
