//! argon2id password hashing, always off the async runtime (a hash takes tens of milliseconds
//! and 19 MiB), at most one per core at a time: 500 parallel sign-ins queue for a permit instead
//! of taking 10 GB and every blocking thread.
use argon2::{
    password_hash::{rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString},
    Algorithm, Argon2, Params, Version,
};
use std::sync::OnceLock;
use tokio::sync::Semaphore;

fn hashing_slots() -> &'static Semaphore {
    static SLOTS: OnceLock<Semaphore> = OnceLock::new();
    SLOTS.get_or_init(|| Semaphore::new(std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2)))
}

/// Is this one of the most common passwords found in breaches? zxcvbn carries the 30,000 most
/// common (from the Xato dump) and knows how attackers bend them (l33t, a repeat, digits
/// appended, keyboard walks); a password it expects to fall within the first 100,000 guesses of
/// such an attack is one of them, or as good as one ("qwertyuiop12", "passwordpassword").
pub fn is_common(password: &str) -> bool {
    // The list's entries are short and zxcvbn's cost grows with the length: a long password is
    // judged by its first 64 characters.
    let head: String = password.chars().take(64).collect();
    zxcvbn::zxcvbn(&head, &[]).guesses() <= 100_000
}

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
    let _slot = hashing_slots().acquire().await.expect("the hashing semaphore is never closed");
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut OsRng);
        hasher(cost).hash_password(password.as_bytes(), &salt).expect("argon2 hashing of a bounded password cannot fail").to_string()
    })
    .await
    .expect("hashing task panicked")
}

/// Verifies `password` against a stored hash. With `None` (unknown user) it verifies against a
/// dummy hash of the same cost, so an unknown address takes as long as a wrong password.
pub async fn verify(cost: Cost, password: String, stored: Option<String>) -> bool {
    let _slot = hashing_slots().acquire().await.expect("the hashing semaphore is never closed");
    tokio::task::spawn_blocking(move || {
        let known = stored.is_some();
        let stored = stored.unwrap_or_else(|| dummy_hash(cost).to_string());
        let Ok(parsed) = PasswordHash::new(&stored) else {
            return false;
        };
        // Verify with the parameters in the hash itself (older hashes keep working).
        let ok = Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok();
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
        hasher(cost).hash_password(b"calsync-dummy-password", &salt).expect("argon2 hashing of a constant cannot fail").to_string()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn common_passwords_are_known() {
        for common in ["1qaz2wsx3edc", "qwertyuiop12", "QWERTYUIOP12", "123456789012", "password1234", "passwordpassword", "q1w2e3r4t5y6"] {
            assert!(is_common(common), "{common}");
        }
        for rare in ["correct horse battery", "admin password 1", "right password", "whatever pass", "tangerine-otter-47-glide"] {
            assert!(!is_common(rare), "{rare}");
        }
    }

    #[tokio::test]
    async fn hash_verifies_and_rejects() {
        let h = hash(Cost::Test, "correct horse".into()).await;
        assert!(h.starts_with("$argon2id$"));
        assert!(verify(Cost::Test, "correct horse".into(), Some(h.clone())).await);
        assert!(!verify(Cost::Test, "wrong".into(), Some(h)).await);
        assert!(!verify(Cost::Test, "calsync-dummy-password".into(), None).await);
    }
}
