//! Policy as code (docs/PROTOCOL.md §8.6): a TOML file lists the tenants, their keys (rotation
//! period, state) and the trusted issuers with the tenants and roles each may grant;
//! `keyseal-kms plan FILE` prints what differs from the store and `keyseal-kms apply FILE` makes
//! the store match, idempotently, each change audited as an admin operation. Disabling or
//! destroying a key and removing an issuer lock callers out: they are applied only with
//! `--allow-destructive` (§8.6).
//!
//! Library choice: the `toml` crate (serde). TOML rather than YAML: `serde_yaml` is no longer
//! maintained, TOML has one obvious spelling per value (no "Norway problem"), allows comments and
//! is what Cargo users already review in pull requests.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

use crate::admin::{Actor, AdminOp};
use crate::auth::{self, Role, TrustedIssuer, Verifier};
use crate::crypto;
use crate::error::{Error, Result};
use crate::service::Service;
use crate::store::{AuditEvent, KeyOrigin, KeyState, Store, StoreError};

/// The policy file format version this build reads (§8.6).
pub const POLICY_VERSION: u32 = 1;
/// Destroy grace when a key's `destroy_grace` is not given (as `key destroy`).
pub const DEFAULT_DESTROY_GRACE: &str = "7d";

/// A policy file (§8.6).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyFile {
    /// Format version: 1.
    pub version: u32,
    /// Trusted issuers (`[[issuer]]`).
    #[serde(default, rename = "issuer")]
    pub issuers: Vec<IssuerSpec>,
    /// Tenants and their keys (`[[tenant]]`, `[[tenant.key]]`).
    #[serde(default, rename = "tenant")]
    pub tenants: Vec<TenantSpec>,
}

/// A trusted issuer in the file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IssuerSpec {
    /// The `iss` claim of its tokens.
    pub name: String,
    /// JWKS file (`{"keys": [...]}`), relative to the policy file.
    pub jwks: String,
    /// Tenants its tokens may name (`"*"`: any).
    pub tenants: Vec<String>,
    /// Roles its tokens may carry: `reader`, `writer`, `admin`.
    pub roles: Vec<String>,
}

/// A tenant in the file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TenantSpec {
    /// Tenant name.
    pub name: String,
    /// Its keys.
    #[serde(default, rename = "key")]
    pub keys: Vec<KeySpec>,
}

/// A key in the file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeySpec {
    /// Key name (the key id is `tenant/name`).
    pub name: String,
    /// Rotation period (`90d`, `12h`, at least `1m`) or `off` (the default).
    #[serde(default)]
    pub rotate_every: Option<String>,
    /// `enabled` (the default), `disabled` or `destroyed` (destruction scheduled).
    #[serde(default)]
    pub state: Option<String>,
    /// Grace period before a `destroyed` key's material is erased (default 7d).
    #[serde(default)]
    pub destroy_grace: Option<String>,
}

/// The state the policy wants for a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Want {
    Enabled,
    Disabled,
    Destroyed { grace_secs: u64 },
}

/// A key as the policy wants it.
#[derive(Debug, Clone)]
struct DesiredKey {
    key_id: String,
    every_ms: Option<i64>,
    want: Want,
}

/// The policy, resolved: JWKS files read, durations parsed, names checked.
#[derive(Debug)]
pub struct Policy {
    keys: Vec<DesiredKey>,
    issuers: Vec<TrustedIssuer>,
    /// `sha256:` and the first 16 hex digits of the file's SHA-256, recorded in the audit.
    pub revision: String,
}

/// One change `apply` makes (§8.6).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// Create a generated key.
    CreateKey {
        /// Key id.
        key_id: String,
    },
    /// Set or clear a key's rotation period.
    SetRotation {
        /// Key id.
        key_id: String,
        /// Period now, ms.
        from: Option<i64>,
        /// Period wanted, ms.
        to: Option<i64>,
    },
    /// Enable a disabled key.
    Enable {
        /// Key id.
        key_id: String,
    },
    /// Cancel a scheduled destruction (the key comes back disabled).
    CancelDestroy {
        /// Key id.
        key_id: String,
    },
    /// Disable a key (destructive unless the key is created by the same apply).
    Disable {
        /// Key id.
        key_id: String,
        /// The key is created by this apply: no caller can be locked out.
        new: bool,
    },
    /// Schedule a key's destruction (destructive).
    Destroy {
        /// Key id.
        key_id: String,
        /// Grace period, seconds.
        grace_secs: u64,
    },
    /// Trust an issuer, or change what it may grant.
    PutIssuer {
        /// The issuer as it will be stored.
        issuer: TrustedIssuer,
        /// It is trusted already (a change, not an addition).
        existed: bool,
    },
    /// Stop trusting an issuer (destructive).
    RemoveIssuer {
        /// Its name.
        issuer: String,
    },
}

