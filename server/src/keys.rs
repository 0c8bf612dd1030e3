//! Where the token-encryption keys come from, the start-up check that they open every stored
//! secret, and rotation. See api.md "Keys".
use crate::{
    config::Config,
    crypto::{self, CryptoError, KeySource, Keyring},
    db::Pool,
    domain::integrations,
};

/// Loads the keys: `CALSYNC_SECRET_KEYS`, else the key file, else — only while the database
/// holds no secrets — a new key file. Fails with a message naming the key id that is missing or
/// wrong, rather than ever reading garbage.
pub async fn load(config: &Config, pool: &Pool) -> Result<(Keyring, KeySource), String> {
    let mut pooled = pool.get().await.map_err(|e| e.to_string())?;
    let mut conn = pooled.conn();
    let file = crypto::key_file(&config.data_dir);
    let (ring, source) = if let Some(list) = &config.secret_keys {
        (Keyring::from_list(list.expose()).map_err(|e| format!("CALSYNC_SECRET_KEYS: {e}"))?, KeySource::Env)
    } else if let Some(ring) = crypto::read_key_file(&file).map_err(|e| e.to_string())? {
        (ring, KeySource::File(file.clone()))
    } else {
        let stored = integrations::stored_secrets(&mut conn).await.map_err(|e| e.to_string())?;
        if let Some((_, _, _, value)) = stored.first() {
            let id = crypto::key_id_of(value).unwrap_or("?");
            return Err(format!(
                "the database holds encrypted secrets (tokens, feed URLs; key '{id}') but no keys are configured: set CALSYNC_SECRET_KEYS or restore {}",
                file.display()
            ));
        }
        let ring = Keyring::new(vec![crypto::KeyEntry::generate("k1")]).map_err(|e| e.to_string())?;
        crypto::write_key_file(&file, &ring).map_err(|e| e.to_string())?;
        tracing::info!(file = %file.display(), "generated a token-encryption key; back it up with the database");
        (ring, KeySource::File(file))
    };
    integrations::verify_keys(&mut conn, &ring).await.map_err(|e| match e {
        CryptoError::MissingKey(id) => format!(
            "stored tokens need key '{id}', which is not configured: add it to {}",
            match &source {
                KeySource::Env => "CALSYNC_SECRET_KEYS".to_string(),
                KeySource::File(f) => f.display().to_string(),
            }
        ),
        other => other.to_string(),
    })?;
    let sealed = integrations::seal_plain_feed_urls(&mut conn, &ring).await.map_err(|e| e.to_string())?;
    if sealed > 0 {
        tracing::info!(count = sealed, "encrypted feed addresses stored in the clear");
    }
    Ok((ring, source))
}

/// What `calsync keys rotate` did.
pub struct Rotation {
    pub new_key_id: String,
    pub reencrypted: usize,
    /// With keys from the environment: the value the operator must set everywhere.
    pub env_value: Option<String>,
}

/// Adds a new key in front and re-encrypts every stored secret with it.
pub async fn rotate(config: &Config, pool: &Pool) -> Result<Rotation, String> {
    let (ring, source) = load(config, pool).await?;
    let next = ring.rotated();
    if let KeySource::File(path) = &source {
        // The file first: if re-encryption fails, the old key is still there to read with.
        crypto::write_key_file(path, &next).map_err(|e| e.to_string())?;
    }
    let mut pooled = pool.get().await.map_err(|e| e.to_string())?;
    let reencrypted = integrations::reencrypt_all(&mut pooled.conn(), &next).await.map_err(|e| e.to_string())?;
    let detail = format!("new key {}, {reencrypted} secrets re-encrypted", next.current().id);
    crate::domain::audit::record(&mut pooled.conn(), crate::domain::audit::Kind::KeysRotated, &crate::domain::audit::By::cli(), None, &detail)
        .await
        .map_err(|e| e.to_string())?;
    Ok(Rotation { new_key_id: next.current().id.clone(), reencrypted, env_value: matches!(source, KeySource::Env).then(|| next.to_list()) })
}
