//! Managing a tenant's sources and endpoints (the `admin` scope): each write changes the
//! entity's row and enqueues its `switchyard.config.*` change in the same unit of work, and
//! the outbox relay publishes the change to `<prefix>.config`, where ingest, the processor and
//! the webhook dispatcher pick it up within seconds. Secrets are generated here, sealed
//! before they are stored or published, and shown to the caller once.

use base64::{Engine as _, engine::general_purpose::STANDARD};
use chrono::Utc;
use secrecy::{ExposeSecret as _, SecretString};
use serde_json::{Map, Value, json};
use switchyard_auth::{Principal, Scope};
use switchyard_control::{ConfigChange, EndpointSpec, PreviousSecret, SourceSpec};
use switchyard_domain::{EndpointId, Event, SourceId, TenantId};
use switchyard_runtime::settings::{EndpointSettings, SourceSettings};
use switchyard_store::{ConfigRow, StoreError, config::Precondition, outbox::Route};

use crate::{
    api::{Api, DEFAULT_PAGE},
    error::ApiError,
    model::{
        EndpointInput, EndpointView, EndpointWithSecret, Json, Page, PageQuery, SourceInput,
        SourceView, SourceWithSecret,
    },
};

/// Random bytes in a generated secret: 192 bits, as Svix and Stripe use.
const SECRET_BYTES: usize = 24;

/// A new Standard Webhooks secret, `whsec_<base64>`.
fn generate_secret() -> SecretString {
    let bytes: [u8; SECRET_BYTES] = rand::random();
    SecretString::from(format!("whsec_{}", STANDARD.encode(bytes)))
}

/// The secret to use: the one given (a provider-issued one), or a generated one, which is
/// also returned to be shown to the caller once.
fn given_or_generated(given: Option<String>) -> (SecretString, Option<SecretString>) {
    match given {
        Some(given) => (SecretString::from(given), None),
        None => {
            let secret = generate_secret();
            (secret.clone(), Some(secret))
        }
    }
}

fn invalid(field: &str, message: impl std::fmt::Display) -> ApiError {
    ApiError::Invalid(format!("{field}: {message}"))
}

fn page_limit(query: &PageQuery) -> Result<u32, ApiError> {
    let limit = query.limit.unwrap_or(DEFAULT_PAGE);
    if (1..=switchyard_store::MAX_PAGE_SIZE).contains(&limit) {
        Ok(limit)
    } else {
        Err(invalid(
            "limit",
            format!("must be between 1 and {}", switchyard_store::MAX_PAGE_SIZE),
        ))
    }
}

/// The id of a write: the path's on `PUT` (the body may repeat it), the body's on `POST`.
fn entity_id(path: Option<&str>, body: Option<&str>) -> Result<String, ApiError> {
    match (path, body) {
        (Some(path), Some(body)) if path != body => Err(invalid(
            "id",
            format!("the body says {body:?} but the path says {path:?}"),
        )),
        (Some(id), _) | (None, Some(id)) => Ok(id.to_owned()),
        (None, None) => Err(invalid("id", "required")),
    }
}

fn conflict(error: StoreError) -> ApiError {
    match error {
        StoreError::AlreadyExists { .. } | StoreError::VersionConflict { .. } => {
            ApiError::Conflict(error.to_string())
        }
        StoreError::ChangeEvent { reason } => ApiError::Invalid(reason),
        other => ApiError::Store(other),
    }
}

/// `change` as the event the store enqueues with the write it describes, keyed per entity on
/// the config topic.
fn announcement(change: &ConfigChange) -> Result<(Event, Route), StoreError> {
    let event = change.to_event().map_err(|e| StoreError::ChangeEvent {
        reason: e.to_string(),
    })?;
    Ok((event, Route::config(change.key())))
}

fn stored_spec<T: serde::de::DeserializeOwned>(row: &ConfigRow) -> Result<T, ApiError> {
    serde_json::from_value(row.spec.clone()).map_err(|e| {
        ApiError::Internal(format!(
            "stored spec of {}/{} does not read: {e}",
            row.tenant, row.id
        ))
    })
}

/// How a write treats an existing entity.
#[derive(Debug, Clone, Copy)]
enum Write {
    /// It must not exist (`POST`): 409 when it does.
    Create,
    /// Anything, or exactly this version (`PUT` with `If-Match`): 409 when it differs.
    Replace(Option<i64>),
}

impl Write {
    fn precondition(self) -> Precondition {
        match self {
            Self::Create => Precondition::Absent,
            Self::Replace(expected) => expected.map_or(Precondition::Any, Precondition::AtVersion),
        }
    }
}

