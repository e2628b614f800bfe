//! The JSON configuration the JS layer passes in, and building the core SDK from it.

use std::rc::Rc;

use js_sys::Function;
use keyseal::{
    CacheConfig, KeySeal, KeySealConfig, KmsClient, KmsClientConfig, Observer, RetryPolicy, ServiceBinding,
    WrapMode,
};
use serde::Deserialize;
use wasm_bindgen::JsValue;

use crate::platform::{FetchTransport, JsClock, JsTokens};

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Service {
    id: String,
    urls: Vec<String>,
    key_id: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Cache {
    max_age_ms: f64,
    max_messages: u64,
    max_bytes: u64,
    max_entries: Option<usize>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct Retry {
    attempt_timeout_ms: Option<u64>,
    deadline_ms: Option<u64>,
    max_rounds: Option<u32>,
    backoff_base_ms: Option<u64>,
    backoff_max_ms: Option<u64>,
    breaker_threshold: Option<u32>,
    breaker_cooldown_ms: Option<u64>,
}

/// What `KeySealCore::new` accepts (the JS layer builds it from the user's options).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Config {
    services: Vec<Service>,
    /// `null` disables caching.
    cache: Option<Cache>,
    #[serde(default)]
    retry: Retry,
    #[serde(default)]
    wrap_mode: Option<String>,
    #[serde(default)]
    allow_plaintext_keys: bool,
    segment_size: Option<u32>,
    reason: Option<String>,
}

pub(crate) fn build(json: &str, token: Function, on_event: Option<Function>) -> Result<KeySeal, JsValue> {
    let c: Config = serde_json::from_str(json).map_err(|e| {
        crate::js_error(&keyseal::FormatError::InvalidArgument {
            reason: "invalid options",
        })
        .tap_message(&e.to_string())
    })?;
    let d = RetryPolicy::default();
    let r = &c.retry;
    let policy = RetryPolicy {
        attempt_timeout_ms: r.attempt_timeout_ms.unwrap_or(d.attempt_timeout_ms),
        deadline_ms: r.deadline_ms.unwrap_or(d.deadline_ms),
        max_rounds: r.max_rounds.unwrap_or(d.max_rounds),
        backoff_base_ms: r.backoff_base_ms.unwrap_or(d.backoff_base_ms),
        backoff_max_ms: r.backoff_max_ms.unwrap_or(d.backoff_max_ms),
        breaker_threshold: r.breaker_threshold.unwrap_or(d.breaker_threshold),
        breaker_cooldown_ms: r.breaker_cooldown_ms.unwrap_or(d.breaker_cooldown_ms),
    };
    let sink: Option<keyseal::events::EventSink> = on_event.map(|f| {
        Box::new(move |e: &keyseal::Event| {
            if let Ok(s) = serde_json::to_string(e) {
                let _ = f.call1(&JsValue::NULL, &JsValue::from_str(&s));
            }
        }) as keyseal::events::EventSink
    });
    let observer = Rc::new(Observer::with_sink(sink));
    let clock: Rc<dyn keyseal::Clock> = Rc::new(JsClock);
    let transport: Rc<dyn keyseal::HttpTransport> = Rc::new(FetchTransport);
    let tokens: Rc<dyn keyseal::TokenSource> = Rc::new(JsTokens(token));
    let mut services = Vec::new();
    for s in c.services {
        let client = KmsClient::new(
            KmsClientConfig {
                id: s.id,
                urls: s.urls,
                policy,
                allow_plaintext_keys: c.allow_plaintext_keys,
                reason: c.reason.clone(),
            },
            transport.clone(),
            clock.clone(),
            tokens.clone(),
            observer.clone(),
        )
        .map_err(|e| crate::js_error(&e))?;
        services.push(ServiceBinding {
            service: Rc::new(client),
            key_id: s.key_id,
        });
    }
    let cache = match c.cache {
        None => CacheConfig::disabled(),
        Some(x) => CacheConfig {
            max_age_ms: x.max_age_ms,
            max_messages: x.max_messages,
            max_bytes: x.max_bytes,
            max_entries: x.max_entries.unwrap_or(CacheConfig::default().max_entries),
        },
    };
    let wrap_mode = match c.wrap_mode.as_deref() {
        None | Some("key-service") => WrapMode::KeyService,
        Some("public-key") => WrapMode::PublicKey,
        Some(_) => {
            return Err(crate::js_error(&keyseal::FormatError::InvalidArgument {
                reason: "wrapMode must be 'key-service' or 'public-key'",
            }));
        }
    };
    KeySeal::new(
        KeySealConfig {
            services,
            cache,
            wrap_mode,
            segment_size: c.segment_size.unwrap_or(keyseal::DEFAULT_SEGMENT_SIZE),
            engine: Box::new(keyseal::RustCryptoEngine),
        },
        clock,
        observer,
    )
    .map_err(|e| crate::js_error(&e))
}

trait TapMessage {
    fn tap_message(self, detail: &str) -> JsValue;
}
impl TapMessage for JsValue {
    fn tap_message(self, detail: &str) -> JsValue {
        let msg = format!("invalid argument: invalid options: {detail}");
        let _ = js_sys::Reflect::set(&self, &"message".into(), &msg.into());
        self
    }
}
