//! `KeySeal.create(options)`: the JS options object, read with serde-wasm-bindgen (no JSON text
//! crosses the boundary), and the SDK built from it. Names and types are checked first in JS
//! (js/src/options.js, which names the option's path); the values here (URLs, ranges, enums,
//! overlaps), each `INVALID_ARGUMENT` naming the option.

use std::rc::Rc;

use js_sys::{Function, Reflect};
use keyseal::{
    CacheConfig, DecryptPolicy, KeySeal, KeySealConfig, KmsClient, KmsClientConfig, Observer, RetryPolicy,
    ServiceBinding, WrapMode,
};
use serde::de::{self, IgnoredAny, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};
use wasm_bindgen::prelude::*;

use crate::clock::JsClock;
use crate::errors::{invalid, invalid_value, js_error};
use crate::fetch::FetchTransport;
use crate::tokens::JsTokens;

/// `urls`: one URL or a list.
enum Urls {
    One(String),
    Many(Vec<String>),
}

impl<'de> Deserialize<'de> for Urls {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Urls;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a URL or an array of URLs")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Urls, E> {
                Ok(Urls::One(s.into()))
            }
            fn visit_seq<A: de::SeqAccess<'de>>(self, seq: A) -> Result<Urls, A::Error> {
                Vec::deserialize(de::value::SeqAccessDeserializer::new(seq)).map(Urls::Many)
            }
        }
        d.deserialize_any(V)
    }
}

/// `keyService` and each of `escrow`. (Unknown option names are refused in JS: js/src/options.js.)
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ServiceOptions {
    /// Required: written into every entry; decrypt finds the service by it.
    id: Option<String>,
    urls: Option<Urls>,
    key_id: Option<String>,
    /// The service's identity public key to pin (base64 of 65-byte SEC1, PROTOCOL.md §6.3).
    identity: Option<String>,
    /// `keyseal` (default) or `aws-kms` (docs/KEY-SERVICES.md).
    kind: Option<ServiceKind>,
    /// `aws-kms`: the region requests are signed for.
    region: Option<String>,
    /// `aws-kms`: an endpoint other than `https://kms.{region}.amazonaws.com`.
    endpoint: Option<String>,
    /// `kacls`: the context key whose value is the resource name.
    resource_name_key: Option<String>,
    /// `kacls`: the caller's acknowledgement that a KACLS answers data keys in clear (inside TLS).
    accept_plaintext_key_answers: Option<bool>,
    // `credentials` (aws-kms) and `authentication`/`authorization` (kacls) are functions: read
    // separately (see [`service_function`]).
}

/// The kind of key service behind `keyService`/`escrow[i]`.
#[derive(Deserialize, Clone, Copy, PartialEq, Eq)]
enum ServiceKind {
    #[serde(rename = "keyseal")]
    Keyseal,
    #[serde(rename = "aws-kms")]
    AwsKms,
    #[serde(rename = "kacls")]
    Kacls,
}

/// `decrypt`: which entries this instance uses (DESIGN.md "Decrypt policy").
#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct DecryptOptions {
    #[serde(default)]
    allow_key_ids: Vec<String>,
    accept_public_key_entries: Option<bool>,
}

/// `cache`: `false` (off) or limits.
#[derive(Default)]
enum CacheOption {
    #[default]
    Defaults,
    Off,
    Limits(CacheOptions),
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct CacheOptions {
    max_age_ms: Option<f64>,
    max_messages: Option<u64>,
    max_bytes: Option<u64>,
    max_entries: Option<usize>,
}

impl<'de> Deserialize<'de> for CacheOption {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = CacheOption;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("false or { maxAgeMs, maxMessages, maxBytes, maxEntries }")
            }
            fn visit_bool<E: de::Error>(self, b: bool) -> Result<CacheOption, E> {
                Ok(if b {
                    CacheOption::Defaults
                } else {
                    CacheOption::Off
                })
            }
            fn visit_unit<E: de::Error>(self) -> Result<CacheOption, E> {
                Ok(CacheOption::Defaults)
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<CacheOption, A::Error> {
                CacheOptions::deserialize(de::value::MapAccessDeserializer::new(map)).map(CacheOption::Limits)
            }
        }
        d.deserialize_any(V)
    }
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct RetryOptions {
    attempt_timeout_ms: Option<u64>,
    deadline_ms: Option<u64>,
    max_rounds: Option<u32>,
    backoff_base_ms: Option<u64>,
    backoff_max_ms: Option<u64>,
    breaker_threshold: Option<u32>,
    breaker_cooldown_ms: Option<u64>,
}

