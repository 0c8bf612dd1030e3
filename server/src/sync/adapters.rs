//! Which adapter syncs a calendar, built with what it needs: the shared feed client for iCal
//! feeds, the record's decrypted secrets for the providers that sign in.
use std::sync::Arc;

use crate::crypto::Keyring;
use crate::crypto::Secret;
use crate::db::Conn;
use crate::domain::accounts;
use crate::domain::integrations::{self, Integration, IntegrationType};
use crate::domain::now;
use crate::providers::fetch::FeedClient;
use crate::providers::google::{self, GoogleCalendar};
use crate::providers::ical_feed::{IcalFeed, ReadLimits};
use crate::providers::oauth::OAuthClient;
use crate::providers::{ErrorKind, Provider, ProviderError, Secrets};

pub struct Adapters {
    pub feeds: Arc<FeedClient>,
    pub keys: Keyring,
    pub read: ReadLimits,
    /// For the providers' APIs, at operator-set addresses (trusted: no address guard).
    pub api: reqwest::Client,
    /// For token endpoints (no redirects).
    pub oauth_http: reqwest::Client,
    pub google: google::Endpoints,
    pub outlook: crate::providers::outlook::Endpoints,
    pub repair_every: std::time::Duration,
}

impl Adapters {
    pub fn new(feeds: Arc<FeedClient>, keys: Keyring, read: ReadLimits, settings: &crate::sync::Settings) -> Adapters {
        let api = crate::providers::http::client(settings.provider_timeout);
        let oauth_http = crate::providers::oauth::http_client(settings.provider_timeout);
        Adapters { feeds, keys, read, api, oauth_http, google: settings.google.clone(), outlook: settings.outlook.clone(), repair_every: settings.repair_every }
    }

    /// The decrypted secrets of a record, for the adapters that sign in. A calendar connected
    /// through an account gets the account's access token, refreshed when it expires within
    /// five minutes or when the provider just refused `refused`.
    pub async fn secrets(
        &self,
        conn: &mut Conn<'_>,
        integration: &Integration,
        refused: Option<&Secret>,
    ) -> crate::domain::Result<Result<Secrets, ProviderError>> {
        let Some(account) = integration.account_id else {
            let (access_token, refresh_token) = integrations::secrets_of(conn, &self.keys, integration).await?;
            return Ok(Ok(Secrets { access_token, refresh_token, current: false }));
        };
        let token = self.account_token(conn, integration.integration_type, account, refused).await?;
        Ok(token.map(|access| Secrets { access_token: Some(access), refresh_token: None, current: true }))
    }

    /// A good access token of a provider account: the stored one, or refreshed.
    pub async fn account_token(
        &self,
        conn: &mut Conn<'_>,
        provider: IntegrationType,
        account: i64,
        refused: Option<&Secret>,
    ) -> crate::domain::Result<Result<Secret, ProviderError>> {
        accounts::access_token(conn, &self.keys, account, chrono::Duration::minutes(5), refused, |r| self.refresh(provider, r)).await
    }

    /// The OAuth client of a provider, when calsync has one there.
    pub fn oauth(&self, provider: IntegrationType) -> Option<OAuthClient> {
        match provider {
            IntegrationType::Google => self.google.oauth(),
            IntegrationType::Outlook => self.outlook.oauth(),
            IntegrationType::Ical => None,
        }
    }

    async fn refresh(&self, provider: IntegrationType, refresh_token: Secret) -> Result<accounts::Grant, ProviderError> {
        let oauth = self.oauth(provider).ok_or_else(|| {
            ProviderError::new(
                ErrorKind::Invalid,
                format!("calsync has no OAuth client for {} to refresh the access token. Ask the administrator to configure one.", provider.as_str()),
            )
        })?;
        let tokens = oauth.refresh(&self.oauth_http, &refresh_token).await?;
        Ok(accounts::Grant {
            access_token: tokens.access_token,
            refresh_token: tokens.refresh_token,
            expiry: tokens.expires_in.and_then(|d| chrono::Duration::from_std(d).ok()).map(|d| now() + d),
        })
    }

    pub fn needs_secrets(integration: &Integration) -> bool {
        integration.integration_type != IntegrationType::Ical
    }

    pub fn build(
        &self,
        integration: &Integration,
        secrets: Secrets,
        owner: crate::busy::Owner,
        pacer: std::sync::Arc<crate::providers::pace::Pacer>,
    ) -> Result<Box<dyn Provider>, ProviderError> {
        match integration.integration_type {
            IntegrationType::Ical => {
                let url = integration
                    .feed_url(&self.keys)
                    .map_err(|_| ProviderError::new(ErrorKind::Invalid, "The iCal URL could not be read with the configured keys."))?
                    .ok_or_else(|| ProviderError::new(ErrorKind::Invalid, "This calendar has no iCal URL. Add it in the calendar's settings."))?;
                Ok(Box::new(IcalFeed { client: self.feeds.clone(), url, floating: integration.tz(), limits: self.read, owner }))
            }
            other => {
                let access_token = match secrets.access_token {
                    Some(token) if secrets.current || !integration.token_expired(now()) => token,
                    _ => {
                        return Err(ProviderError::new(
                            ErrorKind::Unauthorized,
                            "The access token has expired and cannot be refreshed. Reconnect the calendar.",
                        ))
                    }
                };
                // Saved without a Calendar ID: the account's primary calendar, as the record's
                // warning says (Google: `primary`; Graph: `/me/calendar`, from an empty id).
                let calendar_id = integration.calendar_id.clone().filter(|c| !c.trim().is_empty()).unwrap_or_default();
                match other {
                    IntegrationType::Google => Ok(Box::new(GoogleCalendar {
                        client: self.api.clone(),
                        api: self.google.api.clone(),
                        calendar_id: google::calendar_or_primary(&calendar_id).to_owned(),
                        access_token,
                        floating: integration.tz(),
                        limits: self.read,
                        repair_every: self.repair_every,
                        pacer,
                        owner,
                    })),
                    IntegrationType::Outlook => Ok(Box::new(crate::providers::outlook::OutlookCalendar {
                        client: self.api.clone(),
                        graph: self.outlook.graph.clone(),
                        calendar_id,
                        access_token,
                        repair_every: self.repair_every,
                        pacer,
                    })),
                    IntegrationType::Ical => Err(ProviderError::new(ErrorKind::Invalid, "An iCal feed has no sign-in.")),
                }
            }
        }
    }
}
