-- $1 = tenant, $2 = the last id of the previous page (NULL for the first), $3 = limit.
-- Ids are never empty, so '' sorts before every one of them.
SELECT tenant, id, spec, version, created_at, updated_at
FROM {table}
WHERE tenant = $1 AND id > coalesce($2, '')
ORDER BY id
LIMIT $3
