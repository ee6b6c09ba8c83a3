"""Dock doors: trucks loading parcels through an RFID gate (docs/protocols.md)."""
