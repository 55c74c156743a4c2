-- Product usage totals per customer and event type (webhooks/aggregate.py), shared by
-- every API replica and forwarder on this database instead of one SQLite file per host.
-- depends: 0003.actions-ref

CREATE TABLE IF NOT EXISTS product_counts (
    customer_id       TEXT NOT NULL,
    type              TEXT NOT NULL,
    total             INTEGER NOT NULL,
    signalled         INTEGER NOT NULL,
    max_percent       DOUBLE PRECISION,
    signalled_percent DOUBLE PRECISION,
    signalled_at      TEXT,
    PRIMARY KEY (customer_id, type)
);
