//! What the sandbox remembers: accounts, their calendars and events (each change numbered, so
//! sync tokens can answer "what changed since"), OAuth codes and tokens, injected faults.
use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use serde::Deserialize;
use serde_json::{json, Value};

/// An injected fault: the next `times` requests whose path contains `path` get this answer.
#[derive(Debug, Clone, Deserialize)]
pub struct Fault {
    pub path: String,
    /// 0: drop the connection (never answer); otherwise the HTTP status.
    pub status: u16,
    #[serde(default)]
    pub body: Option<String>,
    /// Seconds, sent as `Retry-After`.
    #[serde(default)]
    pub retry_after: Option<u64>,
    /// Wait this long first (a slow answer; with status 100 or less, a slow success).
    #[serde(default)]
    pub delay_ms: Option<u64>,
    #[serde(default = "one")]
    pub times: u32,
    /// Carry the request out first, then lose the answer (with status 0: never answer; the
    /// client times out after the provider committed).
    #[serde(default)]
    pub after: bool,
}

fn one() -> u32 {
    1
}

pub struct Calendar {
    pub id: String,
    pub owner: String,
    pub summary: String,
    pub access_role: String,
    pub primary: bool,
    pub color: String,
    /// Event id → the stored event and the change number that last touched it.
    pub events: BTreeMap<String, (Value, u64)>,
    /// Sync tokens issued before this change number answer 410.
    pub valid_from: u64,
}

pub struct Grant {
    /// "google" or "microsoft".
    pub provider: &'static str,
    pub email: String,
    pub client_id: String,
    pub redirect_uri: String,
    pub challenge: Option<String>,
    pub scope: String,
    pub offline: bool,
    pub issued: Instant,
}

/// A push channel (events.watch): notifications go to `address`.
#[derive(Debug, Clone)]
pub struct Channel {
    pub id: String,
    pub resource_id: String,
    pub calendar: String,
    pub address: String,
    pub token: Option<String>,
    pub expires_ms: i64,
    pub messages: u64,
}

/// A notification waiting to be POSTed: the address, its headers and (Graph) its JSON body.
#[derive(Debug, Clone)]
pub struct Notification {
    pub address: String,
    pub headers: Vec<(&'static str, String)>,
    pub body: Option<String>,
}

/// A Graph subscription on a calendar's events.
#[derive(Debug, Clone)]
pub struct Subscription {
    pub id: String,
    pub calendar: String,
    pub owner: String,
    pub url: String,
    pub client_state: Option<String>,
    pub expires: chrono::DateTime<chrono::Utc>,
}

pub struct AccessToken {
    pub email: String,
    pub expires: Instant,
    /// "google" or "microsoft": a token works only at its own provider.
    pub provider: &'static str,
}

pub struct SandboxState {
    pub base: String,
    pub accounts: Vec<String>,
    pub calendars: BTreeMap<String, Calendar>,
    /// Global change counter (every event write takes the next number).
    pub change: u64,
    pub codes: HashMap<String, Grant>,
    pub access: HashMap<String, AccessToken>,
    /// Refresh token → account.
    pub refresh: HashMap<String, String>,
    pub faults: Vec<Fault>,
    /// How long access tokens live (an hour, as Google's do; tests shorten it).
    pub access_ttl: Duration,
    /// Every request the API answered (method and path), for tests that count them.
    pub requests: Vec<String>,
    /// Pages may be short or empty and still carry a next page token: when set, the first page
    /// of every event list is empty.
    pub empty_first_page: bool,
    pub channels: Vec<Channel>,
    /// Microsoft Graph calendars by id.
    pub graph: BTreeMap<String, super::graph::GraphCalendar>,
    pub subscriptions: Vec<Subscription>,
    /// Notifications not yet delivered (a task POSTs them).
    pub outbox: Vec<Notification>,
}

pub fn random_token(prefix: &str) -> String {
    format!("{prefix}{}", crate::random_id())
}

impl SandboxState {
    pub fn new(base: String) -> Self {
        SandboxState {
            base,
            accounts: Vec::new(),
            calendars: BTreeMap::new(),
            change: 0,
            codes: HashMap::new(),
            access: HashMap::new(),
            refresh: HashMap::new(),
            faults: Vec::new(),
            access_ttl: Duration::from_secs(3600),
            requests: Vec::new(),
            empty_first_page: false,
            channels: Vec::new(),
            graph: BTreeMap::new(),
            subscriptions: Vec::new(),
            outbox: Vec::new(),
        }
    }

