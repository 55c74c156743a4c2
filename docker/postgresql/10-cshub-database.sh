#!/bin/sh
# The hub's own database (intake queue, delivery ledger, dead letters, action store) on the
# stack's PostgreSQL, beside Temporal's: its own user and database. Runs once, when the
# data volume is first created (docker-entrypoint-initdb.d); the hub migrates its schema.
set -eu
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres <<SQL
CREATE USER cshub PASSWORD '${CSHUB_DB_PASSWORD:-cshub}';
CREATE DATABASE cshub OWNER cshub;
SQL
