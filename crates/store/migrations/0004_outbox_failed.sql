-- Outbox rows the relay could not turn back into an event (edited by hand, written by an
-- incompatible release), set aside so the rows behind them in their tenant's order move on.
-- The relay moves such a row here, in the transaction that claimed it, and dead-letters what
-- it could read of it.
--
-- A table of its own rather than `failed_at`/`failure` columns on `outbox`: the relay's claim
-- and the backlog gauge read only the partial indexes of pending rows, and columns would
-- either add a heap check to every one of those scans or need those indexes rebuilt, which
-- blocks enqueues while the whole table is read. Creating an empty table locks nothing.
-- The price: a set-aside row no longer holds its `(tenant, id)` in `outbox`, so a retried
-- enqueue with the same id is accepted again, as it is once a published row was pruned.
--
-- Same columns as `outbox` and no checks beyond them, so any row the outbox holds fits. An
-- operator who repaired a row puts it back with
--   INSERT INTO outbox (tenant, id, ..., data) SELECT tenant, id, ..., data
--   FROM outbox_failed WHERE seq = $1
-- (it takes a new seq: the rows behind it were published meanwhile) and deletes it here.
CREATE TABLE outbox_failed (
    -- The row's seq in `outbox`.
    seq               bigint PRIMARY KEY,
    tenant            text COLLATE "C" NOT NULL,
    id                text COLLATE "C" NOT NULL,
    type              text COLLATE "C" NOT NULL,
    subject           text COLLATE "C",
    time              timestamptz NOT NULL,
    time_nanos        smallint NOT NULL,
    source            text NOT NULL,
    data_content_type text,
    data_schema       text,
    traceparent       text,
    extensions        jsonb NOT NULL,
    data              bytea NOT NULL,
    created_at        timestamptz NOT NULL,
    failed_at         timestamptz NOT NULL DEFAULT now(),
    -- Why it could not be published, as the relay logged it.
    failure           text NOT NULL
);
