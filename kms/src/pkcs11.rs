//! The master key in an HSM, through PKCS#11 (the `cryptoki` crate): `--master-key pkcs11:...`,
//! an RFC 7512 URI naming the token and the AES-256 key. The key is generated in the token as
//! sensitive and not extractable ([`create_key`]); the service only asks the token to seal and open
//! (CKM_AES_GCM, a 96-bit nonce drawn by the service, 128-bit tag), so the master key never exists
//! in process memory (docs/DESIGN.md "Master key in an HSM").
//!
//! URI (RFC 7512 §2.3): path attributes `token`, `object`, `id`, `serial`, `slot-id`, `type`
//! (`secret-key` only); query attributes `module-path` (the PKCS#11 library; else
//! `KEYSEAL_KMS_PKCS11_MODULE`) and `pin-source` (`file:/path`, or `env:NAME`; else the PIN is
//! read from `KEYSEAL_KMS_PKCS11_PIN`). `pin-value` is refused: a PIN in a URI ends up in shell
//! histories, process lists and logs.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::error::{Error as CkError, RvError};
use cryptoki::mechanism::Mechanism;
use cryptoki::mechanism::aead::GcmParams;
use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::{Session, UserType};
use cryptoki::slot::Slot;
use cryptoki::types::AuthPin;
use zeroize::Zeroizing;

use crate::crypto::{self, CryptoError};
use crate::store::StoreError;

/// Environment variable with the PIN when the URI has no `pin-source`.
pub const PIN_ENV: &str = "KEYSEAL_KMS_PKCS11_PIN";
/// Environment variable with the PKCS#11 library when the URI has no `module-path`.
pub const MODULE_ENV: &str = "KEYSEAL_KMS_PKCS11_MODULE";

const NONCE_LEN: usize = 12;
const TAG_BITS: u64 = 128;

type Result<T> = std::result::Result<T, StoreError>;

fn refuse(msg: impl Into<String>) -> StoreError {
    StoreError::MasterKey(msg.into())
}

/// A parsed `pkcs11:` URI (only what this service uses).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Pkcs11Uri {
    /// `token`: the token label.
    pub token: Option<String>,
    /// `serial`: the token serial number.
    pub serial: Option<String>,
    /// `slot-id`.
    pub slot_id: Option<u64>,
    /// `object`: the key's label (CKA_LABEL).
    pub object: Option<String>,
    /// `id`: the key's CKA_ID.
    pub id: Option<Vec<u8>>,
    /// `module-path`: the PKCS#11 library.
    pub module_path: Option<PathBuf>,
    /// `pin-source`: `file:/path` or `env:NAME`.
    pub pin_source: Option<String>,
}

fn pct_decode(s: &str) -> Result<Vec<u8>> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = s
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| refuse("pkcs11 URI: bad percent-encoding"))?;
            out.push(hex);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    Ok(out)
}

fn pct_text(s: &str) -> Result<String> {
    String::from_utf8(pct_decode(s)?).map_err(|_| refuse("pkcs11 URI: attribute is not UTF-8"))
}

impl Pkcs11Uri {
    /// Parses `pkcs11:path-attrs[?query-attrs]` (RFC 7512). Unknown attributes are refused rather
    /// than ignored (a typo must not select another key).
    pub fn parse(uri: &str) -> Result<Pkcs11Uri> {
        let rest = uri
            .strip_prefix("pkcs11:")
            .ok_or_else(|| refuse("a PKCS#11 master key is a URI starting with pkcs11:"))?;
        let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
        let mut u = Pkcs11Uri::default();
        for attr in path.split(';').filter(|a| !a.is_empty()) {
            let (k, v) = attr
                .split_once('=')
                .ok_or_else(|| refuse(format!("pkcs11 URI: attribute {k:?} has no value", k = attr)))?;
            match k {
                "token" => u.token = Some(pct_text(v)?),
                "serial" => u.serial = Some(pct_text(v)?),
                "object" => u.object = Some(pct_text(v)?),
                "id" => u.id = Some(pct_decode(v)?),
                "slot-id" => {
                    u.slot_id = Some(
                        v.parse()
                            .map_err(|_| refuse("pkcs11 URI: slot-id is not a number"))?,
                    );
                }
                "type" if v == "secret-key" => {}
                "type" => return Err(refuse("pkcs11 URI: the master key is a secret-key object")),
                "manufacturer"
                | "model"
                | "library-manufacturer"
                | "library-description"
                | "library-version" => {}
                other => return Err(refuse(format!("pkcs11 URI: unknown attribute {other:?}"))),
            }
        }
        for attr in query.split('&').filter(|a| !a.is_empty()) {
            let (k, v) = attr
                .split_once('=')
                .ok_or_else(|| refuse(format!("pkcs11 URI: query attribute {attr:?} has no value")))?;
            match k {
                "module-path" => u.module_path = Some(PathBuf::from(pct_text(v)?)),
                "pin-source" => u.pin_source = Some(pct_text(v)?),
                "pin-value" => {
                    return Err(refuse(
                        "pkcs11 URI: pin-value is refused (a PIN in a URI leaks into shell \
                         histories and process lists): use pin-source=file:/path, \
                         pin-source=env:NAME or KEYSEAL_KMS_PKCS11_PIN",
                    ));
                }
                "module-name" => {}
                other => return Err(refuse(format!("pkcs11 URI: unknown query attribute {other:?}"))),
            }
        }
        if u.object.is_none() && u.id.is_none() {
            return Err(refuse("pkcs11 URI: name the key with object= (label) or id="));
        }
        Ok(u)
    }

