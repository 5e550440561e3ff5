-- $1 = tenant, $2 = id, $3 = the deletion's version, $4 = kind. Removes the row and raises the
-- entity's high-water mark past it, so a re-created entity continues above the deletion.
WITH high_water AS (
    UPDATE config_versions SET version = $3
    WHERE kind = $4 AND tenant = $1 AND id = $2
)
DELETE FROM {table} WHERE tenant = $1 AND id = $2
