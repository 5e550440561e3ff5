-- $1 = kind, $2 = tenant, $3 = id. Returns the entity's high-water version (0 if new).
--
-- The first statement of every configuration write: ON CONFLICT DO UPDATE locks the row even
-- though it changes nothing, and a first write inserts it (locked too), so writers of one
-- entity queue here until the one before them ends. Statements after it take a fresh
-- snapshot (READ COMMITTED) and so see what that writer committed.
INSERT INTO config_versions (kind, tenant, id, version)
VALUES ($1, $2, $3, 0)
ON CONFLICT (kind, tenant, id) DO UPDATE SET version = config_versions.version
RETURNING version
