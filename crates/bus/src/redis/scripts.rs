//! The Lua scripts: the steps that must be atomic on the server. Each declares its keys in
//! `KEYS`; replies are documented per script.

use std::sync::OnceLock;

use redis::{Cmd, ToRedisArgs};

/// A Lua script run with `EVALSHA`. Redis names it by the SHA-1 it returns from `SCRIPT LOAD`,
/// and it is loaded again whenever Redis forgot it (a restart flushes the script cache). (The
/// `redis` crate's own `Script` sits behind its `script` feature, which the workspace does not
/// enable; this is the part of it we need.)
pub(super) struct Script {
    pub(super) source: &'static str,
    /// Redis's name for the script, known once it was loaded.
    pub(super) sha: OnceLock<String>,
}

impl Script {
    const fn new(source: &'static str) -> Self {
        Self {
            source,
            sha: OnceLock::new(),
        }
    }

    /// A call with `key` as its first key.
    pub(super) fn key(&self, key: impl ToRedisArgs) -> Invocation<'_> {
        let mut invocation = self.prepare_invoke();
        invocation.key(key);
        invocation
    }

    /// A call without keys or arguments yet.
    pub(super) fn prepare_invoke(&self) -> Invocation<'_> {
        Invocation {
            script: self,
            keys: Vec::new(),
            args: Vec::new(),
        }
    }
}

/// One call of a script: its keys and arguments.
pub(super) struct Invocation<'a> {
    pub(super) script: &'a Script,
    keys: Vec<Vec<u8>>,
    args: Vec<Vec<u8>>,
}

impl Invocation<'_> {
    /// Adds a key (`KEYS[n]`).
    pub(super) fn key(&mut self, key: impl ToRedisArgs) -> &mut Self {
        key.write_redis_args(&mut self.keys);
        self
    }

    /// Adds an argument (`ARGV[n]`).
    pub(super) fn arg(&mut self, arg: impl ToRedisArgs) -> &mut Self {
        arg.write_redis_args(&mut self.args);
        self
    }

    /// `EVALSHA sha numkeys key... arg...`.
    pub(super) fn evalsha(&self, sha: &str) -> Cmd {
        let mut cmd = redis::cmd("EVALSHA");
        cmd.arg(sha).arg(self.keys.len());
        for key in &self.keys {
            cmd.arg(key.as_slice());
        }
        for arg in &self.args {
            cmd.arg(arg.as_slice());
        }
        cmd
    }
}

/// Records the topic's partition count unless one is recorded; returns the recorded one.
/// KEYS: meta hash. ARGV: partitions.
pub(super) static REGISTER_TOPIC: Script = Script::new(
    r"
redis.call('HSETNX', KEYS[1], 'partitions', ARGV[1])
return tonumber(redis.call('HGET', KEYS[1], 'partitions'))
",
);

/// Creates each missing stream empty (an entry added and trimmed away at once); existing
/// streams are left alone. KEYS: streams.
pub(super) static CREATE_STREAMS: Script = Script::new(
    r"
for _, stream in ipairs(KEYS) do
  if redis.call('EXISTS', stream) == 0 then
    redis.call('XADD', stream, 'MAXLEN', '0', '*', 'created', '1')
  end
end
return #KEYS
",
);

/// Heartbeat: drops expired members, (re)adds this one until Redis time + session timeout,
/// and returns the live members. KEYS: members set. ARGV: member, session timeout (ms).
pub(super) static HEARTBEAT: Script = Script::new(
    r"
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local session = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
redis.call('ZADD', KEYS[1], now + session, ARGV[1])
redis.call('PEXPIRE', KEYS[1], 2 * session)
return redis.call('ZRANGE', KEYS[1], 0, -1)
",
);

/// Takes (`acquire`) or keeps (`renew`) partition leases for a member. Returns 1 per lease the
/// member now holds, 0 per lease another member holds, or, when renewing, nobody holds: an
/// expired lease may have passed to another member and back meanwhile, so its reader must
/// start over. KEYS: leases. ARGV: member, session timeout (ms), `acquire` | `renew`.
pub(super) static LEASES: Script = Script::new(
    r"
local held = {}
for i, lease in ipairs(KEYS) do
  local owner = redis.call('GET', lease)
  if owner == ARGV[1] then
    redis.call('PEXPIRE', lease, ARGV[2])
    held[i] = 1
  elseif not owner and ARGV[3] == 'acquire' then
    redis.call('SET', lease, ARGV[1], 'PX', ARGV[2])
    held[i] = 1
  else
    held[i] = 0
  end
end
return held
",
);

