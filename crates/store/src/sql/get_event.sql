SELECT tenant, id, type, subject, time, time_nanos, source,
       data_content_type, data_schema, traceparent, extensions, data
FROM events
WHERE tenant = $1 AND id = $2