impl Change {
    /// Locks callers out or erases material: applied only with `--allow-destructive`.
    pub fn is_destructive(&self) -> bool {
        matches!(
            self,
            Change::Disable { new: false, .. } | Change::Destroy { .. } | Change::RemoveIssuer { .. }
        )
    }

    /// `+` add, `~` change, `-` remove or destroy, `!` disable.
    fn sign(&self) -> char {
        match self {
            Change::CreateKey { .. } | Change::PutIssuer { existed: false, .. } => '+',
            Change::RemoveIssuer { .. } | Change::Destroy { .. } => '-',
            Change::Disable { .. } => '!',
            _ => '~',
        }
    }

    /// What the change touches: `key acme/orders`, `issuer "https://idp"`.
    pub fn target(&self) -> String {
        match self {
            Change::PutIssuer { issuer, .. } => format!("issuer {:?}", issuer.issuer),
            Change::RemoveIssuer { issuer } => format!("issuer {issuer:?}"),
            Change::CreateKey { key_id }
            | Change::SetRotation { key_id, .. }
            | Change::Enable { key_id }
            | Change::CancelDestroy { key_id }
            | Change::Disable { key_id, .. }
            | Change::Destroy { key_id, .. } => format!("key {key_id}"),
        }
    }

    /// The action, in words.
    pub fn action(&self) -> String {
        match self {
            Change::CreateKey { .. } => "create".into(),
            Change::SetRotation { from, to, .. } => {
                format!("rotation {} -> {}", period_text(*from), period_text(*to))
            }
            Change::Enable { .. } => "enable".into(),
            Change::CancelDestroy { .. } => "cancel the scheduled destruction".into(),
            Change::Disable { .. } => "disable".into(),
            Change::Destroy { grace_secs, .. } => {
                format!("schedule destruction in {}", period_text(Some(ms(*grace_secs))))
            }
            Change::PutIssuer { issuer, existed } => format!(
                "{}: tenants {}; roles {}; {} key(s)",
                if *existed { "change" } else { "trust" },
                issuer.tenants.join(", "),
                issuer.roles.join(", "),
                issuer.keys.len()
            ),
            Change::RemoveIssuer { .. } => "stop trusting".into(),
        }
    }
}

/// What `plan` found: the changes in the order `apply` makes them, and the keys in the store
/// that the policy does not name (left as they are).
#[derive(Debug, Default)]
pub struct Plan {
    /// Changes, in order.
    pub changes: Vec<Change>,
    /// Keys in the store the policy does not mention.
    pub unmanaged: Vec<String>,
}

impl Plan {
    /// The destructive changes.
    pub fn destructive(&self) -> impl Iterator<Item = &Change> {
        self.changes.iter().filter(|c| c.is_destructive())
    }

    /// The plan for people (one line per change, then a summary).
    pub fn render_text(&self) -> String {
        let mut out = String::new();
        for c in &self.changes {
            let flag = if c.is_destructive() {
                "   [destructive]"
            } else {
                ""
            };
            out.push_str(&format!("  {} {}: {}{flag}\n", c.sign(), c.target(), c.action()));
        }
        for k in &self.unmanaged {
            out.push_str(&format!("  = key {k}: not in the policy, left as it is\n"));
        }
        let n = self.changes.len();
        let d = self.destructive().count();
        if n == 0 {
            out.push_str("No changes: the store matches the policy.\n");
        } else if d == 0 {
            out.push_str(&format!("Plan: {n} change(s), none destructive.\n"));
        } else {
            out.push_str(&format!(
                "Plan: {n} change(s), {d} destructive (apply needs --allow-destructive).\n"
            ));
        }
        out
    }

