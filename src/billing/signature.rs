//! Stripe's webhook signature: `Stripe-Signature: t=TIMESTAMP,v1=HEX[,v1=HEX…][,v0=…]`, where each `v1` is
//! HMAC-SHA256 of `"{t}.{raw body}"` under the endpoint's secret. Several `v1` appear while a secret is being
//! rolled; any one matching is enough. The timestamp bounds replays of a captured request.

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// Why a signature was refused (all answer the same 400; the reason is logged).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("the Stripe-Signature header is missing or malformed")]
    Malformed,
    #[error("the signed timestamp is outside the tolerance")]
    Stale,
    #[error("no v1 signature matches")]
    Mismatch,
}

/// The header's parts: the timestamp and every `v1` signature, decoded. Unknown schemes are ignored.
pub fn parse(header: &str) -> Result<(i64, Vec<Vec<u8>>), SignatureError> {
    let mut timestamp = None;
    let mut signatures = Vec::new();
    // A real header has a few parts; a hostile one is not walked past a bound.
    for part in header.split(',').take(32) {
        let Some((key, value)) = part.trim().split_once('=') else { continue };
        match key {
            "t" => timestamp = Some(value.parse::<i64>().map_err(|_| SignatureError::Malformed)?),
            "v1" => {
                if let Ok(bytes) = hex::decode(value)
                    && bytes.len() == 32
                {
                    signatures.push(bytes);
                }
            }
            _ => {}
        }
    }
    match (timestamp, signatures.is_empty()) {
        (Some(t), false) => Ok((t, signatures)),
        _ => Err(SignatureError::Malformed),
    }
}

/// Checks `header` against `body` and `secret` at `now` (Unix seconds).
pub fn verify(header: &str, body: &[u8], secret: &str, now: i64, tolerance_secs: u64) -> Result<(), SignatureError> {
    let (timestamp, signatures) = parse(header)?;
    if now.abs_diff(timestamp) > tolerance_secs {
        return Err(SignatureError::Stale);
    }
    // `verify_slice` compares in constant time.
    let matches = signatures.iter().any(|candidate| mac(secret, timestamp, body).verify_slice(candidate).is_ok());
    if matches { Ok(()) } else { Err(SignatureError::Mismatch) }
}

fn mac(secret: &str, timestamp: i64, body: &[u8]) -> Hmac<Sha256> {
    // HMAC accepts a key of any length (a longer one is hashed first), so this cannot fail.
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap_or_else(|_| Hmac::<Sha256>::new(&Default::default()));
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac
}

/// The `v1` signature of `body` at `timestamp` (hex), as Stripe computes it: for tests and the fake Stripe.
pub fn sign(secret: &str, timestamp: i64, body: &[u8]) -> String {
    hex::encode(mac(secret, timestamp, body).finalize().into_bytes())
}

/// A whole `Stripe-Signature` header for `body`.
pub fn header(secret: &str, timestamp: i64, body: &[u8]) -> String {
    format!("t={timestamp},v1={}", sign(secret, timestamp, body))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "whsec_test";
    const BODY: &[u8] = br#"{"id":"evt_1","type":"invoice.paid"}"#;

    #[test]
    fn a_fresh_signature_by_the_secret_passes() {
        let now = 1_800_000_000;
        assert_eq!(verify(&header(SECRET, now, BODY), BODY, SECRET, now + 10, 300), Ok(()));
    }

    #[test]
    fn any_of_several_v1_signatures_may_match() {
        let now = 1_800_000_000;
        let good = sign(SECRET, now, BODY);
        let other = sign("whsec_old", now, BODY);
        let header = format!("t={now},v1={other},v0=abc,v1={good}");
        assert_eq!(verify(&header, BODY, SECRET, now, 300), Ok(()));
    }

    #[test]
    fn wrong_secret_stale_time_changed_body_and_garbage_fail() {
        let now = 1_800_000_000;
        let signed = header(SECRET, now, BODY);
        assert_eq!(verify(&signed, BODY, "whsec_other", now, 300), Err(SignatureError::Mismatch));
        assert_eq!(verify(&signed, b"{}", SECRET, now, 300), Err(SignatureError::Mismatch));
        assert_eq!(verify(&signed, BODY, SECRET, now + 301, 300), Err(SignatureError::Stale));
        assert_eq!(verify(&signed, BODY, SECRET, now - 301, 300), Err(SignatureError::Stale));
        for garbage in ["", "t=", "v1=00", "t=abc,v1=00", &format!("t={now}"), &format!("t={now},v1=zz")] {
            assert_eq!(verify(garbage, BODY, SECRET, now, 300), Err(SignatureError::Malformed), "{garbage}");
        }
    }

    #[test]
    fn arbitrary_headers_never_panic() {
        let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
        for _ in 0..20_000 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let bytes: Vec<u8> = (0..(seed % 90)).map(|i| b"t=v1,0af9 ="[((seed >> (i % 60)) % 11) as usize]).collect();
            let header = String::from_utf8_lossy(&bytes);
            let _ = verify(&header, BODY, SECRET, 1, 300);
        }
    }

    /// Damaged headers and bodies: never a panic, and nothing but the signed body under an untouched signature
    /// verifies.
    #[test]
    fn fuzz_headers_and_bodies() {
        use crate::platform::mutate;
        let body = br#"{"id":"evt_1","type":"invoice.paid","created":1700000000}"#.to_vec();
        let good = header("whsec_test", 1_700_000_000, &body);
        for case in mutate::cases(21, &[good.clone().into_bytes(), b"t=1,v1=00,v0=zz".to_vec()]) {
            let text = String::from_utf8_lossy(&case);
            let _ = parse(&text);
            let verified = verify(&text, &body, "whsec_test", 1_700_000_000, 300);
            if verified.is_ok() {
                let (_, signatures) = parse(&text).unwrap();
                let (_, original) = parse(&good).unwrap();
                assert!(signatures.iter().any(|s| original.contains(s)), "{text} verified without the signature");
            }
        }
        for case in mutate::cases(22, std::slice::from_ref(&body)) {
            let verified = verify(&good, &case, "whsec_test", 1_700_000_000, 300);
            assert_eq!(verified.is_ok(), case == body, "a changed body never verifies");
        }
    }
}