    /// An account with its primary calendar, whose id is the account's email.
    pub fn add_account(&mut self, email: &str) {
        if !self.accounts.iter().any(|a| a == email) {
            self.accounts.push(email.to_string());
            self.calendars.insert(
                email.to_string(),
                Calendar {
                    id: email.to_string(),
                    owner: email.to_string(),
                    summary: email.to_string(),
                    access_role: "owner".into(),
                    primary: true,
                    color: "#9fc6e7".into(),
                    events: BTreeMap::new(),
                    valid_from: 0,
                },
            );
        }
    }

    pub fn add_calendar(&mut self, owner: &str, id: &str, summary: &str, access_role: &str) {
        self.add_account(owner);
        self.calendars.insert(
            id.to_string(),
            Calendar {
                id: id.to_string(),
                owner: owner.to_string(),
                summary: summary.to_string(),
                access_role: access_role.to_string(),
                primary: false,
                color: "#f83a22".into(),
                events: BTreeMap::new(),
                valid_from: 0,
            },
        );
    }

    fn next_change(&mut self) -> u64 {
        self.change += 1;
        self.change
    }

    /// Creates or replaces an event as a person would in Google: the server sets `id`, `etag`,
    /// `updated`, `iCalUID` (kept from before, or the master's for an exception), `sequence`.
    pub fn put_event(&mut self, calendar: &str, id: &str, mut event: Value) -> Option<Value> {
        let change = self.next_change();
        let cal = self.calendars.get_mut(calendar)?;
        let before = cal.events.get(id).map(|(e, _)| e.clone());
        let master_uid = event.get("recurringEventId").and_then(Value::as_str).and_then(|m| cal.events.get(m)).and_then(|(m, _)| m.get("iCalUID").cloned());
        let obj = event.as_object_mut()?;
        obj.insert("kind".into(), json!("calendar#event"));
        obj.insert("id".into(), json!(id));
        obj.insert("etag".into(), json!(format!("\"{change}\"")));
        obj.insert("updated".into(), json!(chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)));
        let uid = before.as_ref().and_then(|b| b.get("iCalUID").cloned()).or(master_uid).unwrap_or_else(|| json!(format!("{id}@google.com")));
        obj.insert("iCalUID".into(), uid);
        let sequence = before.as_ref().and_then(|b| b.get("sequence")).and_then(Value::as_i64).map(|s| s + 1).unwrap_or(0);
        obj.insert("sequence".into(), json!(sequence));
        obj.entry("status").or_insert(json!("confirmed"));
        obj.entry("eventType").or_insert(json!("default"));
        // Google marks the entries that are this calendar `self` (a client cannot set it), and
        // an event made in the calendar is organised by it.
        let me = cal.id.clone();
        obj.entry("organizer").or_insert(json!({"email": me}));
        let is_me = |p: &mut Value| {
            let mine = p.get("email").and_then(Value::as_str).is_some_and(|e| e.eq_ignore_ascii_case(&me));
            if let Some(p) = p.as_object_mut() {
                p.remove("self");
                if mine {
                    p.insert("self".into(), json!(true));
                }
            }
        };
        if let Some(o) = obj.get_mut("organizer") {
            is_me(o);
        }
        for a in obj.get_mut("attendees").and_then(Value::as_array_mut).into_iter().flatten() {
            is_me(a);
            a.as_object_mut().map(|a| a.entry("responseStatus").or_insert(json!("needsAction")));
        }
        cal.events.insert(id.to_string(), (event.clone(), change));
        self.notify(calendar, "exists");
        Some(event)
    }

