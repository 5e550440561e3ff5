SELECT id, source_position, tenant, topic, reason, attempts, consumer_group, origin, endpoint,
       key, headers, payload, dead_lettered_at, stored_at, redriven_at, redrive_count
FROM dead_letters
WHERE id = $2 AND tenant = $1