/// Which AES-256-GCM engine: see [`crate::engine::EngineChoice`].
#[derive(Deserialize, Clone, Copy, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub(crate) enum EngineOption {
    #[default]
    Auto,
    Wasm,
    Webcrypto,
    Node,
}

/// How key-service requests go out: `auto` takes node:http(s) in the Node entry, `fetch` elsewhere.
#[derive(Deserialize, Clone, Copy, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub(crate) enum TransportOption {
    #[default]
    Auto,
    Fetch,
    Node,
}

#[derive(Deserialize, Clone, Copy)]
enum WrapModeOption {
    #[serde(rename = "key-service")]
    KeyService,
    #[serde(rename = "public-key")]
    PublicKey,
}

/// The options of `KeySeal.create` (documented in js/types/index.d.ts and the README).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Options {
    key_service: Option<ServiceOptions>,
    key_id: Option<String>,
    #[serde(default)]
    escrow: Vec<ServiceOptions>,
    /// A function: read separately (see [`function`]).
    #[serde(default)]
    #[allow(dead_code)]
    token: IgnoredAny,
    /// A function: read separately.
    #[serde(default)]
    #[allow(dead_code)]
    on_event: IgnoredAny,
    /// A function: read separately.
    #[serde(default)]
    #[allow(dead_code)]
    traceparent: IgnoredAny,
    #[serde(default)]
    cache: CacheOption,
    timeout_ms: Option<u64>,
    deadline_ms: Option<u64>,
    #[serde(default)]
    retry: RetryOptions,
    wrap_mode: Option<WrapModeOption>,
    #[serde(default)]
    allow_plaintext_keys: bool,
    segment_size: Option<u32>,
    reason: Option<String>,
    #[serde(default)]
    engine: EngineOption,
    #[serde(default)]
    p256: crate::p256::P256Option,
    #[serde(default)]
    transport: TransportOption,
    #[serde(default)]
    decrypt: DecryptOptions,
}

/// What `create` builds.
pub(crate) struct Built {
    pub sdk: KeySeal,
    pub engine: EngineOption,
    /// The P-256 engine every key-service client uses.
    pub p256: Rc<dyn keyseal::P256Engine>,
}

fn function(options: &JsValue, name: &str) -> Result<Option<Function>, JsValue> {
    let v = Reflect::get(options, &name.into()).unwrap_or(JsValue::UNDEFINED);
    if v.is_undefined() || v.is_null() {
        return Ok(None);
    }
    v.dyn_into::<Function>()
        .map(Some)
        .map_err(|_| invalid_value(&format!("options.{name}"), "must be a function"))
}

/// A function-valued option of `keyService` (`escrow_index: None`) or `escrow[i]`.
fn service_function(
    options: &JsValue,
    escrow_index: Option<u32>,
    name: &str,
) -> Result<Option<Function>, JsValue> {
    let service = match escrow_index {
        None => Reflect::get(options, &"keyService".into()),
        Some(i) => Reflect::get(options, &"escrow".into()).and_then(|e| Reflect::get_u32(&e, i)),
    }
    .unwrap_or(JsValue::UNDEFINED);
    if !service.is_object() {
        return Ok(None);
    }
    function(&service, name)
}

