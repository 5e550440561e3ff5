// The shapes the gateway's API answers with (services/gateway/src/model.rs), for JSDoc type
// checking only: this module exports nothing at run time.

/**
 * An event: a CloudEvent in JSON structured mode.
 * @typedef {object} CloudEvent
 * @property {string} specversion
 * @property {string} id
 * @property {string} source
 * @property {string} type
 * @property {string} [subject]
 * @property {string} time RFC 3339.
 * @property {string} tenant
 * @property {string} [datacontenttype]
 * @property {unknown} [data] The data, when it is JSON.
 * @property {string} [data_base64] The data in base64, when it is not JSON.
 */

/**
 * One page of an event search.
 * @typedef {object} EventPage
 * @property {CloudEvent[]} data
 * @property {string | null} next_cursor
 */

/**
 * One attempt to deliver an event to an endpoint.
 * @typedef {object} DeliveryAttempt
 * @property {string} attempt_id
 * @property {string} event_id
 * @property {string} endpoint_id
 * @property {string} url
 * @property {number} attempt
 * @property {string} outcome succeeded, retrying, exhausted or skipped.
 * @property {number} response_status 0 when no answer came back.
 * @property {string} error
 * @property {string | null} attempted_at
 * @property {number} duration_ms
 * @property {string | null} next_attempt_at
 */

/**
 * @typedef {object} Endpoint
 * @property {string} id
 * @property {string} url
 * @property {string[]} event_types
 * @property {boolean} paused
 * @property {string[]} previous_secrets_expire_at
 * @property {number} version
 * @property {string} created_at
 * @property {string} updated_at
 */

/**
 * @typedef {object} EndpointInput
 * @property {string} [id]
 * @property {string} url
 * @property {string[]} [event_types]
 * @property {boolean} [paused]
 */

/**
 * @typedef {object} EndpointWithSecret
 * @property {Endpoint} endpoint
 * @property {string} secret
 */

/**
 * The settings of a source besides its id, provider, secrets and paused flag.
 * @typedef {object} SourceSettings
 * @property {string[]} [allow_ips]
 * @property {number} [rate_limit_per_sec]
 * @property {number} [max_body_bytes]
 * @property {unknown} [hmac]
 * @property {boolean} [strict]
 * @property {unknown} [transform]
 */

/**
 * @typedef {object} Source
 * @property {string} id
 * @property {string} provider
 * @property {string} webhook_path
 * @property {boolean} paused
 * @property {number} secrets
 * @property {SourceSettings} settings
 * @property {number} version
 * @property {string} created_at
 * @property {string} updated_at
 */

/**
 * @typedef {object} SourceInput
 * @property {string} [id]
 * @property {string} provider
 * @property {string} [secret]
 * @property {string[]} [allow_ips]
 * @property {number} [rate_limit_per_sec]
 * @property {number} [max_body_bytes]
 * @property {unknown} [hmac]
 * @property {boolean} [strict]
 * @property {unknown} [transform]
 * @property {boolean} [paused]
 */

/**
 * @typedef {object} SourceWithSecret
 * @property {Source} source
 * @property {string} [secret]
 */

/**
 * A page of a listing by id.
 * @template T
 * @typedef {object} Page
 * @property {T[]} data
 * @property {string | null} next_cursor
 */

/**
 * A record no consumer could handle.
 * @typedef {object} DeadLetter
 * @property {string} id
 * @property {string} topic
 * @property {string} reason
 * @property {number} attempts
 * @property {string} group
 * @property {string | null} endpoint
 * @property {string | null} event_id
 * @property {string | null} event_type
 * @property {string} dead_lettered_at
 * @property {string | null} redriven_at
 * @property {number} redrive_count
 * @property {unknown} [payload]
 * @property {string | null} [payload_base64]
 */

/**
 * What the views get from the shell.
 * @typedef {object} Context
 * @property {import('./api.js').Api} api
 * @property {import('./live.js').LiveFeed} live
 * @property {(message: string, tone?: 'ok' | 'error') => void} toast
 * @property {URLSearchParams} params The route's query (`#/events?type=...`).
 * @property {string[]} path The route's segments after the view name.
 */

export {};
