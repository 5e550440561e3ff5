-- The delivery log: one row per attempt (proto/switchyard/v1/delivery_attempt.proto).
CREATE TABLE delivery_attempts (
    tenant                text COLLATE "C" NOT NULL,
    attempt_id            text COLLATE "C" NOT NULL,
    event_id              text COLLATE "C" NOT NULL,
    event_type            text NOT NULL,
    endpoint_id           text NOT NULL,
    url                   text NOT NULL,
    -- uint32 in the record; bigint holds every value.
    attempt               bigint NOT NULL,
    -- DeliveryAttempt.Outcome enum number (stable by protobuf's rules).
    outcome               integer NOT NULL,
    response_status       bigint NOT NULL,
    error                 text NOT NULL,
    response_body_excerpt bytea NOT NULL,
    attempted_at          timestamptz,
    duration_ms           bigint NOT NULL,
    next_attempt_at       timestamptz,
    stored_at             timestamptz NOT NULL DEFAULT now(),
    -- The attempt id is the idempotency key: a record consumed twice is stored once.
    PRIMARY KEY (tenant, attempt_id)
);

CREATE INDEX delivery_attempts_by_event ON delivery_attempts (tenant, event_id, attempted_at);
CREATE INDEX delivery_attempts_by_stored_at ON delivery_attempts USING brin (stored_at);
