//! `context` on the wire (§2): a JSON object of string members.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use keyseal_format::EncryptionContext;
use serde::de::{MapAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The `context` member exactly as sent: its pairs in order, repeated keys kept, so that a service
/// can refuse them (a JSON object parsed into a map would silently keep the last one).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WireContext(pub Vec<(String, String)>);

impl WireContext {
    /// The canonical context (FORMAT.md §3.3), checking uniqueness and the limits of §8.
    pub fn to_context(&self) -> Result<EncryptionContext, keyseal_format::Error> {
        EncryptionContext::from_pairs(self.0.iter().cloned())
    }
}

impl From<&EncryptionContext> for WireContext {
    fn from(c: &EncryptionContext) -> Self {
        Self(c.iter().map(|(k, v)| (k.into(), v.into())).collect())
    }
}

impl Serialize for WireContext {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(self.0.len()))?;
        for (k, v) in &self.0 {
            m.serialize_entry(k, v)?;
        }
        m.end()
    }
}

impl<'de> Deserialize<'de> for WireContext {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = WireContext;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object of string members")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<WireContext, A::Error> {
                let mut pairs = Vec::new();
                while let Some((k, v)) = map.next_entry::<String, String>()? {
                    pairs.push((k, v));
                }
                Ok(WireContext(pairs))
            }
        }
        d.deserialize_map(V)
    }
}
