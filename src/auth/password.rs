//! Password policy and hashing. Hashing is argon2id with the crate's defaults (19 MiB, 2 passes), run on the
//! blocking pool so a burst of logins never stalls the request threads.

use anyhow::Context;
use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString, rand_core::OsRng};
use zxcvbn::Score;

pub const MIN_LENGTH: usize = 10;
/// Longer passwords are refused everywhere, sign-in included, before any hashing: argon2 over a megabyte is a
/// cheap way to burn a server's CPU.
pub const MAX_LENGTH: usize = 256;

/// `Err` names the rule the password breaks, for the client to show as is.
pub fn check_policy(password: &str, hints: &[&str]) -> Result<(), String> {
    let length = password.chars().count();
    if length < MIN_LENGTH {
        return Err(format!("password must be at least {MIN_LENGTH} characters long"));
    }
    if length > MAX_LENGTH {
        return Err(format!("password must be at most {MAX_LENGTH} characters long"));
    }
    let estimate = zxcvbn::zxcvbn(password, hints);
    if estimate.score() < Score::Three {
        let why = estimate.feedback().and_then(|f| f.warning()).map(|w| format!(" ({w})")).unwrap_or_default();
        return Err(format!(
            "password is too easy to guess{why}: use a longer phrase of unrelated words, not a name or a common word"
        ));
    }
    Ok(())
}

pub async fn hash(password: String) -> anyhow::Result<String> {
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut OsRng);
        Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| anyhow::anyhow!("hashing a password: {e}"))
    })
    .await
    .context("password hashing task")?
}

pub async fn verify(password: String, stored: String) -> anyhow::Result<bool> {
    tokio::task::spawn_blocking(move || {
        let parsed = PasswordHash::new(&stored).map_err(|e| anyhow::anyhow!("stored hash is malformed: {e}"))?;
        Ok(Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok())
    })
    .await
    .context("password verification task")?
}

/// A valid argon2id hash of a random password: verifying against it when the email is unknown makes a failed
/// login take as long as a wrong password, so timing does not reveal which emails have accounts.
pub fn decoy_hash() -> &'static str {
    "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$3QXQq6N0gCRu6ZpJn0VY1kT9y9ZyqXo5tP3m8c0Gm2A"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy_refuses_short_and_common_passwords_and_names_the_rule() {
        assert!(check_policy("password", &[]).unwrap_err().contains("at least 10"));
        assert!(check_policy("password123", &[]).unwrap_err().contains("too easy"));
        assert!(check_policy("amina.kagame@school.rw", &["amina.kagame@school.rw"]).is_err());
        assert!(check_policy("correct horse battery staple", &[]).is_ok());
    }

    #[tokio::test]
    async fn hashes_verify_only_the_right_password() {
        let stored = hash("correct horse battery staple".into()).await.unwrap();
        assert!(stored.starts_with("$argon2id$"));
        assert!(verify("correct horse battery staple".into(), stored.clone()).await.unwrap());
        assert!(!verify("correct horse battery stapler".into(), stored).await.unwrap());
        assert!(!verify("anything".into(), decoy_hash().into()).await.unwrap());
    }
}