/// The `aws-kms` kind (docs/KEY-SERVICES.md): region, optional endpoint, credentials callback.
fn aws_client(
    s: &ServiceOptions,
    what: &str,
    id: String,
    credentials: Option<Function>,
    policy: RetryPolicy,
    (transport, clock, observer): (
        Rc<dyn keyseal::HttpTransport>,
        Rc<dyn keyseal::Clock>,
        Rc<Observer>,
    ),
) -> Result<keyseal::AwsKmsClient, JsValue> {
    if s.urls.is_some() || s.identity.is_some() {
        return Err(invalid_value(
            &format!("options.{what}"),
            "an 'aws-kms' service takes region (and endpoint for a non-AWS endpoint), not urls or identity",
        ));
    }
    let region = s.region.clone().ok_or_else(|| {
        invalid_value(
            &format!("options.{what}.region"),
            "is required for 'aws-kms' (e.g. 'us-east-1')",
        )
    })?;
    let credentials = credentials.ok_or_else(|| {
        invalid_value(
            &format!("options.{what}.credentials"),
            "is required for 'aws-kms': async () => ({ accessKeyId, secretAccessKey, sessionToken })",
        )
    })?;
    let endpoints = s.endpoint.clone().into_iter().collect();
    keyseal::AwsKmsClient::new(
        keyseal::AwsKmsConfig {
            id,
            region,
            endpoints,
            policy,
        },
        transport,
        clock,
        Rc::new(crate::tokens::JsAwsCredentials(credentials)),
        observer,
    )
    .map_err(js_error)
}

/// The `kacls` kind (docs/KEY-SERVICES.md "KACLS"): its URL, the context key naming the resource,
/// the two token callbacks and the plaintext-answer acknowledgement.
fn kacls_client(
    s: &ServiceOptions,
    what: &str,
    id: String,
    (authentication, authorization): (Option<Function>, Option<Function>),
    reason: Option<String>,
    policy: RetryPolicy,
    (transport, clock, observer): (
        Rc<dyn keyseal::HttpTransport>,
        Rc<dyn keyseal::Clock>,
        Rc<Observer>,
    ),
) -> Result<keyseal::KaclsClient, JsValue> {
    if s.identity.is_some() || s.region.is_some() || s.endpoint.is_some() {
        return Err(invalid_value(
            &format!("options.{what}"),
            "a 'kacls' service takes urls, resourceNameKey, authentication, authorization and \
             acceptPlaintextKeyAnswers (no identity, region or endpoint)",
        ));
    }
    let urls = urls_of(s, &format!("options.{what}"))?;
    let resource_name_key = s.resource_name_key.clone().ok_or_else(|| {
        invalid_value(
            &format!("options.{what}.resourceNameKey"),
            "is required for 'kacls': the context key whose value is the KACLS resource name (e.g. 'object')",
        )
    })?;
    let need = |f: Option<Function>, name: &str, shape: &str| {
        f.ok_or_else(|| {
            invalid_value(
                &format!("options.{what}.{name}"),
                &format!("is required for 'kacls': {shape}"),
            )
        })
    };
    let tokens = crate::tokens::JsKaclsTokens {
        service: id.clone(),
        authentication: need(
            authentication,
            "authentication",
            "async ({ op }) => jwt from your IdP",
        )?,
        authorization: need(
            authorization,
            "authorization",
            "async ({ op, resourceName }) => jwt from your authorization issuer",
        )?,
    };
    keyseal::KaclsClient::new(
        keyseal::KaclsConfig {
            id,
            urls,
            resource_name_key,
            reason: reason.unwrap_or_default(),
            accept_plaintext_key_answers: s.accept_plaintext_key_answers.unwrap_or(false),
            policy,
        },
        transport,
        clock,
        Rc::new(tokens),
        observer,
    )
    .map_err(js_error)
}

/// A client of any kind as the SDK holds it: with the caller's `traceparent` callback, if given,
/// sending each attempt as a child span (`with`: the kind's `with_trace`).
fn traced<C: keyseal::KeyService + 'static>(
    client: C,
    trace: &Option<Rc<dyn keyseal::TraceSource>>,
    with: fn(C, Rc<dyn keyseal::TraceSource>) -> C,
) -> Rc<dyn keyseal::KeyService> {
    match trace {
        Some(t) => Rc::new(with(client, t.clone())),
        None => Rc::new(client),
    }
}

