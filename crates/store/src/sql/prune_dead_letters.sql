DELETE FROM dead_letters
WHERE id IN (
    SELECT id FROM dead_letters
    WHERE stored_at < now() - make_interval(secs => $1::float8)
    LIMIT $2
)
