//! What a page says after a form posted without JavaScript brought the browser to it: kept in
//! the session (see `server::sessions::put_flash`); the address carries only its id.
use crate::error::{AppError, FieldMessage};
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Flash {
    pub messages: Vec<String>,
    pub warnings: Vec<FieldMessage>,
    pub error: Option<AppError>,
    /// The values typed into the refused form, by field name: nothing typed is lost.
    pub values: Vec<(String, String)>,
}

impl Flash {
    pub fn value(&self, field: &str) -> Option<String> {
        self.values.iter().find(|(k, _)| k == field).map(|(_, v)| v.clone())
    }
}

/// The flash this session keeps under `id` (none for an id it does not know).
#[server]
pub async fn get_flash(id: String) -> Result<Option<Flash>, AppError> {
    let session = super::ctx::session().await?;
    Ok(server::sessions::flash(&session, &id).await)
}
