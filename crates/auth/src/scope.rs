//! What a token lets its holder do within its tenant.

use std::{fmt, str::FromStr};

/// One permission a token can carry in its `scope` claim.
///
/// [`Scope::Admin`] implies every other scope, but only within the token's own tenant: there
/// is no cross-tenant scope.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scope {
    /// `events:read`: query events, deliveries, and subscribe on WebSocket/SSE.
    EventsRead,
    /// `events:write`: publish events.
    EventsWrite,
    /// `admin`: manage sources, endpoints, replays and the DLQ; implies every other scope.
    Admin,
}

impl Scope {
    /// Every scope, in canonical order.
    pub const ALL: [Self; 3] = [Self::EventsRead, Self::EventsWrite, Self::Admin];

    /// The scope's name as it appears in the `scope` claim.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::EventsRead => "events:read",
            Self::EventsWrite => "events:write",
            Self::Admin => "admin",
        }
    }

    const fn bit(self) -> u8 {
        match self {
            Self::EventsRead => 0b001,
            Self::EventsWrite => 0b010,
            Self::Admin => 0b100,
        }
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A scope name that Switchyard does not define.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown scope; expected one of: events:read, events:write, admin")]
pub struct UnknownScope;

impl FromStr for Scope {
    type Err = UnknownScope;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|scope| scope.as_str() == s)
            .ok_or(UnknownScope)
    }
}

/// The set of scopes a token grants.
///
/// Parsed leniently from a token: names Switchyard does not define (`openid`, `profile`, an
/// identity provider's own scopes) are ignored rather than refused, because tokens from a
/// shared IdP routinely carry them.
///
/// ```
/// use switchyard_auth::{Scope, Scopes};
///
/// let scopes = Scopes::from_space_separated("openid events:read  admin");
/// assert!(scopes.contains(Scope::EventsRead));
/// assert!(!scopes.contains(Scope::EventsWrite));
/// // `admin` implies every scope.
/// assert!(scopes.allows(Scope::EventsWrite));
/// assert_eq!(scopes.to_string(), "events:read admin");
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Scopes(u8);

impl Scopes {
    /// No scope at all.
    pub const NONE: Self = Self(0);

    /// Parses a space-separated list (the `scope` claim of RFC 8693 / RFC 9068), ignoring
    /// names it does not know.
    #[must_use]
    pub fn from_space_separated(list: &str) -> Self {
        list.split_ascii_whitespace()
            .filter_map(|name| name.parse().ok())
            .collect()
    }

    /// This set plus `scope`.
    #[must_use]
    pub const fn with(self, scope: Scope) -> Self {
        Self(self.0 | scope.bit())
    }

    /// This set plus every scope of `other`.
    #[must_use]
    pub const fn union(self, other: Self) -> Self {
        Self(self.0 | other.0)
    }

    /// Whether `scope` was granted literally (without counting what `admin` implies).
    #[must_use]
    pub const fn contains(self, scope: Scope) -> bool {
        self.0 & scope.bit() != 0
    }

    /// Whether the holder may act with `scope`: granted literally, or implied by `admin`.
    #[must_use]
    pub const fn allows(self, scope: Scope) -> bool {
        self.contains(scope) || self.contains(Scope::Admin)
    }

    /// Whether no scope was granted.
    #[must_use]
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The granted scopes, in canonical order.
    pub fn iter(self) -> impl Iterator<Item = Scope> {
        Scope::ALL
            .into_iter()
            .filter(move |scope| self.contains(*scope))
    }
}

impl FromIterator<Scope> for Scopes {
    fn from_iter<I: IntoIterator<Item = Scope>>(iter: I) -> Self {
        iter.into_iter().fold(Self::NONE, Self::with)
    }
}

impl From<Scope> for Scopes {
    fn from(scope: Scope) -> Self {
        Self::NONE.with(scope)
    }
}

/// Space-separated, in canonical order: the form of the `scope` claim.
impl fmt::Display for Scopes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, scope) in self.iter().enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            f.write_str(scope.as_str())?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn scope_names_round_trip() {
        for scope in Scope::ALL {
            assert_eq!(scope.as_str().parse::<Scope>(), Ok(scope));
        }
        assert_eq!("Events:Read".parse::<Scope>(), Err(UnknownScope));
        assert_eq!("".parse::<Scope>(), Err(UnknownScope));
    }

    #[test]
    fn unknown_names_and_extra_whitespace_are_ignored() {
        let scopes = Scopes::from_space_separated("  openid\tevents:write profile events:write ");
        assert_eq!(scopes, Scopes::from(Scope::EventsWrite));
        assert!(Scopes::from_space_separated("").is_empty());
        assert!(Scopes::from_space_separated("events:read,events:write").is_empty());
    }

    #[test]
    fn admin_implies_every_scope_but_is_not_them() {
        let admin = Scopes::from(Scope::Admin);
        for scope in Scope::ALL {
            assert!(admin.allows(scope));
        }
        assert!(!admin.contains(Scope::EventsRead));
    }

    #[test]
    fn without_admin_only_granted_scopes_are_allowed() {
        let read = Scopes::from(Scope::EventsRead);
        assert!(read.allows(Scope::EventsRead));
        assert!(!read.allows(Scope::EventsWrite));
        assert!(!read.allows(Scope::Admin));
        assert!(!Scopes::NONE.allows(Scope::EventsRead));
    }

    fn any_scopes() -> impl Strategy<Value = Scopes> {
        (0u8..8).prop_map(|bits| {
            Scope::ALL
                .into_iter()
                .filter(|scope| bits & scope.bit() != 0)
                .collect()
        })
    }

    proptest! {
        #[test]
        fn display_parses_back_to_the_same_set(scopes in any_scopes()) {
            prop_assert_eq!(Scopes::from_space_separated(&scopes.to_string()), scopes);
        }

        #[test]
        fn parsing_never_panics_and_ignores_noise(noise in "[ -~\t]{0,64}") {
            let parsed = Scopes::from_space_separated(&noise);
            let with_read = Scopes::from_space_separated(&format!("{noise} events:read"));
            prop_assert!(with_read.contains(Scope::EventsRead));
            prop_assert_eq!(with_read.union(parsed), with_read);
        }
    }
}