/// Parses a source from the API's input into the settings a `[[sources]]` entry gives, with
/// `secrets`: the same parser and the same checks as the static configuration.
fn source_settings(
    tenant: &TenantId,
    id: &str,
    input: &SourceInput,
    secrets: &[SecretString],
) -> Result<SourceSettings, ApiError> {
    let mut object = Map::new();
    object.insert("tenant".into(), json!(tenant.as_str()));
    object.insert("id".into(), json!(id));
    object.insert("provider".into(), json!(input.provider));
    object.insert(
        "secrets".into(),
        json!(
            secrets
                .iter()
                .map(|s| s.expose_secret())
                .collect::<Vec<_>>()
        ),
    );
    let optional = [
        ("allow_ips", input.allow_ips.as_ref().map(|v| json!(v))),
        (
            "rate_limit_per_sec",
            input.rate_limit_per_sec.map(|v| json!(v)),
        ),
        ("max_body_bytes", input.max_body_bytes.map(|v| json!(v))),
        ("hmac", input.hmac.as_ref().map(|v| v.0.clone())),
        ("strict", input.strict.map(|v| json!(v))),
        ("transform", input.transform.as_ref().map(|v| v.0.clone())),
        ("paused", input.paused.map(|v| json!(v))),
    ];
    for (name, value) in optional {
        if let Some(value) = value {
            object.insert(name.into(), value);
        }
    }
    let settings: SourceSettings = serde_path_to_error::deserialize(Value::Object(object))
        .map_err(|e| {
            let path = e.path().to_string();
            invalid(&path, e.into_inner())
        })?;
    settings
        .validate()
        .map_err(|e| invalid(&e.field, e.message))?;
    Ok(settings)
}

/// A stored row with its spec read back, when there is a row.
fn with_spec<S: serde::de::DeserializeOwned>(
    row: Option<ConfigRow>,
) -> Result<Option<(ConfigRow, S)>, ApiError> {
    row.map(|row| stored_spec(&row).map(|spec| (row, spec)))
        .transpose()
}

/// One page of a listing by id: the views of `rows`, and the last id when the page is full.
fn page_of<S: serde::de::DeserializeOwned, V: async_graphql::OutputType>(
    rows: &[ConfigRow],
    limit: u32,
    view: fn(&ConfigRow, &S) -> V,
) -> Result<Page<V>, ApiError> {
    let data = rows
        .iter()
        .map(|row| stored_spec(row).map(|spec| view(row, &spec)))
        .collect::<Result<Vec<_>, _>>()?;
    let next_cursor = (rows.len() == limit as usize)
        .then(|| rows.last().map(|r| r.id.clone()))
        .flatten();
    Ok(Page { data, next_cursor })
}

fn source_view(row: &ConfigRow, spec: &SourceSpec) -> SourceView {
    let mut settings = serde_json::to_value(spec).unwrap_or(Value::Null);
    if let Value::Object(fields) = &mut settings {
        for private in ["tenant", "id", "provider", "secrets", "paused"] {
            fields.remove(private);
        }
    }
    SourceView {
        id: row.id.clone(),
        provider: spec.provider.as_str().to_owned(),
        webhook_path: format!("/webhooks/{}/{}", row.tenant, row.id),
        paused: spec.paused,
        secrets: u32::try_from(spec.secrets.len()).unwrap_or(u32::MAX),
        settings: Json(settings),
        version: row.version,
        created_at: row.created_at,
        updated_at: row.updated_at,
    }
}

fn endpoint_view(row: &ConfigRow, spec: &EndpointSpec) -> EndpointView {
    let now = Utc::now();
    EndpointView {
        id: row.id.clone(),
        url: spec.url.to_string(),
        event_types: spec.event_types.iter().map(ToString::to_string).collect(),
        paused: spec.paused,
        previous_secrets_expire_at: spec
            .previous_secrets
            .iter()
            .map(|p| p.expires_at)
            .filter(|at| *at > now)
            .collect(),
        version: row.version,
        created_at: row.created_at,
        updated_at: row.updated_at,
    }
}

impl Api {
    fn require_admin(caller: &Principal) -> Result<&TenantId, ApiError> {
        caller.require(Scope::Admin)?;
        Ok(caller.tenant())
    }

    /// Writes the source and, in the same unit of work, enqueues its change carrying the
    /// version the write produced: the row and its change become visible together or not
    /// at all.
    async fn write_source(&self, spec: SourceSpec, mode: Write) -> Result<ConfigRow, ApiError> {
        let value = serde_json::to_value(&spec).map_err(|e| ApiError::Invalid(e.to_string()))?;
        let announce = |version| {
            announcement(&ConfigChange::SourceUpserted {
                version,
                spec: spec.clone(),
            })
        };
        self.store()?
            .write_source(
                &spec.tenant,
                &spec.id,
                &value,
                mode.precondition(),
                &announce,
            )
            .await
            .map_err(conflict)
    }