    /// The plan for programs.
    pub fn render_json(&self) -> serde_json::Value {
        serde_json::json!({
            "changes": self.changes.iter().map(|c| serde_json::json!({
                "target": c.target(),
                "action": c.action(),
                "destructive": c.is_destructive(),
            })).collect::<Vec<_>>(),
            "unmanaged": self.unmanaged,
        })
    }
}

fn ms(secs: u64) -> i64 {
    i64::try_from(secs.saturating_mul(1000)).unwrap_or(i64::MAX)
}

/// A period in the largest whole unit: `90d`, `12h`, `15m`, `30s`, or `off`.
fn period_text(ms: Option<i64>) -> String {
    let Some(ms) = ms else { return "off".into() };
    let s = ms / 1000;
    for (unit, n) in [("d", 86_400), ("h", 3600), ("m", 60)] {
        if s % n == 0 && s >= n {
            return format!("{}{unit}", s / n);
        }
    }
    format!("{s}s")
}

/// A duration: seconds, or a number with `s`, `m`, `h` or `d`.
pub fn parse_duration_secs(s: &str) -> Result<u64> {
    let s = s.trim();
    let (num, mult) = match s.char_indices().last() {
        Some((i, 's')) => (&s[..i], 1),
        Some((i, 'm')) => (&s[..i], 60),
        Some((i, 'h')) => (&s[..i], 3600),
        Some((i, 'd')) => (&s[..i], 86400),
        _ => (s, 1),
    };
    num.parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(mult))
        .ok_or_else(|| Error::InvalidRequest(format!("bad duration {s:?} (e.g. 30s, 15m, 2h, 7d)")))
}

/// A rotation period: at least one minute, or `off` (`None`).
pub fn rotation_period(s: &str) -> Result<Option<i64>> {
    if s == "off" {
        return Ok(None);
    }
    let secs = parse_duration_secs(s)?;
    if secs < 60 {
        return Err(Error::InvalidRequest(format!(
            "rotation period {s:?}: at least 1m"
        )));
    }
    Ok(Some(ms(secs)))
}

fn invalid(path: &Path, msg: impl std::fmt::Display) -> Error {
    Error::InvalidRequest(format!("{}: {msg}", path.display()))
}

