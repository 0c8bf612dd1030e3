//! Which adapter syncs a calendar, built with what it needs: the shared feed client for iCal
//! feeds, the record's decrypted secrets for the providers that sign in.
use std::sync::Arc;

use crate::crypto::Keyring;
use crate::db::Conn;
use crate::domain::integrations::{self, Integration, IntegrationType};
use crate::domain::now;
use crate::providers::fetch::FeedClient;
use crate::providers::ical_feed::{IcalFeed, ReadLimits};
use crate::providers::google::{self, GoogleCalendar};
use crate::providers::{ErrorKind, Provider, ProviderError, Secrets};

pub struct Adapters {
    pub feeds: Arc<FeedClient>,
    pub keys: Keyring,
    pub read: ReadLimits,
    /// For the providers' APIs, at operator-set addresses (trusted: no address guard).
    pub api: reqwest::Client,
    pub google: google::Endpoints,
}

impl Adapters {
    pub fn new(feeds: Arc<FeedClient>, keys: Keyring, read: ReadLimits, settings: &crate::sync::Settings) -> Adapters {
        let api = reqwest::Client::builder()
            .timeout(settings.provider_timeout)
            .connect_timeout(settings.provider_timeout)
            .user_agent(concat!("calsync/", env!("CARGO_PKG_VERSION")))
            .build()
            .unwrap_or_default();
        Adapters { feeds, keys, read, api, google: settings.google.clone() }
    }

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
                let access_token = match secrets.access_token {
                    Some(token) if !integration.token_expired(now()) => token,
                    _ => {
                        return Err(ProviderError::new(
                            ErrorKind::Unauthorized,
                            "The access token has expired and cannot be refreshed. Reconnect the calendar.",
                        ))
                    }
                };
                let calendar_id = integration
                    .calendar_id
                    .clone()
                    .filter(|c| !c.trim().is_empty())
                    .ok_or_else(|| ProviderError::new(ErrorKind::Invalid, "This calendar has no Calendar ID. Reconnect it to pick the calendar again."))?;
                match other {
                    IntegrationType::Google => Ok(Box::new(GoogleCalendar {
                        client: self.api.clone(),
                        api: self.google.api.clone(),
                        calendar_id,
                        access_token,
                        floating: integration.tz(),
                        limits: self.read,
                    })),
                    _ => Err(ProviderError::new(
                        ErrorKind::Invalid,
                        format!("Syncing {} calendars is not available in this version yet; Google Calendar and iCal feeds sync today.", other.as_str()),
                    )),
                }
            }
        }
    }
}
