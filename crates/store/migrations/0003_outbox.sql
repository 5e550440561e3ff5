-- The transactional outbox: services insert here in their own transaction; the relay
-- publishes rows to the events topic and marks them.
CREATE TABLE outbox (
    seq               bigserial PRIMARY KEY,
    tenant            text COLLATE "C" NOT NULL,
    id                text COLLATE "C" NOT NULL,
    type              text COLLATE "C" NOT NULL,
    subject           text COLLATE "C",
    time              timestamptz NOT NULL,
    time_nanos        smallint NOT NULL DEFAULT 0 CHECK (time_nanos BETWEEN 0 AND 999),
    source            text NOT NULL,
    data_content_type text,
    data_schema       text,
    traceparent       text,
    extensions        jsonb NOT NULL DEFAULT '{}',
    data              bytea NOT NULL,
    created_at        timestamptz NOT NULL DEFAULT now(),
    published_at      timestamptz,
    -- An Idempotency-Key maps to a stable event id, so a retried request enqueues nothing.
    UNIQUE (tenant, id)
);

-- What the relay scans: pending rows only, oldest first. Partial, so it stays as small as
-- the backlog however large the table grows before pruning.
CREATE INDEX outbox_pending ON outbox (seq) INCLUDE (tenant) WHERE published_at IS NULL;
CREATE INDEX outbox_pending_by_tenant ON outbox (tenant, seq) WHERE published_at IS NULL;
CREATE INDEX outbox_published ON outbox (published_at) WHERE published_at IS NOT NULL;
