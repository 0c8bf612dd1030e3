//! Token secrets at rest: AES-256-GCM with a key id on every value, so keys can be rotated.
//! Stored form: `v1:{key id}:{base64(nonce ‖ ciphertext ‖ tag)}`. The associated data binds a
//! value to its record and column, so a secret copied to another row does not decrypt.
use aes_gcm::{
    aead::{Aead, AeadCore, KeyInit, OsRng, Payload},
    Aes256Gcm, Key, Nonce,
};
use base64::{engine::general_purpose::STANDARD, Engine};
use std::{
    fmt,
    path::{Path, PathBuf},
};

pub use crate::providers::secret::Secret;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CryptoError {
    #[error("stored secret is encrypted with key '{0}', which is not configured: add it to CALSYNC_SECRET_KEYS (or restore the key file)")]
    MissingKey(String),
    #[error("stored secret does not decrypt with key '{0}': the key is wrong or the value was altered")]
    Undecryptable(String),
    #[error("stored secret is not in the expected format")]
    Malformed,
    #[error("secret keys: {0}")]
    Config(String),
}

#[derive(Clone)]
pub struct KeyEntry {
    pub id: String,
    key: [u8; 32],
}

impl KeyEntry {
    pub fn generate(id: &str) -> KeyEntry {
        let key = Aes256Gcm::generate_key(OsRng);
        KeyEntry { id: id.to_string(), key: key.into() }
    }

    /// `id:base64key`
    pub fn parse(spec: &str) -> Result<KeyEntry, CryptoError> {
        let (id, b64) = spec.trim().split_once(':').ok_or_else(|| CryptoError::Config(format!("'{}' is not of the form id:base64key", redact(spec))))?;
        if id.is_empty() || !id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
            return Err(CryptoError::Config(format!("key id '{id}' must be letters, digits, '-' or '_'")));
        }
        let bytes = STANDARD.decode(b64.trim()).map_err(|_| CryptoError::Config(format!("key '{id}' is not valid base64")))?;
        let key: [u8; 32] = bytes.try_into().map_err(|_| CryptoError::Config(format!("key '{id}' must be 32 bytes (44 base64 characters)")))?;
        Ok(KeyEntry { id: id.to_string(), key })
    }

    pub fn to_spec(&self) -> String {
        format!("{}:{}", self.id, STANDARD.encode(self.key))
    }
}

fn redact(spec: &str) -> String {
    spec.split(':').next().unwrap_or("").to_string()
}

impl fmt::Debug for KeyEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyEntry({})", self.id)
    }
}

/// The configured keys, newest first; the newest encrypts, any decrypts.
#[derive(Clone, Debug)]
pub struct Keyring {
    keys: Vec<KeyEntry>,
}

impl Keyring {
    pub fn new(keys: Vec<KeyEntry>) -> Result<Keyring, CryptoError> {
        if keys.is_empty() {
            return Err(CryptoError::Config("no keys".into()));
        }
        Ok(Keyring { keys })
    }

    /// Reads `CALSYNC_SECRET_KEYS` syntax: `id:base64key,id:base64key`, newest first.
    pub fn from_list(list: &str) -> Result<Keyring, CryptoError> {
        Keyring::new(list.split(',').filter(|s| !s.trim().is_empty()).map(KeyEntry::parse).collect::<Result<_, _>>()?)
    }

    pub fn current(&self) -> &KeyEntry {
        &self.keys[0]
    }

    pub fn ids(&self) -> Vec<String> {
        self.keys.iter().map(|k| k.id.clone()).collect()
    }

    pub fn has(&self, id: &str) -> bool {
        self.keys.iter().any(|k| k.id == id)
    }

    pub fn to_list(&self) -> String {
        self.keys.iter().map(KeyEntry::to_spec).collect::<Vec<_>>().join(",")
    }

    /// A keyring with a fresh key in front; the old keys stay for reading.
    pub fn rotated(&self) -> Keyring {
        let next = (1..).map(|n| format!("k{n}")).find(|id| !self.has(id)).expect("an unused id");
        let mut keys = vec![KeyEntry::generate(&next)];
        keys.extend(self.keys.iter().cloned());
        Keyring { keys }
    }

