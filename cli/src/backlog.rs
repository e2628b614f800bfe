//! `keyseal backlog`: how many objects are not on the newest version of their key (the seed's M7
//! "re-encryption backlog"), by key id and version, as text, JSON or Prometheus text. Reads
//! headers only; asks the key service for each key id's newest version (`GET /keys/{id}/public`,
//! no token needed).

use std::collections::BTreeMap;
use std::io::Write;

use keyseal::{EntryKind, Header};
use serde_json::json;

use crate::args::BacklogArgs;
use crate::engine::EngineChoice;
use crate::error::CliError;
use crate::service::Settings;
use crate::transport::block_on;
use crate::walk::{objects, read_object_header};

#[derive(Default)]
struct Group {
    objects: u64,
}

/// `keyseal backlog`.
pub fn run(a: BacklogArgs) -> Result<(), CliError> {
    let settings = Settings::from_args(&a.service)?;
    let ks = settings.keyseal(
        a.to_key_id.as_deref(),
        EngineChoice::Native,
        keyseal::DEFAULT_SEGMENT_SIZE,
    )?;
    let mut newest: BTreeMap<String, u32> = BTreeMap::new();
    // (key id, version) → objects with an entry there.
    let mut groups: BTreeMap<(String, Option<u32>), Group> = BTreeMap::new();
    let (mut total, mut behind, mut ignored, mut unreadable) = (0u64, 0u64, 0u64, 0u64);
    for o in objects(&a.targets, a.endpoint.as_deref())? {
        let h = match read_object_header(&o) {
            Ok(Some(h)) => h,
            Ok(None) => {
                ignored += 1;
                continue;
            }
            Err(_) => {
                unreadable += 1;
                continue;
            }
        };
        let Ok((header, _)) = Header::parse(&h) else {
            unreadable += 1;
            continue;
        };
        total += 1;
        let mut is_behind = false;
        for e in header
            .entries()
            .iter()
            .filter(|e| e.key_service_id == settings.service_id && !matches!(e.kind, EntryKind::Unknown(_)))
        {
            let version = ks.entry_version(e);
            if settings.has_versions() && !newest.contains_key(&e.key_id) {
                let n = block_on(ks.newest_version(Some(&e.key_id)))?;
                newest.insert(e.key_id.clone(), n);
            }
            let n = newest.get(&e.key_id).copied();
            let old_version = matches!((version, n), (Some(v), Some(n)) if v < n);
            let wrong_key = a.to_key_id.as_deref().is_some_and(|t| t != e.key_id);
            is_behind |= old_version || wrong_key;
            groups.entry((e.key_id.clone(), version)).or_default().objects += 1;
        }
        if is_behind {
            behind += 1;
        }
    }
    let current = |key_id: &str, v: Option<u32>| {
        a.to_key_id.as_deref().is_none_or(|t| t == key_id)
            && match (v, newest.get(key_id)) {
                (Some(v), Some(n)) => v >= *n,
                _ => true,
            }
    };
    let mut out = std::io::stdout().lock();
    let w =
        |out: &mut std::io::StdoutLock<'_>, s: String| writeln!(out, "{s}").map_err(|e| CliError::io("-", e));
    if a.json {
        let by_key: Vec<_> = groups
            .iter()
            .map(|((k, v), g)| {
                json!({"keyServiceId": settings.service_id, "keyId": k, "version": v, "newest": newest.get(k), "current": current(k, *v), "objects": g.objects})
            })
            .collect();
        w(&mut out, json!({"objects": total, "behind": behind, "ignored": ignored, "unreadable": unreadable, "toKeyId": a.to_key_id, "byKey": by_key}).to_string())?;
    } else if a.prometheus {
        w(&mut out, "# HELP keyseal_backlog_objects Objects with an entry not on the newest version of its key (or not under the rotation target).".into())?;
        w(&mut out, "# TYPE keyseal_backlog_objects gauge".into())?;
        w(&mut out, format!("keyseal_backlog_objects {behind}"))?;
        w(
            &mut out,
            "# HELP keyseal_objects Objects scanned, by what they are.".into(),
        )?;
        w(&mut out, "# TYPE keyseal_objects gauge".into())?;
        w(&mut out, format!("keyseal_objects{{state=\"sealed\"}} {total}"))?;
        w(
            &mut out,
            format!("keyseal_objects{{state=\"not_keyseal\"}} {ignored}"),
        )?;
        w(
            &mut out,
            format!("keyseal_objects{{state=\"unreadable\"}} {unreadable}"),
        )?;
        w(
            &mut out,
            "# HELP keyseal_objects_by_key Objects with an entry under a key id and key version.".into(),
        )?;
        w(&mut out, "# TYPE keyseal_objects_by_key gauge".into())?;
        for ((k, v), g) in &groups {
            w(
                &mut out,
                format!(
                    "keyseal_objects_by_key{{key_service=\"{}\",key_id=\"{}\",version=\"{}\",current=\"{}\"}} {}",
                    label(&settings.service_id),
                    label(k),
                    v.map_or_else(|| "unknown".into(), |v| v.to_string()),
                    current(k, *v),
                    g.objects
                ),
            )?;
        }
    } else {
        w(
            &mut out,
            format!(
                "{total} objects, {behind} behind (not on the newest key version{})",
                a.to_key_id.as_ref().map_or(String::new(), |t| format!(" of {t}"))
            ),
        )?;
        for ((k, v), g) in &groups {
            w(
                &mut out,
                format!(
                    "  {k} version {} (newest {}): {} objects{}",
                    v.map_or_else(|| "?".into(), |v| v.to_string()),
                    newest.get(k).map_or_else(|| "?".into(), u32::to_string),
                    g.objects,
                    if current(k, *v) { "" } else { "  ← behind" }
                ),
            )?;
        }
        if ignored + unreadable > 0 {
            w(
                &mut out,
                format!("  ({ignored} files are not keyseal objects, {unreadable} unreadable)"),
            )?;
        }
    }
    Ok(())
}

/// A Prometheus label value, escaped.
fn label(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}
