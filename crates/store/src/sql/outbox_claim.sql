-- $1 = rows to claim, $2 = pending rows to look at for tenants, $3 = advisory lock class.
--
-- 1. head: the tenants owning the oldest pending rows, in order of their oldest row, with
--    how many of those rows each owns.
-- 2. walk: tries each tenant's transaction lock in that order, one tenant per step (a
--    recursive CTE is evaluated step by step, so the order of the tries is fixed), and stops
--    once the tenants it got cover a batch. Tenants it does not need stay free for another
--    relay. A tenant held by another relay stays held until that relay's transaction ends,
--    so no tenant is ever published by two relays at once: that is what keeps its order.
-- 3. the oldest pending rows of the tenants obtained, locked. FOR UPDATE also re-checks each
--    row against its newest committed version, so a row another relay published and
--    committed after this statement's snapshot was taken is dropped, not published twice.
WITH RECURSIVE head AS MATERIALIZED (
    SELECT tenant, count(*) AS n, row_number() OVER (ORDER BY min(seq)) AS rn
    FROM (
        SELECT tenant, seq FROM outbox
        WHERE published_at IS NULL
        ORDER BY seq
        LIMIT $2
    ) AS oldest
    GROUP BY tenant
),
walk (rn, taken, tenant, locked) AS (
    SELECT 0::bigint, 0::bigint, NULL::text COLLATE "C", false
  UNION ALL
    SELECT h.rn, w.taken + CASE WHEN l.locked THEN h.n ELSE 0 END, h.tenant, l.locked
    FROM walk w
    JOIN head h ON h.rn = w.rn + 1
    CROSS JOIN LATERAL (
        SELECT pg_try_advisory_xact_lock($3, hashtext(h.tenant)) AS locked
    ) AS l
    WHERE w.taken < $1
)
SELECT o.seq, o.created_at,
       o.tenant, o.id, o.type, o.subject, o.time, o.time_nanos, o.source,
       o.data_content_type, o.data_schema, o.traceparent, o.extensions, o.data,
       o.topic, o.key
FROM outbox o
WHERE o.published_at IS NULL
  AND o.tenant IN (SELECT tenant FROM walk WHERE locked)
ORDER BY o.seq
LIMIT $1
FOR UPDATE OF o SKIP LOCKED
