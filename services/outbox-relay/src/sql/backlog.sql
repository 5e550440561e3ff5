-- $1 = most pending rows to count. Both parts read only the partial index of pending rows:
-- the count stops at $1 so a huge backlog costs a bounded scan, and the oldest pending row
-- is the first entry of the index.
SELECT
    (SELECT count(*) FROM (
        SELECT 1 FROM outbox WHERE published_at IS NULL LIMIT $1
    ) AS capped) AS pending,
    (SELECT created_at FROM outbox WHERE published_at IS NULL ORDER BY seq LIMIT 1) AS oldest
