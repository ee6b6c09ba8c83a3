"""RFID gates: the field physics of a pass (`model`) and the reader on the broker (`device`)."""