    /// Deletes an event as a person would: it stays as a cancelled tombstone (only `id`, and
    /// for an instance `recurringEventId` and `originalStartTime`) that incremental syncs see.
    pub fn delete_event(&mut self, calendar: &str, id: &str) -> bool {
        let change = self.next_change();
        let Some(cal) = self.calendars.get_mut(calendar) else { return false };
        let Some((old, _)) = cal.events.get(id).cloned() else { return false };
        let mut tomb = json!({"kind": "calendar#event", "id": id, "status": "cancelled", "etag": format!("\"{change}\"")});
        for keep in ["recurringEventId", "originalStartTime", "iCalUID"] {
            if let Some(v) = old.get(keep) {
                tomb[keep] = v.clone();
            }
        }
        cal.events.insert(id.to_string(), (tomb, change));
        self.notify(calendar, "exists");
        true
    }

    /// Queues a notification to every live channel of `calendar` (`state`: sync, exists).
    pub fn notify(&mut self, calendar: &str, state: &str) {
        let now_ms = chrono::Utc::now().timestamp_millis();
        for ch in self.channels.iter_mut().filter(|c| c.calendar == calendar && c.expires_ms > now_ms) {
            ch.messages += 1;
            let mut headers = vec![
                ("X-Goog-Channel-ID", ch.id.clone()),
                ("X-Goog-Message-Number", ch.messages.to_string()),
                ("X-Goog-Resource-ID", ch.resource_id.clone()),
                ("X-Goog-Resource-State", state.to_string()),
                ("X-Goog-Resource-URI", format!("https://www.googleapis.com/calendar/v3/calendars/{}/events", ch.calendar)),
                (
                    "X-Goog-Channel-Expiration",
                    chrono::DateTime::from_timestamp_millis(ch.expires_ms).map(|t| t.format("%a, %d %b %Y %H:%M:%S GMT").to_string()).unwrap_or_default(),
                ),
            ];
            if let Some(t) = &ch.token {
                headers.push(("X-Goog-Channel-Token", t.clone()));
            }
            self.outbox.push(Notification { address: ch.address.clone(), headers, body: None });
        }
    }

    /// Every sync token issued so far for this calendar answers 410 from now on.
    pub fn invalidate_sync_tokens(&mut self, calendar: &str) {
        let change = self.next_change();
        if let Some(cal) = self.calendars.get_mut(calendar) {
            cal.valid_from = change;
        }
    }

    /// The user revoked the app's access in their Google account.
    pub fn revoke_account(&mut self, email: &str) {
        self.access.retain(|_, t| t.email != email);
        self.refresh.retain(|_, e| e != email);
    }

    /// Tokens for `email` without the consent page (as after an earlier consent).
    pub fn issue_tokens(&mut self, email: &str) -> (String, String) {
        self.add_account(email);
        let access = random_token("ya29.sandbox-");
        let refresh = random_token("1//sandbox-");
        self.access.insert(access.clone(), AccessToken { email: email.to_string(), expires: Instant::now() + self.access_ttl, provider: "google" });
        self.refresh.insert(refresh.clone(), email.to_string());
        (access, refresh)
    }

    pub fn take_fault(&mut self, path: &str) -> Option<Fault> {
        let i = self.faults.iter().position(|f| path.contains(&f.path))?;
        let fault = self.faults[i].clone();
        self.faults[i].times = self.faults[i].times.saturating_sub(1);
        if self.faults[i].times == 0 {
            self.faults.remove(i);
        }
        Some(fault)
    }

    /// Who a Google access token belongs to, while it is valid.
    pub fn who(&self, token: &str) -> Option<&str> {
        self.who_at(token, "google")
    }

    /// Who an access token of `provider` belongs to, while it is valid.
    pub fn who_at(&self, token: &str, provider: &str) -> Option<&str> {
        self.access.get(token).filter(|t| t.expires > Instant::now() && t.provider == provider).map(|t| t.email.as_str())
    }

    /// A Microsoft account with its default calendar ("Calendar").
    pub fn add_ms_account(&mut self, email: &str) -> String {
        let id = format!("AAMkAD-{}-default", email.replace(['@', '.'], "-"));
        self.graph.entry(id.clone()).or_insert_with(|| super::graph::GraphCalendar {
            id: id.clone(),
            owner: email.to_string(),
            name: "Calendar".into(),
            hex_color: "#0078d4".into(),
            is_default: true,
            can_edit: true,
            events: BTreeMap::new(),
            valid_from: 0,
        });
        id
    }

