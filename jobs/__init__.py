"""Background jobs: queues, progress reporting, job functions, worker and scheduler entry points."""