    /// [`Api::write_source`] for an endpoint.
    async fn write_endpoint(&self, spec: EndpointSpec, mode: Write) -> Result<ConfigRow, ApiError> {
        let value = serde_json::to_value(&spec).map_err(|e| ApiError::Invalid(e.to_string()))?;
        let announce = |version| {
            announcement(&ConfigChange::EndpointUpserted {
                version,
                spec: spec.clone(),
            })
        };
        self.store()?
            .write_endpoint(
                &spec.tenant,
                &spec.id,
                &value,
                mode.precondition(),
                &announce,
            )
            .await
            .map_err(conflict)
    }

    fn source_id(id: &str) -> Result<SourceId, ApiError> {
        SourceId::parse(id).map_err(|e| invalid("id", e))
    }

    fn endpoint_id(id: &str) -> Result<EndpointId, ApiError> {
        EndpointId::parse(id).map_err(|e| invalid("id", e))
    }

    async fn stored_source(
        &self,
        tenant: &TenantId,
        id: &str,
    ) -> Result<Option<(ConfigRow, SourceSpec)>, ApiError> {
        let Ok(source_id) = SourceId::parse(id) else {
            return Ok(None);
        };
        with_spec(self.store()?.get_source(tenant, &source_id).await?)
    }

    async fn stored_endpoint(
        &self,
        tenant: &TenantId,
        id: &str,
    ) -> Result<Option<(ConfigRow, EndpointSpec)>, ApiError> {
        let Ok(endpoint_id) = EndpointId::parse(id) else {
            return Ok(None);
        };
        with_spec(self.store()?.get_endpoint(tenant, &endpoint_id).await?)
    }

    /// The caller's sources, by id.
    pub async fn list_sources(
        &self,
        caller: &Principal,
        query: &PageQuery,
    ) -> Result<Page<SourceView>, ApiError> {
        let tenant = Self::require_admin(caller)?;
        let limit = page_limit(query)?;
        let after = query.after.as_deref().map(Self::source_id).transpose()?;
        let rows = self
            .store()?
            .list_sources(tenant, limit, after.as_ref())
            .await?;
        page_of(&rows, limit, source_view)
    }

    /// The caller's source `id`.
    pub async fn source(&self, caller: &Principal, id: &str) -> Result<SourceView, ApiError> {
        let tenant = Self::require_admin(caller)?;
        let (row, spec) = self
            .stored_source(tenant, id)
            .await?
            .ok_or_else(|| ApiError::not_found("source", id))?;
        Ok(source_view(&row, &spec))
    }

    /// Creates a source; its secret is the one given (a provider-issued one) or a generated
    /// one, returned this once.
    pub async fn create_source(
        &self,
        caller: &Principal,
        input: SourceInput,
    ) -> Result<SourceWithSecret, ApiError> {
        let tenant = Self::require_admin(caller)?;
        let id = entity_id(None, input.id.as_deref())?;
        let (secret, generated) = given_or_generated(input.secret.clone());
        let settings = source_settings(tenant, &id, &input, &[secret])?;
        let spec = SourceSpec::seal(&settings, &self.sealer)?;
        let row = self.write_source(spec.clone(), Write::Create).await?;
        Ok(SourceWithSecret {
            source: source_view(&row, &spec),
            secret: generated.map(|s| s.expose_secret().to_owned()),
        })
    }

    /// Replaces source `id` (creating it when absent); its secrets stay unless `secret` is
    /// given. The flag says whether it was created.
    pub async fn replace_source(
        &self,
        caller: &Principal,
        id: &str,
        input: SourceInput,
        if_match: Option<i64>,
    ) -> Result<(SourceWithSecret, bool), ApiError> {
        let tenant = Self::require_admin(caller)?;
        let id = entity_id(Some(id), input.id.as_deref())?;
        let existing = self.stored_source(tenant, &id).await?;
        let generated = (existing.is_none() && input.secret.is_none()).then(generate_secret);
        let given = input.secret.clone().map(SecretString::from);
        let secret = given
            .clone()
            .or_else(|| generated.clone())
            // Kept below: the stored secrets replace this stand-in, which only lets the
            // settings pass the check that a source has a secret.
            .unwrap_or_else(generate_secret);
        let settings = source_settings(tenant, &id, &input, &[secret])?;
        let mut spec = SourceSpec::seal(&settings, &self.sealer)?;
        if given.is_none()
            && let Some((_, stored)) = &existing
        {
            spec.secrets.clone_from(&stored.secrets);
        }
        let row = self
            .write_source(spec.clone(), Write::Replace(if_match))
            .await?;
        let created = existing.is_none();
        Ok((
            SourceWithSecret {
                source: source_view(&row, &spec),
                secret: generated.map(|s| s.expose_secret().to_owned()),
            },
            created,
        ))
    }

