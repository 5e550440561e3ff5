SELECT attempt_id, tenant, event_id, event_type, endpoint_id, url, attempt, outcome,
       response_status, error, response_body_excerpt, attempted_at, duration_ms,
       next_attempt_at
FROM delivery_attempts
WHERE tenant = $1 AND event_id = $2
ORDER BY attempted_at NULLS FIRST, attempt, attempt_id
