//! HTTP binding of administration (docs/PROTOCOL.md §8.1): admin token from the body member
//! `authorization` or `Authorization: Bearer`, bodies and answers of `keyseal_protocol::admin`.
//! Every request is audited, refusals included (§9).

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use keyseal_protocol::Token;
use keyseal_protocol::admin::{AdminRequest, DEFAULT_GRACE_SECS, KeyInfo, KeyList};
use serde::Deserialize;

use crate::admin::AdminOp;
use crate::error::{Error, Result};
use crate::http::{App, Shared, bearer, parse_body, run};

type Body = std::result::Result<Bytes, BytesRejection>;

/// The audited name of an admin action in the path, if it is one.
fn operation_of(action: &str) -> Option<&'static str> {
    Some(match action {
        "create" => "key.create",
        "rotate" => "key.rotate",
        "disable" => "key.disable",
        "enable" => "key.enable",
        "destroy" => "key.destroy",
        "cancel-destroy" => "key.cancel-destroy",
        "import" => "key.import",
        "show" => "key.show",
        _ => return None,
    })
}

fn admin_op(action: &str, body: &AdminRequest) -> Result<AdminOp> {
    Ok(match action {
        "create" => AdminOp::Create,
        "rotate" => AdminOp::Rotate,
        "disable" => AdminOp::Disable,
        "enable" => AdminOp::Enable,
        "destroy" => AdminOp::Destroy {
            grace_secs: body.grace_seconds.unwrap_or(DEFAULT_GRACE_SECS),
        },
        "cancel-destroy" => AdminOp::CancelDestroy,
        "import" => match (&body.enc, &body.ciphertext) {
            (Some(enc), Some(ct)) => AdminOp::Import {
                enc: enc.0.clone(),
                ciphertext: ct.0.clone(),
            },
            _ => return Err(Error::InvalidRequest("import needs enc and ciphertext".into())),
        },
        "show" => AdminOp::Show,
        _ => return Err(Error::NotFound("no such admin action".into())),
    })
}

fn admin_call(
    app: &App,
    header_token: Option<Token>,
    body: &Body,
    key_id: Option<String>,
    action: &str,
) -> Result<KeyInfo> {
    let operation = operation_of(action).unwrap_or("key.unknown-action");
    let refuse = |key_id: &str, e: Error| {
        app.service.audit_refusal(operation, key_id, &e);
        Err(e)
    };
    let body: AdminRequest = match body {
        Ok(b) if b.is_empty() => AdminRequest::default(),
        _ => match parse_body(body) {
            Ok(b) => b,
            Err(e) => return refuse(key_id.as_deref().unwrap_or(""), e),
        },
    };
    let key_id = key_id.or_else(|| body.key_id.clone()).unwrap_or_default();
    let token = body.authorization.as_ref().or(header_token.as_ref());
    let actor = app.service.admin_actor(token, operation, &key_id)?;
    let op = match admin_op(action, &body) {
        Ok(op) => op,
        Err(e) => return refuse(&key_id, e),
    };
    app.service.admin(&actor, &key_id, op, body.reason.as_deref())
}

/// `POST /admin/keys`.
pub async fn create(State(app): State<Shared>, headers: HeaderMap, body: Body) -> Response {
    let token = bearer(&headers);
    run(app, "admin", move |app| {
        admin_call(app, token, &body, None, "create")
    })
    .await
}

/// `POST /admin/keys/{tenant}/{name}/{action}`.
pub async fn action(
    State(app): State<Shared>,
    Path((tenant, name, action)): Path<(String, String, String)>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let token = bearer(&headers);
    let key_id = format!("{tenant}/{name}");
    run(app, "admin", move |app| {
        admin_call(app, token, &body, Some(key_id), &action)
    })
    .await
}

/// `GET /admin/keys/{tenant}/{name}`.
pub async fn show(
    State(app): State<Shared>,
    Path((tenant, name)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    let token = bearer(&headers);
    let key_id = format!("{tenant}/{name}");
    run(app, "admin", move |app| {
        admin_call(app, token, &Ok(Bytes::new()), Some(key_id), "show")
    })
    .await
}

/// `?tenant=` of `GET /admin/keys`.
#[derive(Deserialize)]
pub struct ListQuery {
    tenant: Option<String>,
}

/// `GET /admin/keys[?tenant=T]`.
pub async fn list(State(app): State<Shared>, headers: HeaderMap, Query(q): Query<ListQuery>) -> Response {
    let token = bearer(&headers);
    run(app, "admin", move |app| {
        let actor = app.service.admin_actor(token.as_ref(), "key.list", "")?;
        let keys = app.service.admin_list(&actor, q.tenant.as_deref())?;
        Ok(KeyList { keys })
    })
    .await
}

/// `GET /admin/import-key`.
pub async fn import_key(State(app): State<Shared>, headers: HeaderMap) -> Response {
    let token = bearer(&headers);
    run(app, "admin", move |app| {
        let actor = app.service.admin_actor(token.as_ref(), "key.import-key", "")?;
        app.service.import_key(&actor)
    })
    .await
}