    pub fn encrypt(&self, secret: &Secret, context: &str) -> String {
        let entry = self.current();
        let cipher = Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(&entry.key));
        let nonce = Aes256Gcm::generate_nonce(&mut OsRng);
        let ct = cipher
            .encrypt(&nonce, Payload { msg: secret.expose().as_bytes(), aad: context.as_bytes() })
            .expect("AES-GCM encryption of a bounded value cannot fail");
        let mut blob = nonce.to_vec();
        blob.extend_from_slice(&ct);
        format!("v1:{}:{}", entry.id, STANDARD.encode(blob))
    }

    pub fn decrypt(&self, stored: &str, context: &str) -> Result<Secret, CryptoError> {
        let id = key_id_of(stored).ok_or(CryptoError::Malformed)?;
        let entry = self.keys.iter().find(|k| k.id == id).ok_or_else(|| CryptoError::MissingKey(id.to_string()))?;
        let b64 = stored.splitn(3, ':').nth(2).ok_or(CryptoError::Malformed)?;
        let blob = STANDARD.decode(b64).map_err(|_| CryptoError::Malformed)?;
        if blob.len() < 12 + 16 {
            return Err(CryptoError::Malformed);
        }
        let (nonce, ct) = blob.split_at(12);
        let cipher = Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(&entry.key));
        let plain =
            cipher.decrypt(Nonce::from_slice(nonce), Payload { msg: ct, aad: context.as_bytes() }).map_err(|_| CryptoError::Undecryptable(id.to_string()))?;
        String::from_utf8(plain).map(Secret::new).map_err(|_| CryptoError::Undecryptable(id.to_string()))
    }
}

/// The key id a stored value names (`v1:{id}:…`).
pub fn key_id_of(stored: &str) -> Option<&str> {
    let mut parts = stored.splitn(3, ':');
    match (parts.next(), parts.next(), parts.next()) {
        (Some("v1"), Some(id), Some(_)) if !id.is_empty() => Some(id),
        _ => None,
    }
}

/// Where the keys come from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KeySource {
    Env,
    File(PathBuf),
}

pub fn key_file(data_dir: &Path) -> PathBuf {
    data_dir.join("secret.keys")
}

/// Reads the key file: one `id:base64key` per line, the newest last (rotation appends).
pub fn read_key_file(path: &Path) -> Result<Option<Keyring>, CryptoError> {
    match std::fs::read_to_string(path) {
        Ok(text) => {
            let mut keys: Vec<KeyEntry> =
                text.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')).map(KeyEntry::parse).collect::<Result<_, _>>()?;
            keys.reverse();
            Keyring::new(keys).map(Some)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(CryptoError::Config(format!("cannot read {}: {e}", path.display()))),
    }
}

/// Writes the key file with mode 0600 (newest last).
pub fn write_key_file(path: &Path, ring: &Keyring) -> Result<(), CryptoError> {
    use std::io::Write;
    let io = |e: std::io::Error| CryptoError::Config(format!("cannot write {}: {e}", path.display()));
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(io)?;
    }
    let tmp = path.with_extension("keys.tmp");
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    let mut f = opts.open(&tmp).map_err(io)?;
    writeln!(f, "# calsync token-encryption keys, id:base64key, the newest last. Keep secret; back up with the database.").map_err(io)?;
    for k in ring.keys.iter().rev() {
        writeln!(f, "{}", k.to_spec()).map_err(io)?;
    }
    f.sync_all().map_err(io)?;
    std::fs::rename(&tmp, path).map_err(io)
}

/// A random 128-bit id in hex (push channel ids and their tokens).
pub fn random_id() -> String {
    use rand::Rng;
    let bytes: [u8; 16] = rand::rng().random();
    hex::encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_tamper() {
        let ring = Keyring::new(vec![KeyEntry::generate("k1")]).unwrap();
        let stored = ring.encrypt(&Secret::new("ya29.token"), "access_token:MM-CI-a-0001");
        assert!(stored.starts_with("v1:k1:"));
        assert!(!stored.contains("ya29"));
        assert_eq!(ring.decrypt(&stored, "access_token:MM-CI-a-0001").unwrap().expose(), "ya29.token");
        // Moved to another record or column: refused.
        assert_eq!(ring.decrypt(&stored, "access_token:MM-CI-a-0002"), Err(CryptoError::Undecryptable("k1".into())));
        let other = Keyring::new(vec![KeyEntry::generate("k2")]).unwrap();
        assert_eq!(other.decrypt(&stored, "access_token:MM-CI-a-0001"), Err(CryptoError::MissingKey("k1".into())));
        let wrong = Keyring::new(vec![KeyEntry::generate("k1")]).unwrap();
        assert_eq!(wrong.decrypt(&stored, "access_token:MM-CI-a-0001"), Err(CryptoError::Undecryptable("k1".into())));
        assert_eq!(format!("{:?}", Secret::new("ya29")), "Secret(***)");
    }

    #[test]
    fn rotation_keeps_old_keys_for_reading() {
        let ring = Keyring::new(vec![KeyEntry::generate("k1")]).unwrap();
        let old = ring.encrypt(&Secret::new("s"), "c");
        let next = ring.rotated();
        assert_eq!(next.ids(), vec!["k2", "k1"]);
        assert!(next.encrypt(&Secret::new("s"), "c").starts_with("v1:k2:"));
        assert_eq!(next.decrypt(&old, "c").unwrap().expose(), "s");
        let parsed = Keyring::from_list(&next.to_list()).unwrap();
        assert_eq!(parsed.ids(), vec!["k2", "k1"]);
        assert!(Keyring::from_list("k1:notbase64!").is_err());
        assert!(Keyring::from_list("k1:AAAA").is_err());
    }
}
