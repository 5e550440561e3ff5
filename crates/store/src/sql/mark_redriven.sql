UPDATE dead_letters
SET redriven_at = now(), redrive_count = redrive_count + 1
WHERE id = $2 AND tenant = $1
RETURNING id, source_position, tenant, topic, reason, attempts, consumer_group, origin,
          endpoint, key, headers, payload, dead_lettered_at, stored_at, redriven_at,
          redrive_count
