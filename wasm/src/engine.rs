//! Which AES-256-GCM engine a call uses (DESIGN.md "Engines"): the wasm `aes-gcm` engine inside
//! the SDK, or a platform engine (WebCrypto, node:crypto) driven from Rust. All give the same bytes.

use js_sys::Reflect;
use wasm_bindgen::prelude::*;

use crate::errors::invalid;
use crate::globals::subtle;
use crate::options::EngineOption;
use crate::platform::{NodeCipher, Platform};

/// `auto` takes the platform engine for messages of at least this many bytes (and for streams),
/// the wasm engine below: under it the engines are level and the synchronous one avoids a promise
/// round per segment (measured by `bench/engines/engines.mjs`).
pub(crate) const PLATFORM_MIN_BYTES: u64 = 16 * 1024;

/// The engine choice of one `KeySeal`.
pub(crate) struct Engines {
    choice: EngineOption,
    platform: Option<Platform>,
}

impl Engines {
    /// `node`: the node:crypto engine object of the Node entry (absent elsewhere). `auto` prefers
    /// it where given, else `crypto.subtle` where the runtime has it, else wasm only.
    pub(crate) fn new(choice: EngineOption, node: JsValue) -> Result<Self, JsValue> {
        let node = (!node.is_undefined() && !node.is_null())
            .then(|| Platform::node(node.unchecked_into::<NodeCipher>()));
        let platform = match choice {
            EngineOption::Wasm => None,
            EngineOption::Node => Some(
                node.ok_or_else(|| invalid("engine 'node' needs node:crypto (the package's node entry)"))?,
            ),
            EngineOption::Webcrypto => Some(Platform::Subtle(subtle().ok_or_else(|| {
                invalid("engine 'webcrypto' needs crypto.subtle, which this runtime lacks")
            })?)),
            EngineOption::Auto => node.or_else(|| subtle().map(Platform::Subtle)),
        };
        Ok(Self { choice, platform })
    }

    /// The platform engine a message of `len` bytes goes to (`None` for unknown lengths: streams),
    /// or `None` for the wasm engine.
    pub(crate) fn platform_for(&self, len: Option<u64>) -> Option<&Platform> {
        let p = self.platform.as_ref()?;
        match (self.choice, len) {
            (EngineOption::Auto, Some(n)) if n < PLATFORM_MIN_BYTES => None,
            _ => Some(p),
        }
    }

    /// The engine of a signed message (FORMAT.md §6.5): the platform engine, whatever the size,
    /// wherever the runtime also has WebCrypto for the signature and the segment digests; `None`
    /// (the SDK's Rust ECDSA and the wasm engine) elsewhere and with `engine: 'wasm'`.
    pub(crate) fn signing_platform(&self) -> Option<(&Platform, web_sys::SubtleCrypto)> {
        let p = self.platform.as_ref()?;
        Some((p, subtle()?))
    }

    /// `wasm`, `webcrypto` or `node`: the engine of a message of `len` bytes.
    pub(crate) fn name_for(&self, len: Option<u64>) -> &'static str {
        self.platform_for(len).map_or("wasm", Platform::name)
    }
}

/// The low-level functions' engine option: `wasm` (default) or `webcrypto`.
pub(crate) fn low_level_platform(options: &JsValue) -> Result<Option<Platform>, JsValue> {
    let engine = Reflect::get(options, &"engine".into()).unwrap_or(JsValue::UNDEFINED);
    match engine.as_string().as_deref() {
        None if engine.is_undefined() => Ok(None),
        Some("wasm") => Ok(None),
        Some("webcrypto") => subtle()
            .map(|s| Some(Platform::Subtle(s)))
            .ok_or_else(|| invalid("engine 'webcrypto' needs crypto.subtle")),
        _ => Err(invalid("engine must be 'wasm' or 'webcrypto'")),
    }
}
