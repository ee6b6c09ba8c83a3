"""VDA 5050 master control, pure core: one `AgvMaster` per vehicle (see `master.py`).

No sockets, clock or environment: the edge adapter feeds decoded JSON objects and `now` in,
and publishes the `Publish` outputs it gets back. Item numbers in comments refer to
`shared/reference/vda5050/CHECKLIST.md`.
"""
