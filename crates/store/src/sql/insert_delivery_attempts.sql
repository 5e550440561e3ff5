INSERT INTO delivery_attempts (tenant, attempt_id, event_id, event_type, endpoint_id, url,
                               attempt, outcome, response_status, error,
                               response_body_excerpt, attempted_at, duration_ms,
                               next_attempt_at)
SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[],
                     $7::int8[], $8::int4[], $9::int8[], $10::text[], $11::bytea[],
                     $12::timestamptz[], $13::int8[], $14::timestamptz[])
ON CONFLICT (tenant, attempt_id) DO NOTHING
