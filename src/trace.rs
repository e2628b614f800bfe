//! W3C Trace Context (`traceparent`, <https://www.w3.org/TR/trace-context/>) on key-service requests:
//! when the caller's [`TraceSource`] gives the current trace context, every attempt is sent as a
//! child span of it (same trace id, a fresh span id, the same flags), and the attempt's event
//! carries both ids so the key service's span can be joined to the app request.

use alloc::format;
use alloc::string::String;

/// Where the current trace context comes from (e.g. OpenTelemetry's active span), asked at every
/// key-service attempt. `None` (or a malformed value): no `traceparent` is sent.
pub trait TraceSource {
    /// The caller's current `traceparent` header value.
    fn traceparent(&self) -> Option<String>;
}

/// One attempt's span: the header value to send and its ids.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ChildSpan {
    pub header: String,
    pub trace_id: String,
    pub span_id: String,
}

fn is_hex(s: &str, len: usize) -> bool {
    s.len() == len
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// A child of `parent` with span id `span` (16 lowercase hex), or `None` when `parent` is not a
/// valid `traceparent` (version `ff`, all-zero ids, wrong lengths or case: the spec's rules).
pub(crate) fn child_of(parent: &str, span: &str) -> Option<ChildSpan> {
    let mut it = parent.trim().split('-');
    let (version, trace_id, _parent_id, flags) = (it.next()?, it.next()?, it.next()?, it.next()?);
    if !is_hex(version, 2) || version == "ff" || (version == "00" && it.next().is_some()) {
        return None;
    }
    if !is_hex(trace_id, 32)
        || trace_id.bytes().all(|b| b == b'0')
        || !is_hex(_parent_id, 16)
        || !is_hex(flags, 2)
    {
        return None;
    }
    if _parent_id.bytes().all(|b| b == b'0') || !is_hex(span, 16) {
        return None;
    }
    Some(ChildSpan {
        header: format!("00-{trace_id}-{span}-{flags}"),
        trace_id: trace_id.into(),
        span_id: span.into(),
    })
}

/// A fresh random span id (8 bytes, hex; never all zero).
pub(crate) fn new_span_id() -> Option<String> {
    let mut b = [0u8; 8];
    getrandom::fill(&mut b).ok()?;
    if b.iter().all(|x| *x == 0) {
        b[7] = 1;
    }
    Some(b.iter().map(|x| format!("{x:02x}")).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    const P: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    #[test]
    fn a_child_keeps_trace_and_flags_with_a_new_span() {
        let c = child_of(P, "b7ad6b7169203331").expect("valid");
        assert_eq!(
            c.header,
            "00-4bf92f3577b34da6a3ce929d0e0e4736-b7ad6b7169203331-01"
        );
        assert_eq!(c.trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
    }

    #[test]
    fn invalid_parents_give_no_header() {
        for bad in [
            "",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
        ] {
            assert_eq!(child_of(bad, "b7ad6b7169203331"), None, "{bad}");
        }
        // a future version may append fields
        assert!(
            child_of(
                "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-x",
                "b7ad6b7169203331"
            )
            .is_some()
        );
        assert_eq!(new_span_id().map(|s| s.len()), Some(16));
    }
}