    /// `token=…;object=…` for logs (no PIN source, no module path).
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if let Some(t) = &self.token {
            parts.push(format!("token={t}"));
        }
        if let Some(s) = self.slot_id {
            parts.push(format!("slot-id={s}"));
        }
        if let Some(o) = &self.object {
            parts.push(format!("object={o}"));
        }
        if let Some(id) = &self.id {
            parts.push(format!(
                "id={}",
                id.iter().map(|b| format!("%{b:02x}")).collect::<String>()
            ));
        }
        parts.join(";")
    }

    fn module(&self) -> Result<PathBuf> {
        match &self.module_path {
            Some(p) => Ok(p.clone()),
            None => std::env::var_os(MODULE_ENV).map(PathBuf::from).ok_or_else(|| {
                refuse(format!(
                    "pkcs11 URI: no module-path= and {MODULE_ENV} is not set: which PKCS#11 library?"
                ))
            }),
        }
    }

    /// The PIN, from `pin-source` or [`PIN_ENV`]; never printed.
    fn pin(&self) -> Result<AuthPin> {
        let pin: Zeroizing<String> = match self.pin_source.as_deref() {
            Some(src) if src.starts_with("env:") => {
                let name = &src["env:".len()..];
                Zeroizing::new(std::env::var(name).map_err(|_| {
                    refuse(format!(
                        "pkcs11 pin-source: environment variable {name} is not set"
                    ))
                })?)
            }
            Some(src) => {
                let path = src
                    .strip_prefix("file://")
                    .or_else(|| src.strip_prefix("file:"))
                    .unwrap_or(src);
                Zeroizing::new(
                    std::fs::read_to_string(path)
                        .map_err(|e| refuse(format!("pkcs11 pin-source: cannot read {path}: {e}")))?,
                )
            }
            None => Zeroizing::new(std::env::var(PIN_ENV).map_err(|_| {
                refuse(format!(
                    "no PIN for the PKCS#11 token: set {PIN_ENV} or pin-source= in the URI"
                ))
            })?),
        };
        Ok(AuthPin::from(pin.trim_end_matches(['\r', '\n']).to_string()))
    }
}

/// One initialised context per PKCS#11 library in the process (C_Initialize once, kept for the
/// process's life: finalizing under another user of the same library would break it).
fn context(module: &Path) -> Result<Pkcs11> {
    static CONTEXTS: OnceLock<Mutex<HashMap<PathBuf, Pkcs11>>> = OnceLock::new();
    let mut map = CONTEXTS
        .get_or_init(Mutex::default)
        .lock()
        .map_err(|_| refuse("PKCS#11 context lock poisoned"))?;
    if let Some(c) = map.get(module) {
        return Ok(c.clone());
    }
    let ctx = Pkcs11::new(module)
        .map_err(|e| refuse(format!("cannot load PKCS#11 library {}: {e}", module.display())))?;
    match ctx.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK)) {
        Ok(()) | Err(CkError::Pkcs11(RvError::CryptokiAlreadyInitialized, _)) => {}
        Err(e) => return Err(refuse(format!("C_Initialize of {}: {e}", module.display()))),
    }
    map.insert(module.to_path_buf(), ctx.clone());
    Ok(ctx)
}

fn hsm(what: &str) -> impl Fn(CkError) -> StoreError + '_ {
    move |e| StoreError::Unavailable(format!("HSM: {what}: {e}"))
}

