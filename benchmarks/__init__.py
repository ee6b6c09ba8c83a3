"""Benchmarks of the central API, run from the repository root (see benchmarks/README.md).

They drive the API only over HTTP, as a separate process, and read the database only
through SQL, so that they measure any implementation of the same interface.
"""
