//! Which wrapped-key entries a reader uses (DESIGN.md "Decrypt policy", SECURITY.md). A header's
//! wrapped-key section is not authenticated by the format: anyone can add an entry. A `KeySeal`
//! therefore uses only entries it is configured for — its services' own key ids, or an explicit
//! allow-list — and `hpke-p256` entries only when it opted in, because anyone holding a key's
//! public key can make one (public-key wraps authenticate no sender).

use alloc::string::String;
use alloc::vec::Vec;

use crate::EntryKind;

/// What a `KeySeal` accepts on decrypt.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DecryptPolicy {
    /// Key ids accepted besides each service's own configured key id: exact ids, or prefixes
    /// ending in `*` (`acme/*`). Applies to every configured service.
    pub allow_key_ids: Vec<String>,
    /// Accept `hpke-p256` entries (offline wraps to a key's public key). Off unless opted in:
    /// such an entry proves nothing about who wrote the message.
    pub accept_public_key_entries: bool,
}

/// Why an entry was not used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refused {
    /// No configured key service has this id.
    UnknownService,
    /// The key id is neither the service's configured one nor allowed.
    KeyIdNotAllowed,
    /// An `hpke-p256` entry and the policy does not accept them.
    PublicKeyEntry,
    /// An entry kind this build does not know.
    UnknownKind,
    /// An `hpke-p256` entry for a reader that requires signed messages (it proves no writer).
    PublicKeyEntryUnsigned,
}

impl Refused {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::UnknownService => "key service not configured",
            Self::KeyIdNotAllowed => "key id not allowed by the decrypt policy",
            Self::PublicKeyEntry => "public-key (hpke-p256) entries not accepted",
            Self::UnknownKind => "unknown entry kind",
            Self::PublicKeyEntryUnsigned => {
                "public-key (hpke-p256) entries prove no writer of a signed message"
            }
        }
    }
}

impl DecryptPolicy {
    fn key_id_allowed(&self, configured: &str, key_id: &str) -> bool {
        key_id == configured
            || self.allow_key_ids.iter().any(|p| match p.strip_suffix('*') {
                Some(prefix) => key_id.starts_with(prefix),
                None => key_id == p,
            })
    }

    /// Whether an entry of `kind` and `key_id` at a service configured with `configured` (its key
    /// id) may be used.
    /// `service_kind`: the kind of entries the configured service makes and opens.
    pub(crate) fn check(
        &self,
        kind: EntryKind,
        service_kind: EntryKind,
        configured: &str,
        key_id: &str,
    ) -> Result<(), Refused> {
        match kind {
            EntryKind::HpkeP256 => {}
            k if k == service_kind => {}
            _ => return Err(Refused::UnknownKind),
        }
        match kind {
            EntryKind::Kms | EntryKind::AwsKms | EntryKind::Kacls => {}
            EntryKind::HpkeP256 if self.accept_public_key_entries => {}
            EntryKind::HpkeP256 => return Err(Refused::PublicKeyEntry),
            _ => return Err(Refused::UnknownKind),
        }
        if self.key_id_allowed(configured, key_id) {
            Ok(())
        } else {
            Err(Refused::KeyIdNotAllowed)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    #[test]
    fn configured_key_ids_prefixes_and_kinds() {
        let p = DecryptPolicy {
            allow_key_ids: vec!["acme/2027".into(), "acme/archive-*".into()],
            accept_public_key_entries: false,
        };
        assert_eq!(
            p.check(EntryKind::Kms, EntryKind::Kms, "acme/default", "acme/default"),
            Ok(())
        );
        assert_eq!(
            p.check(EntryKind::Kms, EntryKind::Kms, "acme/default", "acme/2027"),
            Ok(())
        );
        assert_eq!(
            p.check(EntryKind::Kms, EntryKind::Kms, "acme/default", "acme/archive-1"),
            Ok(())
        );
        assert_eq!(
            p.check(EntryKind::Kms, EntryKind::Kms, "acme/default", "acme/other"),
            Err(Refused::KeyIdNotAllowed)
        );
        assert_eq!(
            p.check(
                EntryKind::HpkeP256,
                EntryKind::Kms,
                "acme/default",
                "acme/default"
            ),
            Err(Refused::PublicKeyEntry)
        );
        assert_eq!(
            p.check(
                EntryKind::Unknown(9),
                EntryKind::Kms,
                "acme/default",
                "acme/default"
            ),
            Err(Refused::UnknownKind)
        );
        let open = DecryptPolicy {
            accept_public_key_entries: true,
            ..DecryptPolicy::default()
        };
        assert_eq!(
            open.check(
                EntryKind::HpkeP256,
                EntryKind::Kms,
                "acme/default",
                "acme/default"
            ),
            Ok(())
        );
        assert_eq!(
            open.check(
                EntryKind::HpkeP256,
                EntryKind::Kms,
                "acme/default",
                "globex/default"
            ),
            Err(Refused::KeyIdNotAllowed)
        );
    }

    #[test]
    fn entries_go_only_to_services_of_their_kind() {
        let p = DecryptPolicy::default();
        assert_eq!(p.check(EntryKind::AwsKms, EntryKind::AwsKms, "k", "k"), Ok(()));
        assert_eq!(
            p.check(EntryKind::AwsKms, EntryKind::Kms, "k", "k"),
            Err(Refused::UnknownKind)
        );
        assert_eq!(
            p.check(EntryKind::Kms, EntryKind::AwsKms, "k", "k"),
            Err(Refused::UnknownKind)
        );
    }
}