impl Policy {
    /// Reads and checks a policy file; JWKS paths are relative to it (§8.6).
    pub fn load(path: &Path) -> Result<Policy> {
        let text = std::fs::read_to_string(path).map_err(|e| invalid(path, e))?;
        let digest = crypto::sha256(&[text.as_bytes()]);
        let revision = format!(
            "sha256:{}",
            digest[..8].iter().map(|b| format!("{b:02x}")).collect::<String>()
        );
        let file: PolicyFile = toml::from_str(&text).map_err(|e| invalid(path, e.to_string().trim_end()))?;
        if file.version != POLICY_VERSION {
            return Err(invalid(
                path,
                format!(
                    "version {} is not supported (this build reads version {POLICY_VERSION})",
                    file.version
                ),
            ));
        }
        let base = path.parent().unwrap_or(Path::new("."));
        let mut issuers: Vec<TrustedIssuer> = Vec::new();
        for i in &file.issuers {
            if i.name.is_empty() || i.name == auth::LOCAL_ISSUER {
                return Err(invalid(
                    path,
                    format!("issuer name {:?} is reserved or empty", i.name),
                ));
            }
            if issuers.iter().any(|t| t.issuer == i.name) {
                return Err(invalid(path, format!("issuer {:?} is listed twice", i.name)));
            }
            for r in &i.roles {
                if Role::parse(r).is_none() {
                    return Err(invalid(
                        path,
                        format!("issuer {:?}: role {r:?} is not reader, writer or admin", i.name),
                    ));
                }
            }
            if i.roles.is_empty() || i.tenants.is_empty() {
                return Err(invalid(
                    path,
                    format!("issuer {:?}: needs tenants and roles", i.name),
                ));
            }
            for t in &i.tenants {
                if t != "*" && !crate::key_id::is_tenant(t) {
                    return Err(invalid(path, format!("issuer {:?}: bad tenant {t:?}", i.name)));
                }
            }
            let jwks_path = base.join(&i.jwks);
            let jwks: serde_json::Value = std::fs::read_to_string(&jwks_path)
                .map_err(|e| invalid(&jwks_path, e))
                .and_then(|t| {
                    serde_json::from_str(&t).map_err(|e| invalid(&jwks_path, format!("not JSON: {e}")))
                })?;
            if let Some(named) = jwks.get("issuer").and_then(|v| v.as_str())
                && named != i.name
            {
                return Err(invalid(
                    &jwks_path,
                    format!("names issuer {named:?}, the policy says {:?}", i.name),
                ));
            }
            let keys = jwks
                .get("keys")
                .and_then(|k| k.as_array())
                .cloned()
                .ok_or_else(|| invalid(&jwks_path, "missing array `keys`"))?;
            auth::check_jwks(&keys, &jwks_path.display().to_string())?;
            let mut tenants = i.tenants.clone();
            tenants.sort();
            tenants.dedup();
            let mut roles = i.roles.clone();
            roles.sort();
            roles.dedup();
            issuers.push(TrustedIssuer {
                issuer: i.name.clone(),
                keys,
                tenants,
                roles,
            });
        }
        issuers.sort_by(|a, b| a.issuer.cmp(&b.issuer));
        let mut keys: Vec<DesiredKey> = Vec::new();
        for t in &file.tenants {
            if !crate::key_id::is_tenant(&t.name) {
                return Err(invalid(path, format!("bad tenant name {:?}", t.name)));
            }
            if file.tenants.iter().filter(|o| o.name == t.name).count() > 1 {
                return Err(invalid(path, format!("tenant {:?} is listed twice", t.name)));
            }
            for k in &t.keys {
                let key_id = format!("{}/{}", t.name, k.name);
                if crate::key_id::split(&key_id).is_none() {
                    return Err(invalid(
                        path,
                        format!("bad key name {:?}: {}", k.name, crate::key_id::SYNTAX),
                    ));
                }
                if keys.iter().any(|d| d.key_id == key_id) {
                    return Err(invalid(path, format!("key {key_id} is listed twice")));
                }
                let every_ms = match &k.rotate_every {
                    None => None,
                    Some(s) => rotation_period(s).map_err(|e| invalid(path, format!("key {key_id}: {e}")))?,
                };
                let want = match k.state.as_deref() {
                    None | Some("enabled") => Want::Enabled,
                    Some("disabled") => Want::Disabled,
                    Some("destroyed") => Want::Destroyed {
                        grace_secs: parse_duration_secs(
                            k.destroy_grace.as_deref().unwrap_or(DEFAULT_DESTROY_GRACE),
                        )
                        .map_err(|e| invalid(path, format!("key {key_id}: {e}")))?,
                    },
                    Some(other) => {
                        return Err(invalid(
                            path,
                            format!("key {key_id}: state {other:?} is not enabled, disabled or destroyed"),
                        ));
                    }
                };
                if k.destroy_grace.is_some() && !matches!(want, Want::Destroyed { .. }) {
                    return Err(invalid(
                        path,
                        format!("key {key_id}: destroy_grace without state = \"destroyed\""),
                    ));
                }
                keys.push(DesiredKey {
                    key_id,
                    every_ms,
                    want,
                });
            }
        }
        Ok(Policy {
            keys,
            issuers,
            revision,
        })
    }

