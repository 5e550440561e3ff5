//! Who a verified token speaks for, and what it may do.

use chrono::{DateTime, Utc};
use switchyard_domain::TenantId;

use crate::{
    error::AuthError,
    scope::{Scope, Scopes},
};

/// The caller, as proven by a verified token.
///
/// Only [`Authenticator::authenticate`](crate::Authenticator::authenticate) makes one, so
/// holding a `Principal` means the token's signature, lifetime, issuer and audience were
/// checked and its tenant is a valid [`TenantId`]. Every query and write is scoped to
/// [`Principal::tenant`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    tenant: TenantId,
    subject: Option<String>,
    scopes: Scopes,
    expires_at: DateTime<Utc>,
}

impl Principal {
    pub(crate) fn new(
        tenant: TenantId,
        subject: Option<String>,
        scopes: Scopes,
        expires_at: DateTime<Utc>,
    ) -> Self {
        Self {
            tenant,
            subject,
            scopes,
            expires_at,
        }
    }

    /// The tenant (`tenant` claim) every read and write of this caller is confined to.
    #[must_use]
    pub fn tenant(&self) -> &TenantId {
        &self.tenant
    }

    /// The `sub` claim, when the token has one. A websocket client whose token carries it may
    /// restrict itself to events whose subject matches it.
    #[must_use]
    pub fn subject(&self) -> Option<&str> {
        self.subject.as_deref()
    }

    /// The granted scopes.
    #[must_use]
    pub fn scopes(&self) -> Scopes {
        self.scopes
    }

    /// When the token expires (`exp`). Long-lived connections (WebSocket, SSE) should close
    /// at this time, or ask the client to reconnect with a fresh token.
    #[must_use]
    pub fn expires_at(&self) -> DateTime<Utc> {
        self.expires_at
    }

    /// Whether the caller may act with `scope` (`admin` implies every scope).
    #[must_use]
    pub fn allows(&self, scope: Scope) -> bool {
        self.scopes.allows(scope)
    }

    /// `Ok` when the caller may act with `scope`, else [`AuthError::MissingScope`] (`403`).
    pub fn require(&self, scope: Scope) -> Result<(), AuthError> {
        if self.allows(scope) {
            Ok(())
        } else {
            Err(AuthError::MissingScope { scope })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn principal(scopes: &str) -> Principal {
        Principal::new(
            TenantId::parse("acme").unwrap(),
            None,
            Scopes::from_space_separated(scopes),
            Utc::now(),
        )
    }

    #[test]
    fn require_names_the_missing_scope() {
        let reader = principal("events:read");
        assert_eq!(reader.require(Scope::EventsRead), Ok(()));
        assert_eq!(
            reader.require(Scope::EventsWrite),
            Err(AuthError::MissingScope {
                scope: Scope::EventsWrite
            })
        );
    }

    #[test]
    fn admin_passes_every_requirement() {
        let admin = principal("admin");
        for scope in Scope::ALL {
            assert_eq!(admin.require(scope), Ok(()));
        }
    }

    #[test]
    fn no_scope_passes_nothing() {
        let nobody = principal("openid profile");
        for scope in Scope::ALL {
            assert!(nobody.require(scope).is_err());
        }
    }
}
