-- What the gateway needs (DESIGN §5): routed outbox rows for run-time configuration, the
-- API-managed sources and endpoints, and the dead letters it lists and redrives.

-- 1. Routed outbox rows.
--
-- A row with `topic` set is published to `<prefix>.<topic>` with `key` as its record key
-- (the gateway's `switchyard.config.*` events go to `<prefix>.config` keyed per entity, e.g.
-- `endpoint/acme/orders`, so Kafka can compact that topic to each entity's latest record).
-- NULL in both is the events topic keyed by tenant, what every row written before this
-- migration means. The columns are the topic's SUFFIX, not its name, so a row means the same
-- whatever prefix the relay that publishes it is configured with.
--
-- Adding a nullable column without a default only changes the catalog: no rewrite, no scan,
-- the ACCESS EXCLUSIVE lock is held for an instant (it still queues behind a running relay
-- batch, which is one short transaction). The check is added NOT VALID for the same reason:
-- it applies to every row written from now on and skips the scan of the rows already there,
-- all of which have both columns NULL. A half route is refused because a key without a
-- topic would re-key events-topic rows and break their per-tenant order.
--
-- Routed rows keep the outbox's per-tenant order: they are claimed under their tenant's lock
-- like every other row, so changes to one entity reach the config topic in commit order.
ALTER TABLE outbox
    ADD COLUMN topic text COLLATE "C",
    ADD COLUMN key   text COLLATE "C";
ALTER TABLE outbox
    ADD CONSTRAINT outbox_route_whole CHECK ((topic IS NULL) = (key IS NULL)) NOT VALID;

-- A set-aside row keeps its route, so an operator who repairs it puts it back whole
-- (the INSERT ... SELECT of 0004 then lists topic and key too).
ALTER TABLE outbox_failed
    ADD COLUMN topic text COLLATE "C",
    ADD COLUMN key   text COLLATE "C";

-- 2. Sources and endpoints managed through the gateway.
--
-- `spec` is the whole resource as the gateway validated it, secrets already sealed: the store
-- never interprets it and never sees a plaintext secret. A deleted row is removed; its history
-- lives on the config topic, not here.
CREATE TABLE sources (
    tenant     text COLLATE "C" NOT NULL,
    id         text COLLATE "C" NOT NULL,
    spec       jsonb NOT NULL,
    version    bigint NOT NULL CHECK (version > 0),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    -- Also the listing's index: a tenant's rows in id order, keyset-paged by id.
    PRIMARY KEY (tenant, id)
);

CREATE TABLE endpoints (
    tenant     text COLLATE "C" NOT NULL,
    id         text COLLATE "C" NOT NULL,
    spec       jsonb NOT NULL,
    version    bigint NOT NULL CHECK (version > 0),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant, id)
);

-- The highest version each entity ever had, kept after its row is deleted.
--
-- Followers (ingest, processor, dispatcher reading the config topic) apply a change only if
-- its version is above the one they hold. So versions must keep rising across delete and
-- re-create: the deletion takes version n+1 and a re-created entity starts at n+2; a
-- re-create that restarted at 1 would be ignored by every follower that saw the old one.
--
-- A high-water row per entity rather than one global sequence:
-- - it is also the lock that orders concurrent writers of one entity. Every write first
--   upserts this row (taking its row lock, also when the entity does not exist yet, where a
--   row lock on `sources` would have nothing to lock), then reads the current row in a fresh
--   snapshot; so an optimistic-concurrency check and the version it writes can never be
--   interleaved with another writer's. A sequence hands out numbers outside transactions:
--   two writers could take 7 and 8 and commit 8 first, and a follower would then drop 7.
-- - versions stay small and per entity (1, 2, 3, ...), readable as ETags and in logs.
-- The cost is one small row per entity ever created, never deleted: configuration counts
-- are in the thousands, not millions.
CREATE TABLE config_versions (
    kind    text COLLATE "C" NOT NULL CHECK (kind IN ('source', 'endpoint')),
    tenant  text COLLATE "C" NOT NULL,
    id      text COLLATE "C" NOT NULL,
    -- 0 only while the entity's first write is in progress (or when it was refused).
    version bigint NOT NULL CHECK (version >= 0),
    PRIMARY KEY (kind, tenant, id)
);

-- 3. Dead letters, as the gateway consumed them from `<prefix>.dlq`.
--
-- `id` is a UUIDv7 (as text, so the "C" collation orders it bytewise) whose timestamp is the
-- record's dead-lettering time: ordering by id is ordering by time, ties broken by its random
-- bits, and it serves as the keyset cursor on its own. `source_position` is the record's place
-- in the DLQ (partition and offset, as the consumer names it): UNIQUE, so consuming the same
-- record twice stores it once, whatever id the second attempt generated.
--
-- `headers` holds every header of the record, `dlq-*` ones included, as a JSON array of
-- {"name": ..., "text": ...} or {"name": ..., "base64": ...}: an array because Kafka headers
-- are ordered and may repeat (an object would lose both, and a redrive must send them back as
-- they were); text when the value is UTF-8 without NUL (jsonb cannot hold U+0000), so a
-- person or a SQL query reads it as is; base64 otherwise. The `dlq-*` values are also in
-- their own columns, for filtering.
CREATE TABLE dead_letters (
    id               text COLLATE "C" PRIMARY KEY,
    source_position  text COLLATE "C" NOT NULL UNIQUE,
    -- NULL when the record named no tenant (then no tenant's listing shows it).
    tenant           text COLLATE "C",
    -- `dlq-topic`: where the record belongs, and where a redrive sends it.
    topic            text COLLATE "C" NOT NULL,
    reason           text NOT NULL,
    attempts         bigint NOT NULL,
    -- `dlq-group` ("group" is a reserved word).
    consumer_group   text NOT NULL,
    origin           text NOT NULL,
    -- `dlq-endpoint`, set by the webhook dispatcher.
    endpoint         text COLLATE "C",
    key              bytea,
    headers          jsonb NOT NULL,
    payload          bytea NOT NULL,
    dead_lettered_at timestamptz NOT NULL,
    stored_at        timestamptz NOT NULL DEFAULT now(),
    redriven_at      timestamptz,
    redrive_count    integer NOT NULL DEFAULT 0
);

-- A tenant's dead letters newest first (scanned backwards), keyset-paged by id; narrowed by
-- topic or endpoint through their own indexes. Redriven or not splits them through two
-- partial indexes, so whichever side is rare is not found by reading the other: the pending
-- ones (the view an operator works through) and the redriven ones. Neither costs an insert
-- anything beyond the pending one; marking a redrive moves a row from one to the other.
CREATE INDEX dead_letters_by_tenant ON dead_letters (tenant, id);
CREATE INDEX dead_letters_by_topic ON dead_letters (tenant, topic, id);
CREATE INDEX dead_letters_by_endpoint ON dead_letters (tenant, endpoint, id)
    WHERE endpoint IS NOT NULL;
CREATE INDEX dead_letters_pending ON dead_letters (tenant, id) WHERE redriven_at IS NULL;
CREATE INDEX dead_letters_redriven ON dead_letters (tenant, id) WHERE redriven_at IS NOT NULL;
-- Retention, as for events.
CREATE INDEX dead_letters_by_stored_at ON dead_letters USING brin (stored_at);
