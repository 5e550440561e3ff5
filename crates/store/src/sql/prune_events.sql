-- One bounded chunk: short transactions, bounded WAL and lock time per statement.
DELETE FROM events
WHERE (tenant, id) IN (
    SELECT tenant, id FROM events
    WHERE stored_at < now() - make_interval(secs => $1::float8)
    LIMIT $2
)
