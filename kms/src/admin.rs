//! Administration (docs/PROTOCOL.md §8): who may manage keys, the operations, the import key.
//! Every call, allowed or refused, is audited (§9).

use keyseal_protocol::Token;
use keyseal_protocol::admin::{ImportKeyJwk, KeyInfo};

use crate::auth::{self, Principal, Role};
use crate::crypto::{self, b64};
use crate::error::{Error, Result};
use crate::service::{Call, Service};
use crate::store::StateOp;

/// Who performs an admin operation.
#[derive(Debug, Clone)]
pub enum Actor {
    /// An HTTP caller with an admin token, limited to its tenant (§8.1).
    Token(Principal),
    /// The local command line: whoever can read the database file and the master key.
    Cli(String),
}

impl Actor {
    /// The command-line actor of the current user (`cli:<user>`).
    pub fn cli() -> Self {
        let user = std::env::var("USER").unwrap_or_else(|_| "unknown".into());
        Actor::Cli(format!("cli:{user}"))
    }

    fn subject(&self) -> &str {
        match self {
            Actor::Token(p) => &p.subject,
            Actor::Cli(s) => s,
        }
    }

    fn may_manage(&self, tenant: &str) -> Result<()> {
        match self {
            Actor::Cli(_) => Ok(()),
            Actor::Token(p) if p.role != Role::Admin => Err(not_admin(p)),
            Actor::Token(p) if p.tenant != tenant => Err(Error::AccessDenied(format!(
                "token tenant {:?} may not manage keys of tenant {tenant:?}",
                p.tenant
            ))),
            Actor::Token(_) => Ok(()),
        }
    }
}

fn not_admin(p: &Principal) -> Error {
    Error::AccessDenied(format!(
        "role {} may not manage keys (needs admin)",
        p.role.as_str()
    ))
}

/// An administrative operation on one key.
#[derive(Debug, Clone)]
pub enum AdminOp {
    /// Create a generated key (version 1).
    Create,
    /// Add a generated version to a generated key.
    Rotate,
    /// Revoke.
    Disable,
    /// Un-revoke.
    Enable,
    /// Schedule destruction.
    Destroy {
        /// Grace period, seconds.
        grace_secs: u64,
    },
    /// Cancel a scheduled destruction before its time.
    CancelDestroy,
    /// Import customer material sealed to the import key (§8.2): creates an external key, or adds
    /// a version to one.
    Import {
        /// HPKE `enc`.
        enc: Vec<u8>,
        /// HPKE ciphertext of the 32-byte material.
        ciphertext: Vec<u8>,
    },
    /// Describe a key.
    Show,
}

impl AdminOp {
    /// The audited operation name.
    pub fn name(&self) -> &'static str {
        match self {
            AdminOp::Create => "key.create",
            AdminOp::Rotate => "key.rotate",
            AdminOp::Disable => "key.disable",
            AdminOp::Enable => "key.enable",
            AdminOp::Destroy { .. } => "key.destroy",
            AdminOp::CancelDestroy => "key.cancel-destroy",
            AdminOp::Import { .. } => "key.import",
            AdminOp::Show => "key.show",
        }
    }
}

impl Service {
    /// Verifies an admin token (§8.1); a refusal is audited as `operation` on `key_id`, under the
    /// token's subject when the token itself is valid.
    pub fn admin_actor(&self, token: Option<&Token>, operation: &str, key_id: &str) -> Result<Actor> {
        let mut call = Call::new(operation, key_id, None);
        let checked = self.verify(token).and_then(|p| {
            call.event.subject = p.subject.clone();
            match p.role {
                Role::Admin => Ok(Actor::Token(p)),
                _ => Err(not_admin(&p)),
            }
        });
        match checked {
            Ok(actor) => Ok(actor),
            Err(e) => self.settle_and_finish(call, Err(e)),
        }
    }

