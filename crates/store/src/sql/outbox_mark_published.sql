UPDATE outbox SET published_at = now()
WHERE seq = ANY($1) AND published_at IS NULL
