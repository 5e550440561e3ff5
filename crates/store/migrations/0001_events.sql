-- The audit event store: every event once per (tenant, id), queried by the gateway.
--
-- Identifiers use the "C" collation: they are ASCII, byte order is what the keyset cursor
-- and Rust's String ordering use, and it lets a type-prefix range use the btree index.
CREATE TABLE events (
    tenant            text COLLATE "C" NOT NULL,
    id                text COLLATE "C" NOT NULL,
    type              text COLLATE "C" NOT NULL,
    subject           text COLLATE "C",
    -- Truncated to the microsecond (timestamptz's precision); time_nanos keeps the
    -- nanoseconds below it so an event reads back equal to the one written.
    time              timestamptz NOT NULL,
    time_nanos        smallint NOT NULL DEFAULT 0 CHECK (time_nanos BETWEEN 0 AND 999),
    source            text NOT NULL,
    data_content_type text,
    data_schema       text,
    traceparent       text,
    -- CloudEvents extensions other than tenant and traceparent: {"name": "value"}.
    extensions        jsonb NOT NULL DEFAULT '{}',
    data              bytea NOT NULL,
    stored_at         timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant, id)
);

-- Listing by time with (time, id) keyset pagination, optionally narrowed by type or subject.
CREATE INDEX events_by_time ON events (tenant, time, id);
CREATE INDEX events_by_type ON events (tenant, type, time, id);
CREATE INDEX events_by_subject ON events (tenant, subject, time, id) WHERE subject IS NOT NULL;

-- Retention deletes by age of storage. Rows arrive in stored_at order, so a BRIN index
-- finds old ones for a few pages of index and almost no cost on insert.
CREATE INDEX events_by_stored_at ON events USING brin (stored_at);
