-- $13/$14 = the route (topic suffix and record key), both NULL for the events topic.
--
-- The NOTIFY runs only when the row was inserted, and PostgreSQL delivers it when (and
-- only if) the surrounding transaction commits.
WITH inserted AS (
    INSERT INTO outbox (tenant, id, type, subject, time, time_nanos, source,
                        data_content_type, data_schema, traceparent, extensions, data,
                        topic, key)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
    ON CONFLICT (tenant, id) DO NOTHING
    RETURNING tenant
)
SELECT pg_notify('switchyard_outbox', tenant) FROM inserted
