SELECT tenant, id, spec, version, created_at, updated_at
FROM {table}
WHERE tenant = $1 AND id = $2
