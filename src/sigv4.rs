//! AWS Signature Version 4 (the "Signing AWS API requests" spec) for the `aws-kms` kind: the
//! canonical request, the string to sign and the HMAC-SHA-256 key chain, with the hash and HMAC of
//! RustCrypto. No AWS SDK: the package signs its few KMS requests itself (docs/KEY-SERVICES.md).

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

type HmacSha256 = Hmac<Sha256>;

/// Credentials of one AWS principal. `Debug` never prints the secret or the session token.
#[derive(Clone)]
pub struct AwsCredentials {
    /// The access key id (`AKIA…`, `ASIA…`).
    pub access_key_id: String,
    /// The secret access key.
    pub secret_access_key: Zeroizing<String>,
    /// The session token of temporary credentials.
    pub session_token: Option<Zeroizing<String>>,
}

impl core::fmt::Debug for AwsCredentials {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("AwsCredentials")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"<redacted>")
            .field(
                "session_token",
                &self.session_token.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}

/// What is signed: the method, the URL's host (with a non-default port) and path, the headers
/// to sign (lowercase names; `host` is added) and the body.
pub struct SigningRequest<'a> {
    /// `POST`, `GET`.
    pub method: &'a str,
    /// The `Host` header value.
    pub host: &'a str,
    /// The URL path (`/`).
    pub path: &'a str,
    /// The query string without `?` (already canonical), usually empty.
    pub query: &'a str,
    /// Headers to sign besides `host` and `x-amz-date` (names lowercase).
    pub headers: &'a [(&'a str, &'a str)],
    /// The body.
    pub body: &'a [u8],
}

fn hex(bytes: &[u8]) -> String {
    const H: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(H[(b >> 4) as usize] as char);
        s.push(H[(b & 15) as usize] as char);
    }
    s
}

fn hmac(key: &[u8], data: &[u8]) -> Zeroizing<Vec<u8>> {
    // HMAC takes a key of any length
    let mut m = match HmacSha256::new_from_slice(key) {
        Ok(m) => m,
        Err(_) => return Zeroizing::new(Vec::new()),
    };
    m.update(data);
    Zeroizing::new(m.finalize().into_bytes().to_vec())
}

/// `YYYYMMDDTHHMMSSZ` of a Unix time in ms (UTC; proleptic Gregorian, days-to-civil).
pub fn amz_date(unix_ms: f64) -> String {
    let secs = (unix_ms / 1000.0).floor() as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}{m:02}{d:02}T{:02}{:02}{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// The `authorization` header value of `req` at `amz_date` for `region` and `service`
/// (SigV4: canonical request → string to sign → signature with the derived key).
pub fn authorization(
    creds: &AwsCredentials,
    region: &str,
    service: &str,
    amz_date: &str,
    req: &SigningRequest<'_>,
) -> String {
    let date = &amz_date[..8];
    let mut headers: Vec<(String, String)> = req
        .headers
        .iter()
        .map(|(k, v)| ((*k).to_ascii_lowercase(), String::from(v.trim())))
        .collect();
    headers.push(("host".into(), req.host.into()));
    headers.push(("x-amz-date".into(), amz_date.into()));
    headers.sort();
    let signed: Vec<&str> = headers.iter().map(|(k, _)| k.as_str()).collect();
    let signed = signed.join(";");
    let mut canonical = format!("{}\n{}\n{}\n", req.method, req.path, req.query);
    for (k, v) in &headers {
        canonical.push_str(k);
        canonical.push(':');
        canonical.push_str(v);
        canonical.push('\n');
    }
    canonical.push('\n');
    canonical.push_str(&signed);
    canonical.push('\n');
    canonical.push_str(&hex(&Sha256::digest(req.body)));
    let scope = format!("{date}/{region}/{service}/aws4_request");
    let to_sign = format!(
        "AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{}",
        hex(&Sha256::digest(canonical.as_bytes()))
    );
    let k_secret = Zeroizing::new(format!("AWS4{}", creds.secret_access_key.as_str()));
    let k_date = hmac(k_secret.as_bytes(), date.as_bytes());
    let k_region = hmac(&k_date, region.as_bytes());
    let k_service = hmac(&k_region, service.as_bytes());
    let k_signing = hmac(&k_service, b"aws4_request");
    let signature = hex(&hmac(&k_signing, to_sign.as_bytes()));
    format!(
        "AWS4-HMAC-SHA256 Credential={}/{scope}, SignedHeaders={signed}, Signature={signature}",
        creds.access_key_id
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert_eq!(amz_date(0.0), "19700101T000000Z");
        assert_eq!(amz_date(1_440_938_160_000.0), "20150830T123600Z");
        assert_eq!(amz_date(951_782_400_000.0), "20000229T000000Z");
        assert_eq!(amz_date(4_102_444_799_999.0), "20991231T235959Z");
    }

    /// AWS's SigV4 test suite, `get-vanilla` (credentials and values published with the suite).
    #[test]
    fn aws_test_suite_get_vanilla() {
        let creds = AwsCredentials {
            access_key_id: "AKIDEXAMPLE".into(),
            secret_access_key: Zeroizing::new("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY".into()),
            session_token: None,
        };
        let req = SigningRequest {
            method: "GET",
            host: "example.amazonaws.com",
            path: "/",
            query: "",
            headers: &[],
            body: b"",
        };
        let auth = authorization(&creds, "us-east-1", "service", "20150830T123600Z", &req);
        assert_eq!(
            auth,
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, \
             SignedHeaders=host;x-amz-date, \
             Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"
        );
        assert!(!format!("{creds:?}").contains("wJalr"), "Debug hides the secret");
    }
}
