-- Run once, when the compose volume is first created.
CREATE EXTENSION IF NOT EXISTS pg_stat_statements;
