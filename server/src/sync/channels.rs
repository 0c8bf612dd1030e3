//! Push channels: opening and renewing a calendar's channel after a sync, stopping it, and
//! believing a notification only from a known channel with its token.
use super::*;

impl Engine {
    /// After a successful sync of a Google calendar: makes sure a push channel is open and
    /// not within a day of its end (a new one first, then the old one stopped). Failures are
    /// logged: polling carries on regardless.
    pub(super) async fn keep_channel(&self, integration: &Integration) {
        use crate::domain::webhooks;
        let Some(base) = &self.inner.settings.webhook_base else { return };
        if !integration.integration_type.is_oauth() {
            return;
        }
        let result: std::result::Result<(), String> = async {
            let mut pooled = self.conn().await.map_err(|e| e.to_string())?;
            let channels = webhooks::of(&mut pooled.conn(), integration.id).await.map_err(|e| e.to_string())?;
            if channels.as_slice().first().is_some_and(|c| c.expires_at > now() + Duration::days(1)) {
                return Ok(());
            }
            let secrets = self.inner.adapters.secrets(&mut pooled.conn(), integration, None).await.map_err(|e| e.to_string())?.map_err(|e| e.message)?;
            let access = secrets.access_token.ok_or("no access token")?;
            let calendar = integration.calendar_id.clone().unwrap_or_default();
            let token = crate::crypto::random_id();
            drop(pooled);
            let channel = self.open_channel(integration, &access, &calendar, base, &token).await.map_err(|e| e.message)?;
            let mut pooled = self.conn().await.map_err(|e| e.to_string())?;
            webhooks::add(&mut pooled.conn(), integration.id, &channel.id, channel.resource_id.as_deref(), &token, channel.expires_at)
                .await
                .map_err(|e| e.to_string())?;
            for old in channels {
                let _ = self.close_channel(integration, &access, &old).await;
                webhooks::remove(&mut pooled.conn(), &old.channel_id).await.map_err(|e| e.to_string())?;
            }
            Ok(())
        }
        .await;
        if let Err(e) = result {
            tracing::warn!(integration = %integration.name, error = %e, "opening a push channel failed; the calendar is polled at its interval");
        }
    }

    /// Opens a push channel at the calendar's provider (Google: events.watch; Graph: a
    /// subscription, after its validation handshake with this server).
    pub(super) async fn open_channel(
        &self,
        integration: &Integration,
        access: &Secret,
        calendar: &str,
        base: &str,
        token: &str,
    ) -> std::result::Result<crate::providers::account::Channel, ProviderError> {
        let (api, s) = (&self.inner.adapters.api, &self.inner.settings);
        match integration.integration_type {
            integrations::IntegrationType::Outlook => {
                let address = format!("{}/webhooks/microsoft", base.trim_end_matches('/'));
                crate::providers::outlook::subscribe(api, &s.outlook.graph, access, calendar, &address, token).await
            }
            _ => {
                let address = format!("{}/webhooks/google", base.trim_end_matches('/'));
                let id = format!("calsync-{}", crate::crypto::random_id());
                crate::providers::google::watch(api, &s.google.api, access, calendar, &id, &address, token).await
            }
        }
    }

    pub(super) async fn close_channel(
        &self,
        integration: &Integration,
        access: &Secret,
        c: &crate::domain::webhooks::Channel,
    ) -> std::result::Result<(), ProviderError> {
        let (api, s) = (&self.inner.adapters.api, &self.inner.settings);
        match integration.integration_type {
            integrations::IntegrationType::Outlook => crate::providers::outlook::unsubscribe(api, &s.outlook.graph, access, &c.channel_id).await,
            _ => crate::providers::google::stop(api, &s.google.api, access, &c.channel_id, c.resource_id.as_deref()).await,
        }
    }

    /// Stops a calendar's push channels at the provider (before it is deleted).
    pub(super) async fn stop_channels(&self, integration: &Integration) {
        use crate::domain::webhooks;
        let Ok(mut pooled) = self.conn().await else { return };
        let channels = webhooks::of(&mut pooled.conn(), integration.id).await.unwrap_or_default();
        if channels.is_empty() {
            return;
        }
        if let Ok(Ok(Secrets { access_token: Some(access), .. })) = self.inner.adapters.secrets(&mut pooled.conn(), integration, None).await {
            for c in &channels {
                if let Err(e) = self.close_channel(integration, &access, c).await {
                    tracing::warn!(channel = %c.channel_id, error = %e, "stopping a push channel");
                }
            }
        }
    }

    /// A push notification: `Heard::Queued` wakes the scheduler, which syncs the calendar next.
    /// `lifecycle`: a Graph lifecycle event (reauthorizationRequired, subscriptionRemoved, missed).
    pub async fn notified(&self, channel_id: &str, token: &str, change: bool) -> Result<crate::domain::webhooks::Heard> {
        self.notified_lifecycle(channel_id, token, change, None).await
    }

    pub async fn notified_lifecycle(&self, channel_id: &str, token: &str, change: bool, lifecycle: Option<&str>) -> Result<crate::domain::webhooks::Heard> {
        let mut pooled = self.conn().await?;
        let heard = match lifecycle {
            Some(event) => crate::domain::webhooks::lifecycle(&mut pooled.conn(), channel_id, token, event).await?,
            None => crate::domain::webhooks::heard(&mut pooled.conn(), channel_id, token, change).await?,
        };
        if matches!(heard, crate::domain::webhooks::Heard::Queued(_)) {
            self.inner.look_at_queue.store(true, std::sync::atomic::Ordering::SeqCst);
            self.inner.wake.notify_one();
        }
        Ok(heard)
    }
}
