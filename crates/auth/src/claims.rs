//! The token payload as Switchyard reads it: `tenant`, `sub`, `scope`/`scp`, `exp`.

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::Value;
use switchyard_domain::TenantId;

use crate::{error::AuthError, principal::Principal, scope::Scopes};

/// The claims we read, each kept as raw JSON so a claim of the wrong type is reported as such
/// (and after the signature and lifetime checks) instead of failing the whole decode.
#[derive(Debug, Deserialize)]
pub(crate) struct RawClaims {
    #[serde(default)]
    tenant: Option<Value>,
    #[serde(default)]
    sub: Option<Value>,
    #[serde(default)]
    scope: Option<Value>,
    #[serde(default)]
    scp: Option<Value>,
    #[serde(default)]
    exp: Option<Value>,
}

impl RawClaims {
    /// Turns verified claims into a principal. Call only after the signature, `exp`, `nbf`,
    /// `iss` and `aud` were checked.
    pub(crate) fn into_principal(self) -> Result<Principal, AuthError> {
        let tenant = tenant(self.tenant)?;
        let subject = match self.sub {
            None => None,
            Some(Value::String(sub)) if sub.is_empty() => None,
            Some(Value::String(sub)) => Some(sub),
            Some(_) => return Err(AuthError::InvalidClaim { claim: "sub" }),
        };
        let scopes = scopes(self.scope.as_ref(), "scope")?.union(scopes(self.scp.as_ref(), "scp")?);
        let expires_at = expires_at(self.exp.as_ref())?;
        Ok(Principal::new(tenant, subject, scopes, expires_at))
    }
}

fn tenant(claim: Option<Value>) -> Result<TenantId, AuthError> {
    match claim {
        None => Err(AuthError::MissingTenant),
        Some(Value::String(tenant)) => TenantId::try_from(tenant)
            .map_err(|invalid| AuthError::InvalidTenant { rule: invalid.rule }),
        Some(_) => Err(AuthError::InvalidTenant {
            rule: "must be a string",
        }),
    }
}

/// `scope` is a space-separated string (RFC 8693 §4.2, RFC 9068). `scp` is accepted too, as a
/// space-separated string (Azure AD) or an array of names (Okta); both are unioned.
fn scopes(claim: Option<&Value>, name: &'static str) -> Result<Scopes, AuthError> {
    match claim {
        None => Ok(Scopes::NONE),
        Some(Value::String(list)) => Ok(Scopes::from_space_separated(list)),
        Some(Value::Array(items)) if name == "scp" => {
            items.iter().try_fold(Scopes::NONE, |acc, item| match item {
                Value::String(one) => Ok(acc.union(Scopes::from_space_separated(one))),
                _ => Err(AuthError::InvalidClaim { claim: name }),
            })
        }
        Some(_) => Err(AuthError::InvalidClaim { claim: name }),
    }
}

fn expires_at(exp: Option<&Value>) -> Result<DateTime<Utc>, AuthError> {
    let Some(Value::Number(exp)) = exp else {
        // The validator already required a numeric `exp`; this is the belt to its braces.
        return Err(AuthError::MissingClaim { claim: "exp" });
    };
    exp.as_i64()
        .or_else(|| exp.as_f64().map(|secs| secs.floor() as i64))
        .and_then(|secs| DateTime::from_timestamp(secs, 0))
        .ok_or(AuthError::InvalidClaim { claim: "exp" })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::scope::Scope;

    fn principal(claims: Value) -> Result<Principal, AuthError> {
        serde_json::from_value::<RawClaims>(claims)
            .unwrap()
            .into_principal()
    }

    #[test]
    fn reads_tenant_subject_scopes_and_expiry() {
        let p = principal(json!({
            "tenant": "acme", "sub": "user-1", "scope": "events:read admin", "exp": 2_000_000_000
        }))
        .unwrap();
        assert_eq!(p.tenant().as_str(), "acme");
        assert_eq!(p.subject(), Some("user-1"));
        assert!(p.scopes().contains(Scope::EventsRead));
        assert!(p.scopes().contains(Scope::Admin));
        assert_eq!(p.expires_at().timestamp(), 2_000_000_000);
    }

    #[test]
    fn scp_as_array_or_string_is_unioned_with_scope() {
        let p = principal(json!({
            "tenant": "acme", "scope": "events:read", "scp": ["events:write"], "exp": 1
        }))
        .unwrap();
        assert_eq!(p.scopes().to_string(), "events:read events:write");
        let p = principal(json!({"tenant": "acme", "scp": "admin openid", "exp": 1})).unwrap();
        assert_eq!(p.scopes().to_string(), "admin");
    }

    #[test]
    fn a_missing_or_invalid_tenant_is_refused() {
        assert_eq!(principal(json!({"exp": 1})), Err(AuthError::MissingTenant));
        assert!(matches!(
            principal(json!({"tenant": "../x", "exp": 1})),
            Err(AuthError::InvalidTenant { .. })
        ));
        assert!(matches!(
            principal(json!({"tenant": 42, "exp": 1})),
            Err(AuthError::InvalidTenant { .. })
        ));
        assert!(matches!(
            principal(json!({"tenant": "", "exp": 1})),
            Err(AuthError::InvalidTenant { .. })
        ));
    }

    #[test]
    fn claims_of_the_wrong_type_are_named() {
        assert_eq!(
            principal(json!({"tenant": "acme", "sub": 7, "exp": 1})),
            Err(AuthError::InvalidClaim { claim: "sub" })
        );
        assert_eq!(
            principal(json!({"tenant": "acme", "scope": ["admin"], "exp": 1})),
            Err(AuthError::InvalidClaim { claim: "scope" })
        );
        assert_eq!(
            principal(json!({"tenant": "acme", "scp": [1], "exp": 1})),
            Err(AuthError::InvalidClaim { claim: "scp" })
        );
        assert_eq!(
            principal(json!({"tenant": "acme", "exp": 1e300})),
            Err(AuthError::InvalidClaim { claim: "exp" })
        );
    }

    #[test]
    fn an_empty_subject_is_no_subject() {
        let p = principal(json!({"tenant": "acme", "sub": "", "exp": 1})).unwrap();
        assert_eq!(p.subject(), None);
    }
}