    /// The changes that make `store` match this policy (§8.6).
    pub fn plan(&self, store: &Store) -> Result<Plan> {
        let mut plan = Plan::default();
        let mut current: BTreeMap<String, (KeyState, Option<i64>, KeyOrigin)> = BTreeMap::new();
        for info in store.list(None)? {
            let state = KeyState::ALL
                .into_iter()
                .find(|s| s.as_str() == info.state)
                .ok_or_else(|| Error::Internal(format!("unknown key state {:?}", info.state)))?;
            // a destroyed key has no schedule nor material left to describe
            let (every, origin) = if state == KeyState::Destroyed {
                (None, KeyOrigin::Generated)
            } else {
                (
                    store.schedule_of(&info.key_id)?.every_ms,
                    store.origin(&info.key_id)?,
                )
            };
            current.insert(info.key_id, (state, every, origin));
        }
        for d in &self.keys {
            let key_id = d.key_id.clone();
            let Some((state, every, origin)) = current.get(&d.key_id) else {
                if let Want::Destroyed { .. } = d.want {
                    return Err(Error::InvalidRequest(format!(
                        "key {key_id} does not exist: the policy cannot create it destroyed"
                    )));
                }
                plan.changes.push(Change::CreateKey {
                    key_id: key_id.clone(),
                });
                if d.every_ms.is_some() {
                    plan.changes.push(Change::SetRotation {
                        key_id: key_id.clone(),
                        from: None,
                        to: d.every_ms,
                    });
                }
                if d.want == Want::Disabled {
                    plan.changes.push(Change::Disable { key_id, new: true });
                }
                continue;
            };
            let (state, every, origin) = (*state, *every, *origin);
            if d.every_ms.is_some() && origin != KeyOrigin::Generated {
                return Err(Error::InvalidRequest(format!(
                    "key {key_id} holds imported material: it rotates by import, not on a schedule"
                )));
            }
            let to_state = match (state, d.want) {
                (KeyState::Destroyed, Want::Destroyed { .. }) => vec![],
                (KeyState::Destroyed, _) => {
                    return Err(Error::InvalidRequest(format!(
                        "key {key_id} is destroyed: the policy cannot bring it back"
                    )));
                }
                (KeyState::DestroyPending, Want::Destroyed { .. }) => vec![],
                (KeyState::DestroyPending, Want::Disabled) => {
                    vec![Change::CancelDestroy {
                        key_id: key_id.clone(),
                    }]
                }
                (KeyState::DestroyPending, Want::Enabled) => vec![
                    Change::CancelDestroy {
                        key_id: key_id.clone(),
                    },
                    Change::Enable {
                        key_id: key_id.clone(),
                    },
                ],
                (KeyState::Enabled, Want::Enabled) | (KeyState::Disabled, Want::Disabled) => vec![],
                (KeyState::Disabled, Want::Enabled) => vec![Change::Enable {
                    key_id: key_id.clone(),
                }],
                (KeyState::Enabled, Want::Disabled) => vec![Change::Disable {
                    key_id: key_id.clone(),
                    new: false,
                }],
                (KeyState::Enabled | KeyState::Disabled, Want::Destroyed { grace_secs }) => {
                    vec![Change::Destroy {
                        key_id: key_id.clone(),
                        grace_secs,
                    }]
                }
            };
            if every != d.every_ms && state != KeyState::Destroyed {
                plan.changes.push(Change::SetRotation {
                    key_id,
                    from: every,
                    to: d.every_ms,
                });
            }
            plan.changes.extend(to_state);
        }
        plan.unmanaged = current
            .keys()
            .filter(|k| !self.keys.iter().any(|d| &d.key_id == *k))
            .cloned()
            .collect();
        let stored = stored_issuers(store)?;
        for want in &self.issuers {
            match stored.iter().find(|s| s.issuer == want.issuer) {
                Some(s) if s == want => {}
                found => plan.changes.push(Change::PutIssuer {
                    issuer: want.clone(),
                    existed: found.is_some(),
                }),
            }
        }
        for s in &stored {
            if !self.issuers.iter().any(|w| w.issuer == s.issuer) {
                plan.changes.push(Change::RemoveIssuer {
                    issuer: s.issuer.clone(),
                });
            }
        }
        Ok(plan)
    }

