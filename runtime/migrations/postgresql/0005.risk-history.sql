-- The churn-risk model's history: the feature rows the health sweep scored, and the
-- outcomes the hub saw (churned, renewed). (SQLite: created by runtime/risk_history.py.)
-- depends: 0004.product-counts

CREATE TABLE risk_snapshots (
    customer_id TEXT NOT NULL,
    scored_at   TEXT NOT NULL,
    features    TEXT NOT NULL,
    churn_risk  DOUBLE PRECISION,
    model       TEXT,
    PRIMARY KEY (customer_id, scored_at)
);
CREATE INDEX risk_snapshots_at ON risk_snapshots(scored_at);

CREATE TABLE risk_outcomes (
    key         TEXT PRIMARY KEY,
    customer_id TEXT NOT NULL,
    outcome     TEXT NOT NULL,
    at          TEXT NOT NULL,
    source      TEXT
);
CREATE INDEX risk_outcomes_customer ON risk_outcomes(customer_id, at);
