-- $1 = tenant, $2 = id, $3 = spec, $4 = the new version, $5 = kind. Inserts or replaces the
-- row and raises the entity's high-water mark to the same version, in one statement.
WITH high_water AS (
    UPDATE config_versions SET version = $4
    WHERE kind = $5 AND tenant = $1 AND id = $2
)
INSERT INTO {table} AS c (tenant, id, spec, version)
VALUES ($1, $2, $3, $4)
ON CONFLICT (tenant, id) DO UPDATE
    SET spec = EXCLUDED.spec, version = EXCLUDED.version, updated_at = now()
RETURNING c.tenant, c.id, c.spec, c.version, c.created_at, c.updated_at
