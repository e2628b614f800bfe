//! `keyseal inspect`: header facts of sealed files (the core's `keyseal::inspect`); no key is
//! used and no key service is called. Reads the header and learns the size from the file length,
//! so a 100 GiB object costs one short read.

use std::io::Write;

use keyseal::{BodyLayout, Header, Suite};
use serde_json::{Value, json};

use crate::args::InspectArgs;
use crate::error::CliError;
use crate::files::{Source, read_header};

/// One file's facts as JSON (no secrets: wrapped keys are shown by length only).
pub fn facts(path: &std::path::Path) -> Result<Value, CliError> {
    let mut src = Source::open(path)?;
    let header_bytes = read_header(&mut src.reader)?;
    let info = keyseal::inspect(&header_bytes)?;
    let (header, _) = Header::parse(&header_bytes)?;
    let after = src.len.map(|l| l.saturating_sub(header_bytes.len() as u64));
    let layout = after.and_then(|n| BodyLayout::for_message(&header, n).ok());
    let entries: Vec<Value> = info
        .entries
        .iter()
        .map(|e| {
            json!({
                "kind": e.kind,
                "keyServiceId": e.key_service_id,
                "keyId": e.key_id,
                "keyVersion": e.key_version,
                "wrappedLen": e.wrapped_len,
            })
        })
        .collect();
    Ok(json!({
        "file": path.display().to_string(),
        "version": info.version,
        "suite": info.suite,
        "signed": header.suite() == Suite::Signed,
        "messageId": info.message_id,
        "segmentSize": info.segment_size,
        "context": info.context,
        "entries": entries,
        "headerLen": info.header_len,
        "sealedLen": src.len,
        "plaintextLen": layout.map(|l| l.plaintext_len()),
        "segmentCount": layout.map(|l| l.segment_count()),
        "lengthValid": after.map(|_| layout.is_some()),
    }))
}

/// `keyseal inspect`. Exits with the first failure's status after printing every file.
pub fn run(a: InspectArgs) -> Result<(), CliError> {
    let mut out = std::io::stdout().lock();
    let mut first_err = None;
    for f in &a.files {
        match facts(f) {
            Ok(v) if a.json => {
                writeln!(out, "{v}").map_err(|e| CliError::io("-", e))?;
            }
            Ok(v) => {
                writeln!(out, "{}", text(&v)).map_err(|e| CliError::io("-", e))?;
            }
            Err(e) => {
                if a.json {
                    let v =
                        json!({"file": f.display().to_string(), "error": e.code(), "message": e.to_string()});
                    writeln!(out, "{v}").map_err(|e| CliError::io("-", e))?;
                } else {
                    eprintln!("keyseal: {}: {} ({})", f.display(), e, e.code());
                }
                first_err.get_or_insert(e);
            }
        }
    }
    first_err.map_or(Ok(()), Err)
}

fn text(v: &Value) -> String {
    let mut s = format!(
        "{}: keyseal v{} suite {}{}, segment {} B, header {} B",
        v["file"].as_str().unwrap_or(""),
        v["version"],
        v["suite"],
        if v["signed"] == true { " (signed)" } else { "" },
        v["segmentSize"],
        v["headerLen"],
    );
    if let Some(n) = v["plaintextLen"].as_u64() {
        s.push_str(&format!(", plaintext {n} B in {} segment(s)", v["segmentCount"]));
    } else if v["lengthValid"] == false {
        s.push_str(", body length INVALID (truncated or extended)");
    }
    s.push_str(&format!(
        "\n  message id {}",
        v["messageId"].as_str().unwrap_or("")
    ));
    if let Some(ctx) = v["context"].as_object() {
        for (k, val) in ctx {
            s.push_str(&format!("\n  context {k} = {}", val.as_str().unwrap_or("")));
        }
    }
    for e in v["entries"].as_array().into_iter().flatten() {
        s.push_str(&format!(
            "\n  entry {} {} {} version {} ({} B wrapped)",
            e["kind"].as_str().unwrap_or(""),
            e["keyServiceId"].as_str().unwrap_or(""),
            e["keyId"].as_str().unwrap_or(""),
            e["keyVersion"]
                .as_u64()
                .map_or_else(|| "?".into(), |n| n.to_string()),
            e["wrappedLen"],
        ));
    }
    s
}
