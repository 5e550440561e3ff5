-- One statement for the whole batch: a row per array element. Rows already stored (same
-- tenant and id, from an earlier batch or earlier in this one) are skipped.
INSERT INTO events (tenant, id, type, subject, time, time_nanos, source,
                    data_content_type, data_schema, traceparent, extensions, data)
SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::timestamptz[],
                     $6::int2[], $7::text[], $8::text[], $9::text[], $10::text[],
                     $11::jsonb[], $12::bytea[])
ON CONFLICT (tenant, id) DO NOTHING
