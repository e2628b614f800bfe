//! Key ids (docs/PROTOCOL.md §1): `tenant/name`, each part 1–64 of `[A-Za-z0-9._-]`.

/// Longest part of a key id, in bytes.
pub const MAX_PART_LEN: usize = 64;
/// Longest key id: two parts and the `/`.
pub const MAX_KEY_ID_LEN: usize = 2 * MAX_PART_LEN + 1;

fn ok_part(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= MAX_PART_LEN
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
}

/// The tenant and name of a well-formed key id, or `None`.
pub fn split(key_id: &str) -> Option<(&str, &str)> {
    match key_id.split_once('/') {
        Some((t, n)) if ok_part(t) && ok_part(n) => Some((t, n)),
        _ => None,
    }
}

/// Whether `tenant` could be the tenant of a key id.
pub fn is_tenant(tenant: &str) -> bool {
    ok_part(tenant)
}

/// What a malformed key id is told.
pub const SYNTAX: &str = "key_id must be `tenant/name`, each 1-64 of [A-Za-z0-9._-]";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_ids() {
        assert_eq!(split("acme/default"), Some(("acme", "default")));
        for bad in ["acme", "/x", "x/", "a/b/c", "a b/c", "ä/b", ""] {
            assert!(split(bad).is_none(), "{bad}");
        }
        let longest = format!("{}/{}", "a".repeat(64), "b".repeat(64));
        assert_eq!(longest.len(), MAX_KEY_ID_LEN);
        assert!(split(&longest).is_some());
        assert!(split(&format!("{longest}b")).is_none());
    }
}
