"""The live view: what the tracking prefix and the pixel receive right now, per tenant, fed by pub/sub from the
ingest path (never from the raw tables). feed.py turns shipped records into per-tenant messages, bus.py carries them
(Redis pub/sub, or in process) with a rolling per-minute state, board.py keeps the web process's view of them."""
