"""download_requests keeps one index, its primary key (tenant_id, ts, request_uid), instead of two: the key
(request_uid, ts) and the index (tenant_id, ts)

Every raw request cost an entry in each of the two b-trees. The new key leads with what every read of raw requests
asks for (a tenant's requests over a time range: counting, the privacy export, the counting-lag probe) and still
makes a replayed request a no-op (the same request of the same tenant at the same time; a log line's and a hit's
uid are already specific to their tenant). COPY of a million-line log's 940k rows into the table took PostgreSQL
2.3 s instead of 3.5, and 483 MB of WAL instead of 559 (bench/bench_request_indexes.py, when this revision was
written).

On PostgreSQL (a TimescaleDB hypertable included: download_requests is never compressed) the new key is built
while the table is locked, once; the old index goes. SQLite recreates the table (and its tenant view, which
blocks that).

Revision ID: 0033
Revises: 0032
"""
from alembic import op

revision = "0033"
down_revision = "0032"
branch_labels = None
depends_on = None

TABLE = "download_requests"


def _swap(drop_index: str | None, create_index: tuple[str, list[str]] | None, key: list[str]) -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"ALTER TABLE {TABLE} DROP CONSTRAINT pk_{TABLE}")
        op.execute(f"ALTER TABLE {TABLE} ADD CONSTRAINT pk_{TABLE} PRIMARY KEY ({', '.join(key)})")
        if drop_index:
            op.drop_index(drop_index, table_name=TABLE)
        if create_index:
            op.create_index(create_index[0], TABLE, create_index[1])
        return
    op.execute(f"DROP VIEW IF EXISTS tenant_{TABLE}")  # SQLite will not rename a table a view reads
    with op.batch_alter_table(TABLE, recreate="always") as batch:
        if drop_index:
            batch.drop_index(drop_index)
        batch.drop_constraint(f"pk_{TABLE}", type_="primary")
        batch.create_primary_key(f"pk_{TABLE}", key)
        if create_index:
            batch.create_index(create_index[0], create_index[1])
    op.execute(f"CREATE VIEW tenant_{TABLE} AS SELECT * FROM {TABLE}")  # as 0008 made it


def upgrade() -> None:
    _swap("ix_download_requests_tenant_ts", None, ["tenant_id", "ts", "request_uid"])


def downgrade() -> None:
    _swap(None, ("ix_download_requests_tenant_ts", ["tenant_id", "ts"]), ["request_uid", "ts"])