    /// Rotates source `id`'s secret to `secret` (or a generated one, returned this once); the
    /// newest previous secret keeps verifying beside it until the next rotation, so the
    /// provider's side can be switched without losing a webhook.
    pub async fn rotate_source_secret(
        &self,
        caller: &Principal,
        id: &str,
        secret: Option<String>,
    ) -> Result<SourceWithSecret, ApiError> {
        let tenant = Self::require_admin(caller)?;
        let (row, mut spec) = self
            .stored_source(tenant, id)
            .await?
            .ok_or_else(|| ApiError::not_found("source", id))?;
        if secret.as_deref().is_some_and(str::is_empty) {
            return Err(invalid("secret", "must not be empty"));
        }
        let (new, generated) = given_or_generated(secret);
        let sealed = self.sealer.seal(&new)?;
        spec.secrets = std::iter::once(sealed)
            .chain(spec.secrets.first().cloned())
            .collect();
        let row = self
            .write_source(spec.clone(), Write::Replace(Some(row.version)))
            .await?;
        Ok(SourceWithSecret {
            source: source_view(&row, &spec),
            secret: generated.map(|s| s.expose_secret().to_owned()),
        })
    }

    /// Deletes source `id`; ingest answers `404` for it within seconds.
    pub async fn delete_source(&self, caller: &Principal, id: &str) -> Result<(), ApiError> {
        let tenant = Self::require_admin(caller)?;
        let source_id = SourceId::parse(id).map_err(|_| ApiError::not_found("source", id))?;
        let announce = |version| {
            announcement(&ConfigChange::SourceDeleted {
                tenant: tenant.clone(),
                id: source_id.clone(),
                version,
            })
        };
        self.store()?
            .delete_source(tenant, &source_id, &announce)
            .await
            .map_err(conflict)?
            .map(|_| ())
            .ok_or_else(|| ApiError::not_found("source", id))
    }

