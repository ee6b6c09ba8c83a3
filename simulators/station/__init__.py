"""A pick/pack station: operator terminal, labeller and pack gate (docs/protocols.md)."""