    /// Makes the store match the policy: refuses (changing nothing) when the plan has destructive
    /// changes and `allow_destructive` is false. Every change is audited, with the reason
    /// `policy <revision>`. Returns the plan applied.
    pub fn apply(&self, service: &Service, actor: &Actor, allow_destructive: bool) -> Result<Plan> {
        let store = service.store();
        let plan = self.plan(store)?;
        let refused: Vec<String> = plan
            .destructive()
            .map(|c| format!("{}: {}", c.target(), c.action()))
            .collect();
        if !refused.is_empty() && !allow_destructive {
            return Err(Error::InvalidRequest(format!(
                "the policy has destructive changes ({}); nothing was applied: review them and run \
                 apply with --allow-destructive",
                refused.join("; ")
            )));
        }
        let reason = format!("policy {}", self.revision);
        let subject = match actor {
            Actor::Cli(s) => s.clone(),
            Actor::Token(p) => p.subject.clone(),
        };
        let mut issuer_events = Vec::new();
        for c in &plan.changes {
            let admin = |key_id: &str, op: AdminOp| service.admin(actor, key_id, op, Some(&reason)).map(drop);
            match c {
                Change::CreateKey { key_id } => admin(key_id, AdminOp::Create)?,
                Change::SetRotation { key_id, to, .. } => {
                    store.set_rotation_period(key_id, *to, crate::store::now_ms(), &subject)?;
                }
                Change::Enable { key_id } => admin(key_id, AdminOp::Enable)?,
                Change::CancelDestroy { key_id } => admin(key_id, AdminOp::CancelDestroy)?,
                Change::Disable { key_id, .. } => admin(key_id, AdminOp::Disable)?,
                Change::Destroy { key_id, grace_secs } => admin(
                    key_id,
                    AdminOp::Destroy {
                        grace_secs: *grace_secs,
                    },
                )?,
                Change::PutIssuer { issuer, existed } => issuer_events.push(AuditEvent {
                    subject: subject.clone(),
                    tenant: String::new(),
                    key_id: String::new(),
                    key_version: None,
                    operation: if *existed {
                        "policy.issuer.change"
                    } else {
                        "policy.issuer.add"
                    }
                    .into(),
                    reason: reason.clone(),
                    outcome: "ok".into(),
                    detail: format!("issuer {:?}: {}", issuer.issuer, c.action()),
                }),
                Change::RemoveIssuer { issuer } => issuer_events.push(AuditEvent {
                    subject: subject.clone(),
                    tenant: String::new(),
                    key_id: String::new(),
                    key_version: None,
                    operation: "policy.issuer.remove".into(),
                    reason: reason.clone(),
                    outcome: "ok".into(),
                    detail: format!("issuer {issuer:?}"),
                }),
            }
        }
        if !issuer_events.is_empty() {
            let json = serde_json::to_vec(&self.issuers)
                .map_err(|e| Error::Internal(format!("cannot encode the issuers: {e}")))?;
            store.set_policy_issuers(&json, &issuer_events)?;
        }
        Ok(plan)
    }
}

/// The issuers the stored policy trusts (none when no policy set any).
pub fn stored_issuers(store: &Store) -> Result<Vec<TrustedIssuer>> {
    match store.policy_issuers_sealed()? {
        None => Ok(Vec::new()),
        Some(sealed) => decode_issuers(store, &sealed),
    }
}

fn decode_issuers(store: &Store, sealed: &[u8]) -> Result<Vec<TrustedIssuer>> {
    let json = store.open_policy_issuers(sealed)?;
    serde_json::from_slice(&json)
        .map_err(|e| StoreError::Corrupt(format!("the stored policy issuers are malformed: {e}")).into())
}

/// Loads the stored policy's issuers into `verifier` when they changed since the last call
/// (`serve` calls it every second, so an `apply` on any instance holds on every instance within
/// about a second, §8.6). Answers the issuer names when it reloaded. A stored policy that does
/// not open or parse is refused: no policy issuer is trusted until it is fixed (fail closed), and
/// the error is answered once.
pub fn refresh_issuers(store: &Store, verifier: &Verifier) -> Result<Option<Vec<String>>> {
    let sealed = store.policy_issuers_sealed()?;
    let fingerprint = crypto::sha256(&[sealed.as_deref().unwrap_or_default()]);
    if verifier.policy_fingerprint() == Some(fingerprint) {
        return Ok(None);
    }
    let issuers = match sealed.as_deref().map(|s| decode_issuers(store, s)).transpose() {
        Ok(i) => i.unwrap_or_default(),
        Err(e) => {
            verifier.set_policy(fingerprint, &[])?;
            return Err(e);
        }
    };
    match verifier.set_policy(fingerprint, &issuers) {
        Ok(names) => Ok(Some(names)),
        Err(e) => {
            verifier.set_policy(fingerprint, &[])?;
            Err(e)
        }
    }
}

/// [`refresh_issuers`] with its outcome written to stderr.
pub fn refresh_issuers_logged(service: &Service) {
    match refresh_issuers(service.store(), service.verifier()) {
        Ok(None) => {}
        Ok(Some(mut names)) => {
            names.sort();
            eprintln!("keyseal-kms: policy issuers loaded: {names:?}");
        }
        Err(e) => eprintln!("keyseal-kms: the stored policy issuers are refused (none trusted): {e}"),
    }
}
