//! The SDK's `TokenSource`: the caller's `token({ service, keyId, op })` callback, which returns a
//! string or a Promise of one.

use js_sys::{Function, Promise};
use keyseal::{LocalBoxFuture, TokenRequest, TokenSource};
use serde::Serialize;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;

/// What the callback receives.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Asked<'a> {
    service: &'a str,
    key_id: &'a str,
    op: &'a str,
}

fn describe(e: &JsValue) -> String {
    e.dyn_ref::<js_sys::Error>()
        .map(|e| String::from(e.message()))
        .or_else(|| e.as_string())
        .unwrap_or_else(|| "the token callback threw".into())
}

/// The caller's token callback (none: every call is sent with an empty token).
pub struct JsTokens(pub Option<Function>);

impl TokenSource for JsTokens {
    fn token<'a>(&'a self, r: TokenRequest<'a>) -> LocalBoxFuture<'a, Result<String, String>> {
        Box::pin(async move {
            let Some(f) = &self.0 else {
                return Ok(String::new());
            };
            let arg = serde_wasm_bindgen::to_value(&Asked {
                service: r.service,
                key_id: r.key_id,
                op: r.op,
            })
            .map_err(|e| e.to_string())?;
            let v = f.call1(&JsValue::NULL, &arg).map_err(|e| describe(&e))?;
            // A string, a Promise or any thenable: Promise.resolve takes all three.
            let v = JsFuture::from(Promise::resolve(&v))
                .await
                .map_err(|e| describe(&e))?;
            v.as_string()
                .ok_or_else(|| "token callback must return a string".into())
        })
    }
}

/// What an `aws-kms` service's `credentials()` callback returns.
#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct Creds {
    access_key_id: String,
    secret_access_key: zeroize::Zeroizing<String>,
    session_token: Option<zeroize::Zeroizing<String>>,
}

/// An `aws-kms` service's `credentials()` callback: an object (or a Promise of one) with
/// `accessKeyId`, `secretAccessKey` and optionally `sessionToken`, asked once per call.
pub struct JsAwsCredentials(pub Function);

impl keyseal::AwsCredentialSource for JsAwsCredentials {
    fn credentials(&self) -> LocalBoxFuture<'_, Result<keyseal::AwsCredentials, String>> {
        Box::pin(async move {
            let v = self.0.call0(&JsValue::NULL).map_err(|e| describe(&e))?;
            let v = JsFuture::from(Promise::resolve(&v))
                .await
                .map_err(|e| describe(&e))?;
            let c: Creds = serde_wasm_bindgen::from_value(v).map_err(|_| {
                String::from("credentials() must return { accessKeyId, secretAccessKey, sessionToken? }")
            })?;
            Ok(keyseal::AwsCredentials {
                access_key_id: c.access_key_id,
                secret_access_key: c.secret_access_key,
                session_token: c.session_token,
            })
        })
    }
}

/// What a `kacls` service's `authentication`/`authorization` callbacks receive.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct KaclsAsked<'a> {
    service: &'a str,
    op: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    resource_name: Option<&'a str>,
}

/// A `kacls` service's two token callbacks: `authentication({ service, op })` and
/// `authorization({ service, op, resourceName })`, each returning a JWT (or a Promise of one),
/// asked once per call.
pub struct JsKaclsTokens {
    /// The service id (passed to the callbacks).
    pub service: String,
    /// `authentication`.
    pub authentication: Function,
    /// `authorization`.
    pub authorization: Function,
}

async fn call_for_string(f: &Function, arg: &JsValue, what: &str) -> Result<String, String> {
    let v = f.call1(&JsValue::NULL, arg).map_err(|e| describe(&e))?;
    let v = JsFuture::from(Promise::resolve(&v))
        .await
        .map_err(|e| describe(&e))?;
    v.as_string()
        .ok_or_else(|| format!("the {what} callback must return a string (a JWT)"))
}

impl keyseal::KaclsTokenSource for JsKaclsTokens {
    fn authentication<'a>(&'a self, op: &'a str) -> LocalBoxFuture<'a, Result<String, String>> {
        Box::pin(async move {
            let arg = serde_wasm_bindgen::to_value(&KaclsAsked {
                service: &self.service,
                op,
                resource_name: None,
            })
            .map_err(|e| e.to_string())?;
            call_for_string(&self.authentication, &arg, "authentication").await
        })
    }

    fn authorization<'a>(
        &'a self,
        op: &'a str,
        resource_name: &'a str,
    ) -> LocalBoxFuture<'a, Result<String, String>> {
        Box::pin(async move {
            let arg = serde_wasm_bindgen::to_value(&KaclsAsked {
                service: &self.service,
                op,
                resource_name: Some(resource_name),
            })
            .map_err(|e| e.to_string())?;
            call_for_string(&self.authorization, &arg, "authorization").await
        })
    }
}

/// The caller's `traceparent()` callback: the current W3C trace context (e.g. from
/// OpenTelemetry's active span), asked synchronously at each key-service attempt.
pub struct JsTrace(pub Function);

impl keyseal::TraceSource for JsTrace {
    fn traceparent(&self) -> Option<String> {
        // a throwing callback must not break the call: no header then
        self.0.call0(&JsValue::NULL).ok().and_then(|v| v.as_string())
    }
}
