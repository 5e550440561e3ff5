-- $1 = seqs of claimed rows that do not decode, $2 = why, one per seq.
--
-- Moves them from outbox to outbox_failed in one statement of the claiming transaction: a
-- row is either still pending or set aside, never both nor lost. Only pending rows move.
-- No ON CONFLICT: seqs are unique, and should one ever be set aside twice, failing the batch
-- keeps the row, where skipping the insert would delete it.
WITH failure AS (
    SELECT * FROM unnest($1::bigint[], $2::text[]) AS f (seq, reason)
),
moved AS (
    DELETE FROM outbox o
    USING failure f
    WHERE o.seq = f.seq AND o.published_at IS NULL
    RETURNING o.seq, o.tenant, o.id, o.type, o.subject, o.time, o.time_nanos, o.source,
              o.data_content_type, o.data_schema, o.traceparent, o.extensions, o.data,
              o.topic, o.key, o.created_at, f.reason
)
INSERT INTO outbox_failed (seq, tenant, id, type, subject, time, time_nanos, source,
                           data_content_type, data_schema, traceparent, extensions, data,
                           topic, key, created_at, failure)
SELECT seq, tenant, id, type, subject, time, time_nanos, source,
       data_content_type, data_schema, traceparent, extensions, data,
       topic, key, created_at, reason
FROM moved
