DELETE FROM outbox
WHERE seq IN (
    SELECT seq FROM outbox
    WHERE published_at < now() - make_interval(secs => $1::float8)
    LIMIT $2
)
