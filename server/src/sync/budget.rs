//! calsync's own request budgets per provider, kept in the database so every process draws on
//! the same ones: one for the whole project (Google: 10,000 requests a minute) and one per
//! account (Google: 600 a minute per user), per providers.md; both are settings.
use std::time::Duration;

use crate::db::{dialect, Pool};
use crate::domain::now;
use crate::providers::pace::{Budget, Rate};

pub struct DbBudget {
    pub pool: Pool,
    /// (key, rate): every request takes one from each.
    pub keys: Vec<(String, Rate)>,
}

#[async_trait::async_trait]
impl Budget for DbBudget {
    async fn take(&self) -> Result<Option<Duration>, String> {
        let mut pooled = self.pool.get().await.map_err(|e| e.to_string())?;
        let mut longest: Option<Duration> = None;
        for (key, rate) in &self.keys {
            let window = chrono::Duration::from_std(rate.per).map_err(|e| e.to_string())?;
            let wait = dialect::take_budget(&mut pooled.conn(), key, rate.requests as i64, window, now()).await.map_err(|e| e.to_string())?;
            if let Some(w) = wait.and_then(|w| w.to_std().ok()) {
                longest = Some(longest.map_or(w, |l| l.max(w)));
            }
        }
        Ok(longest)
    }
}
