"""Domain events: the outbox (written with the change it reports), the workflow table (event -> handlers) and
dispatch to the handlers on the `notify` queue, at least once, each handler idempotent by event id."""