    /// Runs an admin operation (HTTP admin token or command line).
    pub fn admin(&self, actor: &Actor, key_id: &str, op: AdminOp, reason: Option<&str>) -> Result<KeyInfo> {
        let mut call = Call::new(op.name(), key_id, reason);
        call.event.subject = actor.subject().to_string();
        let result = self.admin_steps(actor, key_id, &op);
        if let Ok(info) = &result {
            call.event.key_version = Some(info.primary_version);
        }
        self.settle_and_finish(call, result)
    }

    fn admin_steps(&self, actor: &Actor, key_id: &str, op: &AdminOp) -> Result<KeyInfo> {
        let (tenant, _) = crate::key_id::split(key_id)
            .ok_or_else(|| Error::InvalidRequest(crate::key_id::SYNTAX.into()))?;
        actor.may_manage(tenant)?;
        let store = self.store();
        Ok(match op {
            AdminOp::Create => store.create_key(key_id)?,
            AdminOp::Rotate => store.rotate(key_id)?,
            AdminOp::Disable => store.set_state(key_id, StateOp::Disable)?,
            AdminOp::Enable => store.set_state(key_id, StateOp::Enable)?,
            AdminOp::Destroy { grace_secs } => {
                let grace_ms = i64::try_from(grace_secs.saturating_mul(1000)).unwrap_or(i64::MAX);
                store.set_state(key_id, StateOp::Destroy { grace_ms })?
            }
            AdminOp::CancelDestroy => store.set_state(key_id, StateOp::CancelDestroy)?,
            AdminOp::Import { enc, ciphertext } => {
                let seed = store.import_seed()?;
                let root = crypto::import_open(&seed, key_id, enc, ciphertext).map_err(|_| {
                    Error::InvalidCiphertext(
                        "imported material does not open under the import key for this key id".into(),
                    )
                })?;
                store.import_version(key_id, &root)?
            }
            AdminOp::Show => store.show(key_id)?,
        })
    }

    /// Lists the keys the actor may see: a token's own tenant, or any (or one) for the command
    /// line.
    pub fn admin_list(&self, actor: &Actor, tenant: Option<&str>) -> Result<Vec<KeyInfo>> {
        let mut call = Call::new("key.list", "", None);
        call.event.subject = actor.subject().to_string();
        let result = (|| {
            let tenant = match actor {
                Actor::Cli(_) => tenant.map(str::to_string),
                Actor::Token(p) => {
                    let t = tenant.unwrap_or(&p.tenant).to_string();
                    actor.may_manage(&t)?;
                    Some(t)
                }
            };
            if let Some(t) = &tenant {
                call.event.tenant = t.clone();
            }
            Ok(self.store().list(tenant.as_deref())?)
        })();
        self.settle_and_finish(call, result)
    }

    /// The service's import public key (§8.2) as a JWK plus its SEC1 bytes.
    pub fn import_key(&self, actor: &Actor) -> Result<ImportKeyJwk> {
        let mut call = Call::new("key.import-key", "", None);
        call.event.subject = actor.subject().to_string();
        if let Actor::Token(p) = actor {
            call.event.tenant = p.tenant.clone();
        }
        let result = (|| {
            let seed = self.store().import_seed()?;
            let pk = crypto::import_public(&seed);
            let (x, y) = auth::ec_jwk_xy(&pk)?;
            Ok(ImportKeyJwk {
                kty: "EC".into(),
                crv: "P-256".into(),
                x,
                y,
                use_: "enc".into(),
                alg: keyseal_protocol::public_key::HPKE_ALG.into(),
                kid: format!("import#{}", auth::kid_of(&pk)),
                public_key: keyseal_protocol::Bytes(pk),
            })
        })();
        self.settle_and_finish(call, result)
    }
}

/// Decodes a base64 command-line argument.
pub fn decode_arg(name: &str, value: &str) -> Result<Vec<u8>> {
    b64::dec(value).ok_or_else(|| {
        Error::InvalidRequest(format!(
            "{name} is not standard base64 with padding (RFC 4648 §4)"
        ))
    })
}