/// Deletes a lease if the member holds it. KEYS: lease. ARGV: member.
pub(super) static RELEASE: Script = Script::new(
    r"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
",
);

/// Fenced read of new entries. Nil if the member does not hold the lease; else
/// `[tail, entries]`. With no new entries, `tail` is the group's last delivered id, after which
/// a blocking `XREAD` wakes exactly when the group has something new (the stream's newest id
/// would not do: a group set past it would wake the reader at once, again and again); with
/// entries, `tail` is empty. KEYS: lease, stream. ARGV: member (= consumer), group, count.
pub(super) static READ: Script = Script::new(
    r"
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  return false
end
local read = redis.call('XREADGROUP', 'GROUP', ARGV[2], ARGV[1], 'COUNT', ARGV[3],
  'STREAMS', KEYS[2], '>')
if read then
  return {'', read[1][2]}
end
for _, group in ipairs(redis.call('XINFO', 'GROUPS', KEYS[2])) do
  local name, delivered
  for i = 1, #group, 2 do
    if group[i] == 'name' then
      name = group[i + 1]
    elseif group[i] == 'last-delivered-id' then
      delivered = group[i + 1]
    end
  end
  if name == ARGV[2] then
    return {delivered, {}}
  end
end
return {'0-0', {}}
",
);

/// Fenced claim of pending entries, whoever they were delivered to. Nil if the member does not
/// hold the lease; else `XAUTOCLAIM`'s reply `[next cursor, entries, deleted ids]`.
/// KEYS: lease, stream. ARGV: member (= consumer), group, cursor, count.
pub(super) static CLAIM: Script = Script::new(
    r"
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  return false
end
return redis.call('XAUTOCLAIM', KEYS[2], ARGV[2], ARGV[1], 0, ARGV[3], 'COUNT', ARGV[4])
",
);

/// Deletes the group's consumers that hold no pending entry and are not live members (Redis
/// keeps every consumer name forever otherwise). Atomic, so nothing is delivered to a
/// consumer between the check and the delete. Returns how many went.
/// KEYS: stream, members set. ARGV: group.
pub(super) static PRUNE_CONSUMERS: Script = Script::new(
    r"
local removed = 0
for _, consumer in ipairs(redis.call('XINFO', 'CONSUMERS', KEYS[1], ARGV[1])) do
  local name, pending
  for i = 1, #consumer, 2 do
    if consumer[i] == 'name' then
      name = consumer[i + 1]
    elseif consumer[i] == 'pending' then
      pending = consumer[i + 1]
    end
  end
  if name and pending == 0 and not redis.call('ZSCORE', KEYS[2], name) then
    redis.call('XGROUP', 'DELCONSUMER', KEYS[1], ARGV[1], name)
    removed = removed + 1
  end
end
return removed
",
);

/// Moves a stopped group to entry id `at` on each stream, creating it where missing, and
/// forgets its pending entries (they would otherwise be replayed ahead of the new position).
/// KEYS: streams. ARGV: group, id.
pub(super) static RESET_GROUP: Script = Script::new(
    r"
for _, stream in ipairs(KEYS) do
  local created = redis.pcall('XGROUP', 'CREATE', stream, ARGV[1], ARGV[2], 'MKSTREAM')
  if type(created) == 'table' and created.err then
    if string.sub(created.err, 1, 9) ~= 'BUSYGROUP' then
      return redis.error_reply(created.err)
    end
    for _, consumer in ipairs(redis.call('XINFO', 'CONSUMERS', stream, ARGV[1])) do
      for i = 1, #consumer, 2 do
        if consumer[i] == 'name' then
          redis.call('XGROUP', 'DELCONSUMER', stream, ARGV[1], consumer[i + 1])
        end
      end
    end
    redis.call('XGROUP', 'SETID', stream, ARGV[1], ARGV[2])
  end
end
return #KEYS
",
);
