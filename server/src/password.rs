//! argon2id password hashing, always off the async runtime (a hash takes tens of milliseconds).
use argon2::{
    password_hash::{rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString},
    Algorithm, Argon2, Params, Version,
};
use std::sync::OnceLock;

/// How expensive a hash is. `Standard` is OWASP's argon2id baseline; `Test` keeps test suites fast.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cost {
    Standard,
    Test,
}

fn hasher(cost: Cost) -> Argon2<'static> {
    let params = match cost {
        Cost::Standard => Params::new(19 * 1024, 2, 1, None),
        Cost::Test => Params::new(64, 1, 1, None),
    }
    .expect("argon2 parameters are constants");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

pub async fn hash(cost: Cost, password: String) -> String {
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut OsRng);
        hasher(cost)
            .hash_password(password.as_bytes(), &salt)
            .expect("argon2 hashing of a bounded password cannot fail")
            .to_string()
    })
    .await
    .expect("hashing task panicked")
}

/// Verifies `password` against a stored hash. With `None` (unknown user) it verifies against a
/// dummy hash of the same cost, so an unknown address takes as long as a wrong password.
pub async fn verify(cost: Cost, password: String, stored: Option<String>) -> bool {
    tokio::task::spawn_blocking(move || {
        let known = stored.is_some();
        let stored = stored.unwrap_or_else(|| dummy_hash(cost).to_string());
        let Ok(parsed) = PasswordHash::new(&stored) else {
            return false;
        };
        // Verify with the parameters in the hash itself (older hashes keep working).
        let ok = Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok();
        ok && known
    })
    .await
    .unwrap_or(false)
}

fn dummy_hash(cost: Cost) -> &'static str {
    static STANDARD: OnceLock<String> = OnceLock::new();
    static TEST: OnceLock<String> = OnceLock::new();
    let cell = match cost {
        Cost::Standard => &STANDARD,
        Cost::Test => &TEST,
    };
    cell.get_or_init(|| {
        let salt = SaltString::generate(&mut OsRng);
        hasher(cost)
            .hash_password(b"calsync-dummy-password", &salt)
            .expect("argon2 hashing of a constant cannot fail")
            .to_string()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hash_verifies_and_rejects() {
        let h = hash(Cost::Test, "correct horse".into()).await;
        assert!(h.starts_with("$argon2id$"));
        assert!(verify(Cost::Test, "correct horse".into(), Some(h.clone())).await);
        assert!(!verify(Cost::Test, "wrong".into(), Some(h)).await);
        assert!(!verify(Cost::Test, "calsync-dummy-password".into(), None).await);
    }
}
