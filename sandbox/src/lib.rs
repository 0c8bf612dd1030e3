//! The provider sandbox: a stand-in for Google Calendar v3, Microsoft Graph and their OAuth
//! servers, written from ../shared/docs/providers.md (not from our adapters), so the app can be
//! tried and tested without accounts. `calsync sandbox` runs it alone, `serve --sandbox` and the
//! tests embed it; it is its own crate so that a production build does not link it (the app's
//! `sandbox` feature brings it in for `make demo` and the browser tests).
//!
//! Its one documented deviation: it is plain http on loopback.
//!
//! Besides the provider endpoints it has an admin API under `/sandbox/` to seed accounts,
//! calendars and events, to change them as a person would in Google, and to inject faults.
// Handlers answer a refusal as the provider would, a whole Response, so it is the error type.
#![allow(clippy::result_large_err)]
pub mod google;
mod google_instances;
pub mod graph;
mod graph_series;
pub mod oauth;
mod state;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::{
    extract::{Request, State as Axum},
    http::{HeaderValue, StatusCode},
    middleware::{self, Next},
    response::{IntoResponse, Response},
    routing::{delete, get, post, put},
    Json, Router,
};
use serde::Deserialize;

pub use state::{Fault, SandboxState};

/// A random 128-bit id in hex (channel ids and tokens).
pub fn random_id() -> String {
    format!("{:032x}", rand::random::<u128>())
}

/// The OAuth client the sandbox knows (any other is refused, as a provider would).
pub const CLIENT_ID: &str = "calsync-sandbox-client";
pub const CLIENT_SECRET: &str = "calsync-sandbox-secret";

pub type Shared = Arc<Mutex<SandboxState>>;

/// A running sandbox.
#[derive(Clone)]
pub struct Sandbox {
    pub addr: SocketAddr,
    pub state: Shared,
}

