//! The JWT signing key and access tokens. Without a configured `auth.jwt_secret`, a random key is generated
//! once and kept in `<data_dir>/secrets/jwt.key` (mode 0600): restarts keep sessions valid, and no two
//! installs ever share a built-in default.

use anyhow::Context;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::views::Role;
use crate::config::{Settings, secret_opt};
use crate::platform::signing;

/// What an access token says. Short-lived (15 min by default), so it is trusted without a database read.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    /// The user id.
    pub sub: Uuid,
    pub org: Uuid,
    pub role: Role,
    pub exp: i64,
    pub iat: i64,
    /// When it was issued, to the millisecond: a token issued before its person's access changed (a role change,
    /// a deactivation, a sign-out everywhere) is refused although it has not expired. Absent in older tokens (0).
    #[serde(default)]
    pub iat_ms: i64,
    pub jti: Uuid,
}

pub struct JwtKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    ttl_secs: i64,
}

impl JwtKeys {
    pub fn load(settings: &Settings) -> anyhow::Result<Self> {
        let secret = match secret_opt(&settings.auth.jwt_secret) {
            Some(secret) => secret.as_bytes().to_vec(),
            None => signing::load_or_create_key(&settings.server.data_dir.join("secrets").join("jwt.key"))?,
        };
        anyhow::ensure!(secret.len() >= 32, "auth.jwt_secret must be at least 32 bytes");
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 5;
        validation.set_required_spec_claims(&["exp", "sub"]);
        Ok(Self {
            encoding: EncodingKey::from_secret(&secret),
            decoding: DecodingKey::from_secret(&secret),
            validation,
            ttl_secs: settings.auth.access_token_ttl_secs,
        })
    }

    pub fn ttl_secs(&self) -> i64 {
        self.ttl_secs
    }

    pub fn issue(&self, user: Uuid, org: Uuid, role: Role) -> anyhow::Result<String> {
        let now_ms = chrono::Utc::now().timestamp_millis();
        let now = now_ms.div_euclid(1000);
        let claims =
            Claims { sub: user, org, role, iat: now, iat_ms: now_ms, exp: now + self.ttl_secs, jti: Uuid::new_v4() };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding).context("signing a token")
    }

    pub fn verify(&self, token: &str) -> Result<Claims, jsonwebtoken::errors::Error> {
        jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation).map(|data| data.claims)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_key_is_kept_and_reused_and_tokens_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let settings = crate::config::defaults(dir.path()).unwrap();
        let keys = JwtKeys::load(&settings).unwrap();
        let key_file = dir.path().join("secrets/jwt.key");
        assert_eq!(std::fs::read(&key_file).unwrap().len(), 64);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(&key_file).unwrap().permissions().mode() & 0o777, 0o600);
        }
        let (user, org) = (Uuid::new_v4(), Uuid::new_v4());
        let token = keys.issue(user, org, Role::Teacher).unwrap();
        let again = JwtKeys::load(&settings).unwrap();
        let claims = again.verify(&token).unwrap();
        assert_eq!((claims.sub, claims.org, claims.role), (user, org, Role::Teacher));

        let other = tempfile::tempdir().unwrap();
        let stranger = JwtKeys::load(&crate::config::defaults(other.path()).unwrap()).unwrap();
        assert!(stranger.verify(&token).is_err(), "another install's key must not verify our tokens");
    }
}
