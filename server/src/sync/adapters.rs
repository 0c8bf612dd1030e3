//! Which adapter syncs a calendar, built with what it needs: the shared feed client for iCal
//! feeds, the record's decrypted secrets for the providers that sign in.
use std::sync::Arc;

use crate::crypto::Keyring;
use crate::db::Conn;
use crate::domain::integrations::{self, Integration, IntegrationType};
use crate::domain::now;
use crate::providers::fetch::FeedClient;
use crate::providers::ical_feed::{IcalFeed, ReadLimits};
use crate::providers::{ErrorKind, Provider, ProviderError, Secrets};

pub struct Adapters {
    pub feeds: Arc<FeedClient>,
    pub keys: Keyring,
    pub read: ReadLimits,
}

impl Adapters {
    /// The decrypted secrets of a record, for the adapters that sign in.
    pub async fn secrets(&self, conn: &mut Conn<'_>, integration: &Integration) -> crate::domain::Result<Secrets> {
        let (access_token, refresh_token) = integrations::secrets_of(conn, &self.keys, integration).await?;
        Ok(Secrets { access_token, refresh_token })
    }

    pub fn needs_secrets(integration: &Integration) -> bool {
        integration.integration_type != IntegrationType::Ical
    }

    pub fn build(&self, integration: &Integration, secrets: Secrets) -> Result<Box<dyn Provider>, ProviderError> {
        match integration.integration_type {
            IntegrationType::Ical => {
                let url = integration
                    .feed_url(&self.keys)
                    .map_err(|_| ProviderError::new(ErrorKind::Invalid, "The iCal URL could not be read with the configured keys."))?
                    .ok_or_else(|| ProviderError::new(ErrorKind::Invalid, "This calendar has no iCal URL. Add it in the calendar's settings."))?;
                Ok(Box::new(IcalFeed { client: self.feeds.clone(), url, floating: integration.tz(), limits: self.read }))
            }
            other => {
                if secrets.access_token.is_none() || integration.token_expired(now()) {
                    return Err(ProviderError::new(
                        ErrorKind::Unauthorized,
                        "The access token has expired and cannot be refreshed. Reconnect the calendar.",
                    ));
                }
                Err(ProviderError::new(
                    ErrorKind::Invalid,
                    format!("Syncing {} calendars is not available in this version yet; iCal feeds sync today.", other.as_str()),
                ))
            }
        }
    }
}