    pub fn add_graph_calendar(&mut self, owner: &str, id: &str, name: &str, can_edit: bool) {
        self.add_ms_account(owner);
        self.graph.insert(
            id.to_string(),
            super::graph::GraphCalendar {
                id: id.to_string(),
                owner: owner.to_string(),
                name: name.to_string(),
                hex_color: "#e3008c".into(),
                is_default: false,
                can_edit,
                events: BTreeMap::new(),
                valid_from: 0,
            },
        );
    }

    /// Creates or replaces an event (a single one, an occurrence or an exception) as the
    /// service stores it: `id`, `changeKey`, `@odata.etag` and `lastModifiedDateTime` set.
    pub fn put_graph_event(&mut self, calendar: &str, id: &str, mut event: Value) -> Option<Value> {
        let change = self.next_change();
        let cal = self.graph.get_mut(calendar)?;
        let obj = event.as_object_mut()?;
        let key = format!("ck{change}");
        obj.insert("id".into(), json!(id));
        obj.insert("changeKey".into(), json!(key));
        obj.insert("@odata.etag".into(), json!(format!("W/\"{key}\"")));
        obj.insert("lastModifiedDateTime".into(), json!(chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)));
        obj.entry("type").or_insert(json!("singleInstance"));
        obj.entry("isCancelled").or_insert(json!(false));
        obj.entry("showAs").or_insert(json!("busy"));
        obj.entry("isAllDay").or_insert(json!(false));
        // Made in the calendar: its owner organises it (an invitation's copy says otherwise).
        obj.entry("isOrganizer").or_insert(json!(true));
        let organises = obj.get("isOrganizer") == Some(&json!(true));
        obj.entry("responseStatus").or_insert(json!({"response": if organises { "organizer" } else { "notResponded" }, "time": "0001-01-01T00:00:00Z"}));
        cal.events.insert(id.to_string(), (Some(event.clone()), change));
        self.notify_graph(calendar, id, "updated");
        Some(event)
    }

    pub fn delete_graph_event(&mut self, calendar: &str, id: &str) -> bool {
        let change = self.next_change();
        match self.graph.get_mut(calendar) {
            Some(cal) if cal.events.contains_key(id) => {
                cal.events.insert(id.to_string(), (None, change));
                self.notify_graph(calendar, id, "deleted");
                true
            }
            _ => false,
        }
    }

    /// Queues a change notification to every live subscription on `calendar`'s events.
    pub fn notify_graph(&mut self, calendar: &str, event_id: &str, change: &str) {
        let now = chrono::Utc::now();
        for s in self.subscriptions.iter().filter(|s| s.calendar == calendar && s.expires > now) {
            let body = json!({"value": [{
                "subscriptionId": s.id,
                "subscriptionExpirationDateTime": s.expires.to_rfc3339(),
                "clientState": s.client_state,
                "changeType": change,
                "resource": format!("Users/{}/Events/{event_id}", s.owner),
                "tenantId": "sandbox-tenant",
                "resourceData": {"@odata.type": "#Microsoft.Graph.Event", "@odata.id": format!("Users/{}/Events/{event_id}", s.owner), "id": event_id}
            }]});
            self.outbox.push(Notification { address: s.url.clone(), headers: vec![("Content-Type", "application/json".into())], body: Some(body.to_string()) });
        }
    }

    /// Every delta link issued so far for this calendar answers 410 from now on.
    pub fn invalidate_delta(&mut self, calendar: &str) {
        let change = self.next_change();
        if let Some(cal) = self.graph.get_mut(calendar) {
            cal.valid_from = change;
        }
    }

    /// Microsoft tokens for `email` without the consent page.
    pub fn issue_ms_tokens(&mut self, email: &str) -> (String, String) {
        self.add_ms_account(email);
        let access = random_token("EwB-sandbox-");
        let refresh = random_token("M.R3_sandbox-");
        self.access.insert(access.clone(), AccessToken { email: email.to_string(), expires: Instant::now() + self.access_ttl, provider: "microsoft" });
        self.refresh.insert(refresh.clone(), email.to_string());
        (access, refresh)
    }
}
