-- The hub's own state on PostgreSQL: the webhook delivery ledger, its dead letters, the
-- durable intake queue, and the action store. (SQLite keeps the same tables; its schema
-- is created by webhooks/ledger.py and activities/action_log.py.)
-- depends:

CREATE TABLE deliveries (
    dedup_key   TEXT PRIMARY KEY,
    source      TEXT NOT NULL,
    event_id    TEXT NOT NULL,
    type        TEXT NOT NULL,
    customer_id TEXT,
    outcome     TEXT NOT NULL,
    workflow_id TEXT,
    detail      TEXT,
    received_at TEXT NOT NULL
);
CREATE INDEX deliveries_received ON deliveries(received_at);

CREATE TABLE latest_state (
    order_key   TEXT PRIMARY KEY,
    occurred_at TEXT NOT NULL
);

CREATE TABLE dead_letters (
    dedup_key      TEXT PRIMARY KEY,
    source         TEXT NOT NULL,
    event_id       TEXT NOT NULL,
    type           TEXT,
    customer_id    TEXT,
    outcome        TEXT NOT NULL,
    detail         TEXT,
    kind           TEXT NOT NULL,
    key_id         TEXT,
    payload        BYTEA NOT NULL,
    received_at    TEXT NOT NULL,
    deliveries     INTEGER NOT NULL DEFAULT 1,
    last_at        TEXT NOT NULL,
    resolved_at    TEXT,
    resolution     TEXT
);
CREATE INDEX dead_letters_last ON dead_letters(last_at);

CREATE TABLE intake (
    seq         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    dedup_key   TEXT NOT NULL UNIQUE,
    source      TEXT NOT NULL,
    event_id    TEXT NOT NULL,
    type        TEXT NOT NULL,
    customer_id TEXT,
    grp         TEXT NOT NULL,
    kind        TEXT NOT NULL,
    key_id      TEXT,
    payload     BYTEA NOT NULL,
    received_at TEXT NOT NULL,
    state       TEXT NOT NULL DEFAULT 'pending',
    attempts    INTEGER NOT NULL DEFAULT 0,
    next_at     TEXT NOT NULL,
    lease_owner TEXT,
    lease_until TEXT,
    last_error  TEXT,
    outcome     TEXT,
    workflow_id TEXT,
    detail      TEXT,
    done_at     TEXT
);
CREATE INDEX intake_pending ON intake(state, grp, seq);
CREATE INDEX intake_done ON intake(state, done_at);

CREATE TABLE actions (
    key           TEXT PRIMARY KEY,
    customer_id   TEXT,
    workflow_id   TEXT NOT NULL,
    workflow_type TEXT NOT NULL,
    activity      TEXT NOT NULL,
    step          TEXT NOT NULL,
    channel       TEXT NOT NULL,
    kind          TEXT,
    summary       TEXT NOT NULL,
    outcome       TEXT NOT NULL,
    attempts      INTEGER NOT NULL,
    first_at      TEXT NOT NULL,
    last_at       TEXT NOT NULL,
    ref           TEXT,
    error         TEXT
);
CREATE INDEX actions_customer ON actions(customer_id, last_at);
CREATE INDEX actions_last ON actions(last_at);
