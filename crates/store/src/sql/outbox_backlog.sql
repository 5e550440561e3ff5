-- The outbox relay's backlog gauges. $1 = most rows to count. The pending parts read only the
-- partial index of pending rows: the count stops at $1 so a huge backlog costs a bounded scan, and the oldest pending row
-- is the first entry of the index. Rows set aside in outbox_failed are no longer in outbox,
-- so they are not pending; they are counted apart, capped the same way.
SELECT
    (SELECT count(*) FROM (
        SELECT 1 FROM outbox WHERE published_at IS NULL LIMIT $1
    ) AS capped) AS pending,
    (SELECT created_at FROM outbox WHERE published_at IS NULL ORDER BY seq LIMIT 1) AS oldest,
    (SELECT count(*) FROM (
        SELECT 1 FROM outbox_failed LIMIT $1
    ) AS capped_failed) AS failed