/// The one slot whose token the URI names.
fn find_slot(ctx: &Pkcs11, uri: &Pkcs11Uri) -> Result<Slot> {
    let mut found = Vec::new();
    for slot in ctx.get_slots_with_token().map_err(hsm("list slots"))? {
        if uri.slot_id.is_some_and(|id| id != slot.id()) {
            continue;
        }
        let info = ctx.get_token_info(slot).map_err(hsm("token info"))?;
        if uri.token.as_deref().is_some_and(|t| t != info.label().trim_end())
            || uri
                .serial
                .as_deref()
                .is_some_and(|s| s != info.serial_number().trim_end())
        {
            continue;
        }
        found.push(slot);
    }
    match found.as_slice() {
        [slot] => Ok(*slot),
        [] => Err(refuse(format!("no PKCS#11 token matches {}", uri.describe()))),
        _ => Err(refuse(format!(
            "{} PKCS#11 tokens match {}: name one with token=, serial= or slot-id=",
            found.len(),
            uri.describe()
        ))),
    }
}

fn logged_in_session(ctx: &Pkcs11, uri: &Pkcs11Uri) -> Result<Session> {
    let slot = find_slot(ctx, uri)?;
    let session = ctx.open_rw_session(slot).map_err(hsm("open session"))?;
    match session.login(UserType::User, Some(&uri.pin()?)) {
        Ok(()) | Err(CkError::Pkcs11(RvError::UserAlreadyLoggedIn, _)) => Ok(session),
        Err(CkError::Pkcs11(RvError::PinIncorrect | RvError::PinInvalid | RvError::PinLenRange, _)) => Err(
            refuse(format!("PKCS#11 login to {} refused: wrong PIN", uri.describe())),
        ),
        Err(e) => Err(refuse(format!("PKCS#11 login to {}: {e}", uri.describe()))),
    }
}

fn key_template(uri: &Pkcs11Uri) -> Vec<Attribute> {
    let mut t = vec![
        Attribute::Class(ObjectClass::SECRET_KEY),
        Attribute::KeyType(KeyType::AES),
    ];
    if let Some(o) = &uri.object {
        t.push(Attribute::Label(o.as_bytes().to_vec()));
    }
    if let Some(id) = &uri.id {
        t.push(Attribute::Id(id.clone()));
    }
    t
}

/// An AES-256 master key in a PKCS#11 token, used through one logged-in session.
pub struct Pkcs11Key {
    uri: Pkcs11Uri,
    // Kept so the library stays loaded and initialised while the key is in use.
    _ctx: Pkcs11,
    session: Mutex<Session>,
    key: ObjectHandle,
}

impl Pkcs11Key {
    /// Opens the key the URI names (exactly one must match).
    pub fn connect(uri: &str) -> Result<Pkcs11Key> {
        let uri = Pkcs11Uri::parse(uri)?;
        let ctx = context(&uri.module()?)?;
        let session = logged_in_session(&ctx, &uri)?;
        let keys = session
            .find_objects(&key_template(&uri))
            .map_err(hsm("find key"))?;
        let key = match keys.as_slice() {
            [k] => *k,
            [] => {
                return Err(refuse(format!(
                    "no AES key {} in the PKCS#11 token (make one with `keyseal-kms master-key create`)",
                    uri.describe()
                )));
            }
            _ => return Err(refuse(format!("{} keys match {}", keys.len(), uri.describe()))),
        };
        // A key that can leave the token is not what `--master-key pkcs11:` promises.
        let attrs = session
            .get_attributes(key, &[AttributeType::Sensitive, AttributeType::Extractable])
            .map_err(hsm("read key attributes"))?;
        for a in attrs {
            if matches!(a, Attribute::Sensitive(false) | Attribute::Extractable(true)) {
                return Err(refuse(format!(
                    "the key {} can leave the token (CKA_SENSITIVE false or CKA_EXTRACTABLE true): \
                     make one with `keyseal-kms master-key create`",
                    uri.describe()
                )));
            }
        }
        Ok(Pkcs11Key {
            uri,
            _ctx: ctx,
            session: Mutex::new(session),
            key,
        })
    }

    /// `token=…;object=…`.
    pub fn describe(&self) -> String {
        self.uri.describe()
    }

