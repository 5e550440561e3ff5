DELETE FROM delivery_attempts
WHERE (tenant, attempt_id) IN (
    SELECT tenant, attempt_id FROM delivery_attempts
    WHERE stored_at < now() - make_interval(secs => $1::float8)
    LIMIT $2
)
