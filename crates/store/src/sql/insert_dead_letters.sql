-- One statement for the whole batch. A record already stored (same position in the DLQ, from
-- an earlier batch or earlier in this one) is skipped, whatever id this attempt gave it.
INSERT INTO dead_letters (id, source_position, tenant, topic, reason, attempts,
                          consumer_group, origin, endpoint, key, headers, payload,
                          dead_lettered_at)
SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::int8[],
                     $7::text[], $8::text[], $9::text[], $10::bytea[], $11::jsonb[],
                     $12::bytea[], $13::timestamptz[])
ON CONFLICT (source_position) DO NOTHING