impl Sandbox {
    /// Listens on `addr` (port 0: any free port) and serves until the process ends.
    pub async fn start(addr: SocketAddr) -> std::io::Result<Sandbox> {
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let state: Shared = Arc::new(Mutex::new(SandboxState::new(format!("http://{addr}"))));
        let app = router(state.clone());
        tokio::spawn(async move { axum::serve(listener, app).await });
        tokio::spawn(deliver(state.clone()));
        Ok(Sandbox { addr, state })
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The four Google endpoints, as CALSYNC_GOOGLE_*_URL take them.
    pub fn google_auth_url(&self) -> String {
        format!("{}/google/o/oauth2/v2/auth", self.url())
    }
    pub fn google_token_url(&self) -> String {
        format!("{}/google/token", self.url())
    }
    pub fn google_revoke_url(&self) -> String {
        format!("{}/google/revoke", self.url())
    }
    pub fn google_api_url(&self) -> String {
        format!("{}/google/calendar/v3", self.url())
    }

    /// `CALSYNC_MICROSOFT_LOGIN_URL`: the tenant and `/oauth2/v2.0/{authorize,token}` follow.
    pub fn microsoft_login_url(&self) -> String {
        format!("{}/microsoft", self.url())
    }
    /// `CALSYNC_MICROSOFT_GRAPH_URL`.
    pub fn graph_url(&self) -> String {
        format!("{}/graph/v1.0", self.url())
    }

    /// Locks the state (for tests and seeding).
    pub fn with<T>(&self, f: impl FnOnce(&mut SandboxState) -> T) -> T {
        f(&mut self.state.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

/// POSTs queued notifications (no body, Google's headers), as Google's push does.
async fn deliver(state: Shared) {
    let client = reqwest::Client::builder().timeout(std::time::Duration::from_secs(10)).user_agent("APIs-Google").build().unwrap_or_default();
    loop {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        let pending = std::mem::take(&mut state.lock().unwrap_or_else(|e| e.into_inner()).outbox);
        for n in pending {
            let mut request = client.post(&n.address);
            for (k, v) in &n.headers {
                request = request.header(*k, v);
            }
            if let Some(body) = n.body {
                request = request.body(body);
            }
            if let Err(e) = request.send().await {
                tracing::debug!(error = %e, address = %n.address, "sandbox: a notification was not delivered");
            }
        }
    }
}

pub fn router(state: Shared) -> Router {
    Router::new()
        .merge(google::routes())
        .merge(graph::routes())
        .merge(oauth::routes())
        .route("/sandbox/google/accounts", post(admin_account))
        .route("/sandbox/google/calendars", post(admin_calendar))
        .route("/sandbox/google/calendars/{cid}/events", get(admin_events))
        .route("/sandbox/google/calendars/{cid}/events/{eid}", put(admin_put_event).delete(admin_delete_event))
        .route("/sandbox/google/calendars/{cid}/invalidate", post(admin_invalidate))
        .route("/sandbox/google/revoke", post(admin_revoke))
        .route("/sandbox/faults", post(admin_fault).delete(admin_clear_faults))
        .route("/sandbox/faults/all", delete(admin_clear_faults))
        .layer(middleware::from_fn_with_state(state.clone(), faults))
        .with_state(state)
}

/// Injected faults answer before the real handler (the admin API is never faulted).
async fn faults(Axum(state): Axum<Shared>, request: Request, next: Next) -> Response {
    let path = request.uri().path().to_string();
    if !path.starts_with("/sandbox/") {
        let fault = state.lock().unwrap_or_else(|e| e.into_inner()).take_fault(&path);
        if let Some(fault) = fault {
            if fault.after {
                let _done = next.run(request).await;
                if let Some(delay) = fault.delay_ms {
                    tokio::time::sleep(std::time::Duration::from_millis(delay)).await;
                }
                return std::future::pending::<Response>().await;
            }
            if let Some(delay) = fault.delay_ms {
                tokio::time::sleep(std::time::Duration::from_millis(delay)).await;
            }
            if fault.status == 0 {
                // A dropped connection: no answer at all (the request times out or is reset).
                std::future::pending::<()>().await;
            }
            if fault.status >= 100 {
                let status = StatusCode::from_u16(fault.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
                let mut response = (status, fault.body.clone().unwrap_or_default()).into_response();
                let content_type = if fault.body.as_deref().is_some_and(|b| b.trim_start().starts_with('{')) { "application/json" } else { "text/html" };
                response.headers_mut().insert("content-type", HeaderValue::from_static(content_type));
                if let Some(after) = fault.retry_after {
                    response.headers_mut().insert("retry-after", HeaderValue::from(after));
                }
                return response;
            }
        }
    }
    next.run(request).await
}

#[derive(Deserialize)]
struct NewAccount {
    email: String,
}

async fn admin_account(Axum(state): Axum<Shared>, Json(a): Json<NewAccount>) -> impl IntoResponse {
    state.lock().unwrap_or_else(|e| e.into_inner()).add_account(&a.email);
    StatusCode::CREATED
}

#[derive(Deserialize)]
struct NewCalendar {
    owner: String,
    id: String,
    summary: String,
    #[serde(default = "owner_role")]
    access_role: String,
}

fn owner_role() -> String {
    "owner".into()
}

async fn admin_calendar(Axum(state): Axum<Shared>, Json(c): Json<NewCalendar>) -> impl IntoResponse {
    state.lock().unwrap_or_else(|e| e.into_inner()).add_calendar(&c.owner, &c.id, &c.summary, &c.access_role);
    StatusCode::CREATED
}

/// Every event of a calendar as stored (deleted ones as their cancelled form): what a person
/// would see in Google Calendar, for tests to look at.
async fn admin_events(Axum(state): Axum<Shared>, axum::extract::Path(cid): axum::extract::Path<String>) -> Response {
    let state = state.lock().unwrap_or_else(|e| e.into_inner());
    match state.calendars.get(&cid) {
        Some(c) => Json(serde_json::json!({"items": c.events.values().map(|(e, _)| e.clone()).collect::<Vec<_>>()})).into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

async fn admin_put_event(
    Axum(state): Axum<Shared>,
    axum::extract::Path((cid, eid)): axum::extract::Path<(String, String)>,
    Json(event): Json<serde_json::Value>,
) -> Response {
    match state.lock().unwrap_or_else(|e| e.into_inner()).put_event(&cid, &eid, event) {
        Some(stored) => Json(stored).into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

async fn admin_delete_event(Axum(state): Axum<Shared>, axum::extract::Path((cid, eid)): axum::extract::Path<(String, String)>) -> StatusCode {
    match state.lock().unwrap_or_else(|e| e.into_inner()).delete_event(&cid, &eid) {
        true => StatusCode::NO_CONTENT,
        false => StatusCode::NOT_FOUND,
    }
}

async fn admin_invalidate(Axum(state): Axum<Shared>, axum::extract::Path(cid): axum::extract::Path<String>) -> StatusCode {
    state.lock().unwrap_or_else(|e| e.into_inner()).invalidate_sync_tokens(&cid);
    StatusCode::NO_CONTENT
}

async fn admin_revoke(Axum(state): Axum<Shared>, Json(a): Json<NewAccount>) -> StatusCode {
    state.lock().unwrap_or_else(|e| e.into_inner()).revoke_account(&a.email);
    StatusCode::NO_CONTENT
}

async fn admin_fault(Axum(state): Axum<Shared>, Json(f): Json<Fault>) -> StatusCode {
    state.lock().unwrap_or_else(|e| e.into_inner()).faults.push(f);
    StatusCode::CREATED
}

async fn admin_clear_faults(Axum(state): Axum<Shared>) -> StatusCode {
    state.lock().unwrap_or_else(|e| e.into_inner()).faults.clear();
    StatusCode::NO_CONTENT
}

impl Sandbox {
    /// Points calsync's Google settings at this sandbox, with the OAuth client it knows.
    pub fn google_endpoints(&self) -> providers::google::Endpoints {
        providers::google::Endpoints {
            auth: self.google_auth_url(),
            token: self.google_token_url(),
            revoke: self.google_revoke_url(),
            api: self.google_api_url(),
            client_id: Some(CLIENT_ID.into()),
            client_secret: Some(providers::secret::Secret::new(CLIENT_SECRET)),
        }
    }

    /// Points calsync's Microsoft settings at this sandbox.
    pub fn microsoft_endpoints(&self) -> providers::outlook::Endpoints {
        providers::outlook::Endpoints {
            login: self.microsoft_login_url(),
            tenant: "common".into(),
            graph: self.graph_url(),
            client_id: Some(CLIENT_ID.into()),
            client_secret: Some(providers::secret::Secret::new(CLIENT_SECRET)),
        }
    }

    /// A demo account (`ana@example.com`) at Google — a primary calendar of this week's meetings
    /// (one of them a daily series with a moved and a cancelled occurrence), a shared read-only
    /// team calendar and a free/busy-only one — and at Microsoft, with two calendars.
    pub fn seed_demo(&self) {
        use chrono::{Duration, Utc};
        use serde_json::json;
        let day = |d: i64| (Utc::now().date_naive() + Duration::days(d)).format("%Y-%m-%d").to_string();
        let at = |d: i64, h: u32, m: u32| format!("{}T{h:02}:{m:02}:00Z", day(d));
        let timed =
            |summary: &str, d: i64, h: u32, len: u32| json!({"summary": summary, "start": {"dateTime": at(d, h, 0)}, "end": {"dateTime": at(d, h + len, 0)}});
        self.with(|s| {
            let ana = "ana@example.com";
            s.add_account(ana);
            s.add_calendar(ana, "team-ana@group.calendar.google.com", "Team", "reader");
            s.add_calendar(ana, "holidays-ana@group.calendar.google.com", "Holidays", "freeBusyReader");
            s.put_event(ana, "kickoff", timed("Project kickoff", 1, 9, 1));
            s.put_event(ana, "dentist", timed("Dentist", 2, 14, 1));
            s.put_event(ana, "offsite", json!({"summary": "Offsite", "start": {"date": day(4)}, "end": {"date": day(5)}}));
            s.put_event(ana, "focus", json!({"summary": "Focus time", "transparency": "transparent", "start": {"dateTime": at(3, 13, 0)}, "end": {"dateTime": at(3, 15, 0)}}));
            s.put_event(ana, "standup", json!({
                "summary": "Standup",
                "start": {"dateTime": at(0, 8, 30), "timeZone": "UTC"},
                "end": {"dateTime": at(0, 8, 45), "timeZone": "UTC"},
                "recurrence": ["RRULE:FREQ=DAILY;COUNT=10"]
            }));
            s.put_event(ana, "standup_moved", json!({
                "recurringEventId": "standup", "originalStartTime": {"dateTime": at(1, 8, 30), "timeZone": "UTC"},
                "summary": "Standup (moved)", "start": {"dateTime": at(1, 10, 0)}, "end": {"dateTime": at(1, 10, 15)}
            }));
            s.put_event(ana, "standup_off", json!({"recurringEventId": "standup", "originalStartTime": {"dateTime": at(2, 8, 30), "timeZone": "UTC"}, "status": "cancelled"}));
            s.put_event("team-ana@group.calendar.google.com", "retro", timed("Team retro", 2, 16, 1));
            s.put_event("holidays-ana@group.calendar.google.com", "bank-holiday", json!({"summary": "Bank holiday", "start": {"date": day(6)}, "end": {"date": day(7)}}));
            // The same person at Microsoft: a default calendar and a shared read-only one.
            let cal = s.add_ms_account(ana);
            s.add_graph_calendar(ana, "AAMkAD-ana-projects", "Projects", false);
            let graph = |subject: &str, d: i64, h: u32, len: u32| json!({"subject": subject, "start": {"dateTime": format!("{}T{h:02}:00:00.0000000", day(d)), "timeZone": "UTC"}, "end": {"dateTime": format!("{}T{:02}:00:00.0000000", day(d), h + len), "timeZone": "UTC"}});
            s.put_graph_event(&cal, "review", graph("Quarterly review", 1, 14, 2));
            s.put_graph_event(&cal, "w-1on1", graph("1:1 with Sam", 3, 11, 1));
            s.put_graph_event("AAMkAD-ana-projects", "launch", graph("Launch prep", 4, 9, 3));
        });
    }
}