fn urls_of(s: &ServiceOptions, what: &str) -> Result<Vec<String>, JsValue> {
    let urls = match &s.urls {
        Some(Urls::Many(v)) => v.clone(),
        Some(Urls::One(u)) => vec![u.clone()],
        None => Vec::new(),
    };
    if urls.is_empty() {
        return Err(invalid_value(
            &format!("{what}.urls"),
            "must be a non-empty array of URLs",
        ));
    }
    for (i, u) in urls.iter().enumerate() {
        check_base_url(u).map_err(|detail| invalid_value(&format!("{what}.urls[{i}]"), &detail))?;
    }
    Ok(urls)
}

/// PROTOCOL.md §1: a base URL is absolute `https` (or `http` on loopback, which the client
/// checks), ends in `/v1`, and has no query, fragment or credentials. Refused here, with the URL,
/// rather than as a 404 at the first call.
fn check_base_url(u: &str) -> Result<(), String> {
    let rest = u
        .strip_prefix("https://")
        .or_else(|| u.strip_prefix("http://"))
        .ok_or_else(|| format!("'{u}' is not an http(s) URL (e.g. https://kms.example.com/v1)"))?;
    if rest.contains(['?', '#']) {
        return Err(format!("'{u}' has a query or fragment: give the base URL only"));
    }
    if rest
        .split('/')
        .next()
        .is_some_and(|authority| authority.contains('@'))
    {
        return Err(format!(
            "'{u}' carries credentials: the token callback authenticates"
        ));
    }
    if !u.trim_end_matches('/').ends_with("/v1") {
        return Err(format!(
            "'{u}' does not end in /v1: give the key service's base URL, e.g. '{}/v1'",
            u.trim_end_matches('/')
        ));
    }
    Ok(())
}

/// A duration option: a whole number of ms above 0.
fn positive_ms(v: Option<u64>, what: &str) -> Result<Option<u64>, JsValue> {
    match v {
        Some(0) => Err(invalid_value(what, "must be at least 1 (ms)")),
        v => Ok(v),
    }
}

fn read(options: JsValue) -> Result<Options, JsValue> {
    if !options.is_object() {
        return Err(invalid("options are required"));
    }
    let d = serde_wasm_bindgen::Deserializer::from(options);
    Options::deserialize(d).map_err(|e| invalid_value("options", &e.to_string()))
}

