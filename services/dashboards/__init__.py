"""The podcaster dashboards' questions: view state and periods, overview, episodes, audience, CSV exports.

Every function reads the rollups through `services.measurement.store.view` (the `tenant_<rollup>` views), never the
raw `downloads` or `download_requests`, so a dashboard's cost follows the rollups, not the history."""
