//! How many connections this replica, and each tenant on it, may hold. A permit is taken
//! before the upgrade and given back when the connection ends, so the counts are exact.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, PoisonError},
};

use switchyard_domain::TenantId;

use crate::metrics::{self, Transport};

/// Why a connection was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum LimitError {
    /// The replica holds `websocket.max_connections`.
    #[error("this server holds its maximum of {0} connections: retry, another replica may answer")]
    Replica(usize),
    /// The tenant holds `websocket.max_connections_per_tenant` on this replica.
    #[error("your tenant holds its maximum of {0} connections on this server: close some first")]
    Tenant(usize),
}

#[derive(Debug, Default)]
struct Counts {
    total: usize,
    per_tenant: HashMap<TenantId, usize>,
}

/// The replica's connection counts.
#[derive(Debug)]
pub struct Limits {
    counts: Mutex<Counts>,
    max_total: usize,
    max_per_tenant: usize,
}

impl Limits {
    /// Limits of `max_total` connections, `max_per_tenant` per tenant.
    #[must_use]
    pub fn new(max_total: usize, max_per_tenant: usize) -> Arc<Self> {
        Arc::new(Self {
            counts: Mutex::new(Counts::default()),
            max_total,
            max_per_tenant,
        })
    }

    /// Takes a permit for one connection of `tenant`, or says which limit is reached.
    pub fn acquire(
        self: &Arc<Self>,
        tenant: &TenantId,
        transport: Transport,
    ) -> Result<Permit, LimitError> {
        let mut counts = self.counts.lock().unwrap_or_else(PoisonError::into_inner);
        if counts.total >= self.max_total {
            return Err(LimitError::Replica(self.max_total));
        }
        let of_tenant = counts.per_tenant.entry(tenant.clone()).or_default();
        if *of_tenant >= self.max_per_tenant {
            return Err(LimitError::Tenant(self.max_per_tenant));
        }
        *of_tenant += 1;
        counts.total += 1;
        metrics::connection_opened(tenant, transport);
        Ok(Permit {
            limits: self.clone(),
            tenant: tenant.clone(),
            transport,
        })
    }

    /// Connections held now.
    #[must_use]
    pub fn total(&self) -> usize {
        self.counts
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .total
    }
}

/// One connection's place in the counts, given back on drop.
#[derive(Debug)]
pub struct Permit {
    limits: Arc<Limits>,
    tenant: TenantId,
    transport: Transport,
}

impl Drop for Permit {
    fn drop(&mut self) {
        let mut counts = self
            .limits
            .counts
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        counts.total -= 1;
        if let Some(n) = counts.per_tenant.get_mut(&self.tenant) {
            *n -= 1;
            if *n == 0 {
                counts.per_tenant.remove(&self.tenant);
            }
        }
        metrics::connection_closed(&self.tenant, self.transport);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tenant_and_replica_limits_hold_and_permits_come_back() {
        let limits = Limits::new(3, 2);
        let acme = TenantId::parse("acme").unwrap();
        let globex = TenantId::parse("globex").unwrap();
        let a1 = limits.acquire(&acme, Transport::WebSocket).unwrap();
        let _a2 = limits.acquire(&acme, Transport::Sse).unwrap();
        assert_eq!(
            limits.acquire(&acme, Transport::WebSocket).err(),
            Some(LimitError::Tenant(2))
        );
        let _g1 = limits.acquire(&globex, Transport::WebSocket).unwrap();
        assert_eq!(
            limits.acquire(&globex, Transport::WebSocket).err(),
            Some(LimitError::Replica(3))
        );
        drop(a1);
        assert_eq!(limits.total(), 2);
        assert!(limits.acquire(&acme, Transport::WebSocket).is_ok());
    }
}