/// Builds the SDK from the caller's options object.
/// `node`: the node:crypto engine object of the Node entry (the `node` P-256 engine);
/// `node_http`: its node:http transport object.
pub(crate) fn build(
    options: JsValue,
    node: Option<crate::platform::NodeCipher>,
    node_http: Option<crate::node_http::NodeHttp>,
) -> Result<Built, JsValue> {
    let token = function(&options, "token")?;
    let on_event = function(&options, "onEvent")?;
    let trace: Option<Rc<dyn keyseal::TraceSource>> = function(&options, "traceparent")?
        .map(|f| Rc::new(crate::tokens::JsTrace(f)) as Rc<dyn keyseal::TraceSource>);
    let raw = options.clone();
    let o = read(options)?;
    let d = RetryPolicy::default();
    let r = &o.retry;
    // `timeoutMs`/`deadlineMs` are shorthands of the `retry` fields: giving both is refused
    // rather than one silently winning.
    if o.timeout_ms.is_some() && r.attempt_timeout_ms.is_some() {
        return Err(invalid_value(
            "options.timeoutMs",
            "and options.retry.attemptTimeoutMs are the same setting: give one",
        ));
    }
    if o.deadline_ms.is_some() && r.deadline_ms.is_some() {
        return Err(invalid_value(
            "options.deadlineMs",
            "and options.retry.deadlineMs are the same setting: give one",
        ));
    }
    let attempt_timeout = positive_ms(o.timeout_ms.or(r.attempt_timeout_ms), "options.timeoutMs")?;
    let deadline = positive_ms(o.deadline_ms.or(r.deadline_ms), "options.deadlineMs")?;
    let policy = RetryPolicy {
        attempt_timeout_ms: attempt_timeout.unwrap_or(d.attempt_timeout_ms),
        deadline_ms: deadline.unwrap_or(d.deadline_ms),
        max_rounds: r.max_rounds.unwrap_or(d.max_rounds),
        backoff_base_ms: r.backoff_base_ms.unwrap_or(d.backoff_base_ms),
        backoff_max_ms: r.backoff_max_ms.unwrap_or(d.backoff_max_ms),
        breaker_threshold: r.breaker_threshold.unwrap_or(d.breaker_threshold),
        breaker_cooldown_ms: r.breaker_cooldown_ms.unwrap_or(d.breaker_cooldown_ms),
    };
    let sink: Option<keyseal::events::EventSink> = on_event.map(|f| {
        let serializer = serde_wasm_bindgen::Serializer::json_compatible();
        Box::new(move |e: &keyseal::Event| {
            if let Ok(v) = serde::Serialize::serialize(e, &serializer) {
                // a throwing listener must not break crypto
                let _ = f.call1(&JsValue::NULL, &v);
            }
        }) as keyseal::events::EventSink
    });
    let observer = Rc::new(Observer::with_sink(sink));
    let clock: Rc<dyn keyseal::Clock> = Rc::new(JsClock::new());
    let transport: Rc<dyn keyseal::HttpTransport> = match (o.transport, node_http) {
        (TransportOption::Fetch, _) | (TransportOption::Auto, None) => Rc::new(FetchTransport),
        (TransportOption::Auto | TransportOption::Node, Some(h)) => {
            Rc::new(crate::node_http::NodeHttpTransport(h))
        }
        (TransportOption::Node, None) => {
            return Err(invalid_value(
                "options.transport",
                "'node' needs node:http (the package's node entry)",
            ));
        }
    };
    let tokens: Rc<dyn keyseal::TokenSource> = Rc::new(JsTokens(token));
    let p256: Rc<dyn keyseal::P256Engine> =
        match crate::p256::engine_for(o.p256, crate::globals::subtle(), node)? {
            Some(web) => Rc::new(web),
            None => Rc::new(keyseal::RustP256),
        };
    let primary = o
        .key_service
        .as_ref()
        .ok_or_else(|| invalid_value("options.keyService", "is required: { id, urls }"))?;
    if primary.key_id.is_some() && o.key_id.is_some() {
        return Err(invalid_value(
            "options.keyService.keyId",
            "and options.keyId are the same setting: give one",
        ));
    }
    let primary_key = primary.key_id.clone().or(o.key_id.clone());
    // A decrypt-only instance needs no keyId, but then must say which key ids it reads.
    if primary_key.is_none() && o.decrypt.allow_key_ids.is_empty() {
        return Err(invalid_value(
            "options.keyId",
            "is required to encrypt (e.g. 'acme/default'); an instance that only decrypts gives \
             options.decrypt.allowKeyIds instead (e.g. ['acme/*'])",
        ));
    }
    let mut bindings = vec![(
        "keyService".to_string(),
        primary,
        Some(primary_key.unwrap_or_default()),
    )];
    for (i, s) in o.escrow.iter().enumerate() {
        bindings.push((format!("escrow[{i}]"), s, s.key_id.clone()));
    }
    let mut services = Vec::with_capacity(bindings.len());
    for (n, (what, s, key_id)) in bindings.into_iter().enumerate() {
        let id = s.id.clone().filter(|i| !i.is_empty()).ok_or_else(|| {
            invalid_value(
                &format!("options.{what}.id"),
                "is required: the name written into every object's entry, by which readers find \
                 this key service (e.g. 'acme'); readers must use the same id",
            )
        })?;
        let key_id = key_id
            .filter(|k| !k.is_empty() || what == "keyService")
            .ok_or_else(|| invalid_value(&format!("options.{what}.keyId"), "is required"))?;
        let escrow_index = (n > 0).then(|| (n - 1) as u32);
        if s.kind == Some(ServiceKind::AwsKms) {
            let credentials = service_function(&raw, escrow_index, "credentials")?;
            let client = aws_client(
                s,
                &what,
                id,
                credentials,
                policy,
                (transport.clone(), clock.clone(), observer.clone()),
            )?;
            let service = traced(client, &trace, keyseal::AwsKmsClient::with_trace);
            services.push(ServiceBinding { service, key_id });
            continue;
        }
        if s.kind == Some(ServiceKind::Kacls) {
            let callbacks = (
                service_function(&raw, escrow_index, "authentication")?,
                service_function(&raw, escrow_index, "authorization")?,
            );
            let client = kacls_client(
                s,
                &what,
                id,
                callbacks,
                o.reason.clone(),
                policy,
                (transport.clone(), clock.clone(), observer.clone()),
            )?;
            let service = traced(client, &trace, keyseal::KaclsClient::with_trace);
            services.push(ServiceBinding { service, key_id });
            continue;
        }
        if s.resource_name_key.is_some() || s.accept_plaintext_key_answers.is_some() {
            return Err(invalid_value(
                &format!("options.{what}"),
                "resourceNameKey and acceptPlaintextKeyAnswers belong to kind 'kacls'",
            ));
        }
        if s.region.is_some() || s.endpoint.is_some() {
            return Err(invalid_value(
                &format!("options.{what}"),
                "region and endpoint belong to kind 'aws-kms'; a keyseal key service takes urls",
            ));
        }
        let urls = urls_of(s, &format!("options.{what}"))?;
        let identity = s
            .identity
            .as_deref()
            .map(|b| {
                keyseal::protocol::bytes::decode(b).ok_or_else(|| {
                    invalid_value(
                        &format!("options.{what}.identity"),
                        "must be base64 (RFC 4648 §4)",
                    )
                })
            })
            .transpose()?;
        let client = KmsClient::new(
            KmsClientConfig {
                id,
                urls,
                policy,
                allow_plaintext_keys: o.allow_plaintext_keys,
                reason: o.reason.clone(),
                identity,
            },
            transport.clone(),
            clock.clone(),
            tokens.clone(),
            observer.clone(),
        )
        .map_err(js_error)?
        .with_p256(p256.clone());
        let service = traced(client, &trace, KmsClient::with_trace);
        services.push(ServiceBinding { service, key_id });
    }
    let defaults = CacheConfig::default();
    let cache = match o.cache {
        CacheOption::Off => CacheConfig::disabled(),
        CacheOption::Defaults => defaults,
        CacheOption::Limits(x) => CacheConfig {
            max_age_ms: match x.max_age_ms {
                Some(ms) if !(ms.is_finite() && ms >= 0.0) => {
                    return Err(invalid_value(
                        "options.cache.maxAgeMs",
                        "must be a number of ms ≥ 0 (0: a data key is never reused)",
                    ));
                }
                v => v.unwrap_or(defaults.max_age_ms),
            },
            max_messages: x.max_messages.unwrap_or(defaults.max_messages),
            max_bytes: x.max_bytes.unwrap_or(defaults.max_bytes),
            max_entries: x.max_entries.unwrap_or(defaults.max_entries),
        },
    };
    let mut config = KeySealConfig::new(services);
    config.cache = cache;
    config.wrap_mode = match o.wrap_mode {
        Some(WrapModeOption::PublicKey) => WrapMode::PublicKey,
        _ => WrapMode::KeyService,
    };
    config.segment_size = o.segment_size.unwrap_or(keyseal::DEFAULT_SEGMENT_SIZE);
    // An instance that writes public-key entries reads them too, unless told otherwise.
    config.decrypt = DecryptPolicy {
        allow_key_ids: o.decrypt.allow_key_ids,
        accept_public_key_entries: o
            .decrypt
            .accept_public_key_entries
            .unwrap_or(config.wrap_mode == WrapMode::PublicKey),
    };
    let sdk = KeySeal::new(config, clock, observer).map_err(js_error)?;
    Ok(Built {
        sdk,
        engine: o.engine,
        p256,
    })
}