    /// Checks an endpoint's input and makes its spec around `secret` and `previous`.
    fn endpoint_spec(
        &self,
        tenant: &TenantId,
        id: &str,
        input: &EndpointInput,
        secret: switchyard_control::SealedSecret,
        previous: Vec<PreviousSecret>,
    ) -> Result<EndpointSpec, ApiError> {
        let url = url::Url::parse(&input.url).map_err(|e| invalid("url", e))?;
        match url.scheme() {
            "https" => {}
            "http" if self.settings().allow_http_endpoints => {}
            "http" => {
                return Err(invalid(
                    "url",
                    "must be https:// (plain http is not allowed by this deployment)",
                ));
            }
            other => return Err(invalid("url", format!("scheme {other:?} is not https"))),
        }
        if url.host().is_none() || !url.username().is_empty() || url.password().is_some() {
            return Err(invalid("url", "needs a host and no user or password"));
        }
        let event_types = match &input.event_types {
            None => vec![
                switchyard_domain::EventTypePattern::parse("*")
                    .map_err(|e| invalid("event_types", e))?,
            ],
            Some(types) if types.is_empty() => {
                return Err(invalid(
                    "event_types",
                    "must list at least one type or pattern",
                ));
            }
            Some(types) => types
                .iter()
                .map(|t| switchyard_domain::EventTypePattern::parse(t))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| invalid("event_types", e))?,
        };
        let spec = EndpointSpec {
            tenant: tenant.clone(),
            id: Self::endpoint_id(id)?,
            url,
            secret,
            previous_secrets: previous,
            paused: input.paused.unwrap_or(false),
            event_types,
        };
        // The same checks as an `[[endpoints]]` entry, on the settings the dispatcher will
        // build from this spec.
        spec.to_settings(&self.sealer, Utc::now())
            .map(|_: EndpointSettings| ())
            .map_err(ApiError::from)?;
        Ok(spec)
    }

    /// The caller's endpoints, by id.
    pub async fn list_endpoints(
        &self,
        caller: &Principal,
        query: &PageQuery,
    ) -> Result<Page<EndpointView>, ApiError> {
        let tenant = Self::require_admin(caller)?;
        let limit = page_limit(query)?;
        let after = query.after.as_deref().map(Self::endpoint_id).transpose()?;
        let rows = self
            .store()?
            .list_endpoints(tenant, limit, after.as_ref())
            .await?;
        page_of(&rows, limit, endpoint_view)
    }

    /// The caller's endpoint `id`.
    pub async fn endpoint(&self, caller: &Principal, id: &str) -> Result<EndpointView, ApiError> {
        let tenant = Self::require_admin(caller)?;
        let (row, spec) = self
            .stored_endpoint(tenant, id)
            .await?
            .ok_or_else(|| ApiError::not_found("endpoint", id))?;
        Ok(endpoint_view(&row, &spec))
    }

    /// Creates an endpoint with a generated signing secret, returned this once.
    pub async fn create_endpoint(
        &self,
        caller: &Principal,
        input: EndpointInput,
    ) -> Result<EndpointWithSecret, ApiError> {
        let tenant = Self::require_admin(caller)?;
        let id = entity_id(None, input.id.as_deref())?;
        let secret = generate_secret();
        let spec =
            self.endpoint_spec(tenant, &id, &input, self.sealer.seal(&secret)?, Vec::new())?;
        let row = self.write_endpoint(spec.clone(), Write::Create).await?;
        Ok(EndpointWithSecret {
            endpoint: endpoint_view(&row, &spec),
            secret: secret.expose_secret().to_owned(),
        })
    }

    /// Replaces endpoint `id` (creating it, with a generated secret returned this once, when
    /// absent); an existing endpoint keeps its secrets. The flag says whether it was created.
    pub async fn replace_endpoint(
        &self,
        caller: &Principal,
        id: &str,
        input: EndpointInput,
        if_match: Option<i64>,
    ) -> Result<(EndpointView, Option<String>), ApiError> {
        let tenant = Self::require_admin(caller)?;
        let id = entity_id(Some(id), input.id.as_deref())?;
        let existing = self.stored_endpoint(tenant, &id).await?;
        let (sealed, previous, generated) = match existing {
            Some((_, stored)) => (stored.secret, stored.previous_secrets, None),
            None => {
                let secret = generate_secret();
                (self.sealer.seal(&secret)?, Vec::new(), Some(secret))
            }
        };
        let spec = self.endpoint_spec(tenant, &id, &input, sealed, previous)?;
        let row = self
            .write_endpoint(spec.clone(), Write::Replace(if_match))
            .await?;
        Ok((
            endpoint_view(&row, &spec),
            generated.map(|s| s.expose_secret().to_owned()),
        ))
    }

    /// Rotates endpoint `id`'s signing secret: the new one is returned this once, and the old
    /// one is still signed with for `gateway.secret_rotation_overlap_secs`, so receivers can
    /// switch without refusing a delivery.
    pub async fn rotate_endpoint_secret(
        &self,
        caller: &Principal,
        id: &str,
    ) -> Result<EndpointWithSecret, ApiError> {
        let tenant = Self::require_admin(caller)?;
        let (row, mut spec) = self
            .stored_endpoint(tenant, id)
            .await?
            .ok_or_else(|| ApiError::not_found("endpoint", id))?;
        let now = Utc::now();
        let overlap = chrono::Duration::seconds(
            i64::try_from(self.settings().secret_rotation_overlap_secs).unwrap_or(i64::MAX),
        );
        let secret = generate_secret();
        let old = std::mem::replace(&mut spec.secret, self.sealer.seal(&secret)?);
        spec.previous_secrets.retain(|p| p.expires_at > now);
        spec.previous_secrets.insert(
            0,
            PreviousSecret {
                secret: old,
                expires_at: now + overlap,
            },
        );
        let row = self
            .write_endpoint(spec.clone(), Write::Replace(Some(row.version)))
            .await?;
        Ok(EndpointWithSecret {
            endpoint: endpoint_view(&row, &spec),
            secret: secret.expose_secret().to_owned(),
        })
    }

    /// Deletes endpoint `id`; its pending deliveries end as skipped.
    pub async fn delete_endpoint(&self, caller: &Principal, id: &str) -> Result<(), ApiError> {
        let tenant = Self::require_admin(caller)?;
        let endpoint_id = EndpointId::parse(id).map_err(|_| ApiError::not_found("endpoint", id))?;
        let announce = |version| {
            announcement(&ConfigChange::EndpointDeleted {
                tenant: tenant.clone(),
                id: endpoint_id.clone(),
                version,
            })
        };
        self.store()?
            .delete_endpoint(tenant, &endpoint_id, &announce)
            .await
            .map_err(conflict)?
            .map(|_| ())
            .ok_or_else(|| ApiError::not_found("endpoint", id))
    }
}