    fn session(&self) -> std::result::Result<std::sync::MutexGuard<'_, Session>, CryptoError> {
        self.session.lock().map_err(|_| CryptoError::Device)
    }

    /// CKM_AES_GCM seal in the token: `nonce ‖ ciphertext ‖ tag`, as [`crypto::seal`] lays it out.
    pub fn seal(&self, aad: &[u8], plaintext: &[u8]) -> std::result::Result<Vec<u8>, CryptoError> {
        let mut nonce = [0u8; NONCE_LEN];
        crypto::random(&mut nonce)?;
        let mut iv = nonce;
        let params = GcmParams::new(&mut iv, aad, TAG_BITS.into()).map_err(|_| CryptoError::Device)?;
        let ct = self
            .session()?
            .encrypt(&Mechanism::AesGcm(params), self.key, plaintext)
            .map_err(|_| CryptoError::Device)?;
        let mut out = Vec::with_capacity(NONCE_LEN + ct.len());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&ct);
        Ok(out)
    }

    /// CKM_AES_GCM open in the token. A tag that does not verify is [`CryptoError::Invalid`]; a
    /// token that does not answer is [`CryptoError::Device`].
    pub fn open(&self, aad: &[u8], sealed: &[u8]) -> std::result::Result<Zeroizing<Vec<u8>>, CryptoError> {
        if sealed.len() < NONCE_LEN + 16 {
            return Err(CryptoError::Invalid);
        }
        let mut iv = [0u8; NONCE_LEN];
        iv.copy_from_slice(&sealed[..NONCE_LEN]);
        let params = GcmParams::new(&mut iv, aad, TAG_BITS.into()).map_err(|_| CryptoError::Device)?;
        match self
            .session()?
            .decrypt(&Mechanism::AesGcm(params), self.key, &sealed[NONCE_LEN..])
        {
            Ok(pt) => Ok(Zeroizing::new(pt)),
            Err(CkError::Pkcs11(
                RvError::EncryptedDataInvalid | RvError::EncryptedDataLenRange | RvError::DataInvalid,
                _,
            )) => Err(CryptoError::Invalid),
            Err(_) => Err(CryptoError::Device),
        }
    }
}

/// `keyseal-kms master-key create`: generates the AES-256 master key in the token named by `uri`
/// (token object, private, sensitive, never extractable, encrypt/decrypt only). Refused when a key
/// the URI names exists already.
pub fn create_key(uri: &str) -> Result<String> {
    let parsed = Pkcs11Uri::parse(uri)?;
    let ctx = context(&parsed.module()?)?;
    let session = logged_in_session(&ctx, &parsed)?;
    if !session
        .find_objects(&key_template(&parsed))
        .map_err(hsm("find key"))?
        .is_empty()
    {
        return Err(refuse(format!(
            "the PKCS#11 token already has a key {}",
            parsed.describe()
        )));
    }
    let mut template = vec![
        Attribute::Token(true),
        Attribute::Private(true),
        Attribute::Sensitive(true),
        Attribute::Extractable(false),
        Attribute::Encrypt(true),
        Attribute::Decrypt(true),
        Attribute::Wrap(false),
        Attribute::Unwrap(false),
        Attribute::ValueLen(32.into()),
    ];
    if let Some(o) = &parsed.object {
        template.push(Attribute::Label(o.as_bytes().to_vec()));
    }
    if let Some(id) = &parsed.id {
        template.push(Attribute::Id(id.clone()));
    }
    session
        .generate_key(&Mechanism::AesKeyGen, &template)
        .map_err(hsm("generate the master key"))?;
    Ok(parsed.describe())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn uris_parse_as_rfc_7512_says() {
        let u = Pkcs11Uri::parse(
            "pkcs11:token=keyseal%20kms;object=master;id=%01%02;type=secret-key?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-source=file:/run/pin",
        )
        .unwrap();
        assert_eq!(u.token.as_deref(), Some("keyseal kms"));
        assert_eq!(u.object.as_deref(), Some("master"));
        assert_eq!(u.id, Some(vec![1, 2]));
        assert_eq!(
            u.module_path,
            Some(PathBuf::from("/usr/lib/softhsm/libsofthsm2.so"))
        );
        assert_eq!(u.pin_source.as_deref(), Some("file:/run/pin"));
        assert_eq!(u.describe(), "token=keyseal kms;object=master;id=%01%02");
    }

    #[test]
    fn bad_uris_are_refused_with_the_reason() {
        for (uri, why) in [
            ("file:/etc/key", "starting with pkcs11:"),
            ("pkcs11:token=t", "object= (label) or id="),
            (
                "pkcs11:token=t;object=k;colour=red",
                "unknown attribute \"colour\"",
            ),
            ("pkcs11:object=k?pin-value=1234", "pin-value is refused"),
            ("pkcs11:object=k;type=private", "secret-key"),
            ("pkcs11:object=k;id=%zz", "percent-encoding"),
            ("pkcs11:object=k;slot-id=x", "slot-id"),
        ] {
            let e = Pkcs11Uri::parse(uri).unwrap_err();
            assert!(
                matches!(&e, StoreError::MasterKey(m) if m.contains(why)),
                "{uri}: {e}"
            );
            assert!(!e.to_string().contains("1234"));
        }
    }
}
