//! `switchyard token`: mints a development JWT the gateway and websocket-gateway accept, signed
//! with the HS256 secret of `[auth]` (or `--secret`).

use std::{path::PathBuf, process::ExitCode, time::Duration};

use secrecy::{ExposeSecret as _, SecretString};
use serde_json::json;
use switchyard_auth::{Scope, Scopes, TokenSpec, mint_hs256};
use switchyard_domain::TenantId;
use switchyard_runtime::settings::{Settings, Sources};

/// What to mint.
pub struct Request {
    pub tenant: String,
    pub scopes: Vec<String>,
    pub subject: Option<String>,
    pub ttl_secs: u64,
    pub secret: Option<String>,
    pub config: Option<PathBuf>,
    pub json: bool,
}

pub fn run(request: &Request) -> ExitCode {
    match mint(request) {
        Ok((token, scopes)) => {
            if request.json {
                println!(
                    "{}",
                    json!({ "token": token, "tenant": request.tenant, "scope": scopes.to_string(), "expires_in": request.ttl_secs })
                );
            } else {
                println!("{token}");
            }
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("switchyard token: {error}");
            ExitCode::from(2)
        }
    }
}

pub(crate) fn mint(request: &Request) -> Result<(String, Scopes), String> {
    let tenant = TenantId::parse(&request.tenant).map_err(|e| format!("--tenant: {e}"))?;
    let scopes: Scopes = if request.scopes.is_empty() {
        Scopes::from(Scope::Admin)
    } else {
        request
            .scopes
            .iter()
            .map(|s| {
                s.parse::<Scope>().map_err(|_| {
                    format!("--scope: unknown scope {s:?} (events:read, events:write, admin)")
                })
            })
            .collect::<Result<_, _>>()?
    };
    if !(1..=31 * 86_400).contains(&request.ttl_secs) {
        return Err("--ttl-secs: between 1 and 2678400 (31 days)".into());
    }
    // The configuration gives the secret and, when set, the issuer and audience the services
    // require; `--secret` overrides the secret only.
    let auth = Settings::load(&Sources {
        file: request.config.clone(),
        env: std::env::vars().collect(),
        defaults: Vec::new(),
    })
    .map_err(|e| e.to_string())?
    .settings
    .auth;
    let secret = match &request.secret {
        Some(secret) => SecretString::from(secret.clone()),
        None if auth.jwt_hs256_secret.expose_secret().is_empty() => {
            return Err(
                "no HS256 secret: pass --secret or configure auth.jwt_hs256_secret (--config or SWITCHYARD__AUTH__JWT_HS256_SECRET)".into(),
            );
        }
        None => auth.jwt_hs256_secret.clone(),
    };
    let mut spec =
        TokenSpec::new(tenant, scopes, Duration::from_secs(request.ttl_secs)).for_settings(&auth);
    if let Some(subject) = &request.subject {
        spec = spec.subject(subject.clone());
    }
    let token = mint_hs256(&secret, &spec).map_err(|e| e.to_string())?;
    Ok((token, scopes))
}
