//! Contract tests: the sandbox behaves as ../shared/docs/providers.md says Google Calendar v3
//! and its OAuth server do, so adapter tests against it mean something.
use sandbox::{Sandbox, CLIENT_ID, CLIENT_SECRET};
use serde_json::{json, Value};

async fn sandbox() -> Sandbox {
    Sandbox::start("127.0.0.1:0".parse().unwrap()).await.unwrap()
}

fn event(summary: &str, day: u32) -> Value {
    json!({"summary": summary, "start": {"dateTime": format!("2030-01-{day:02}T09:00:00Z")}, "end": {"dateTime": format!("2030-01-{day:02}T10:00:00Z")}})
}

async fn list(s: &Sandbox, token: &str, query: &str) -> (u16, Value) {
    let r = reqwest::Client::new().get(format!("{}/calendars/ana@example.com/events?{query}", s.google_api_url())).bearer_auth(token).send().await.unwrap();
    (r.status().as_u16(), r.json().await.unwrap())
}

fn ids(page: &Value) -> Vec<String> {
    page["items"].as_array().unwrap().iter().map(|e| e["id"].as_str().unwrap().to_string()).collect()
}

#[tokio::test]
async fn pages_end_with_a_sync_token_and_an_incremental_list_has_only_changes_and_deletions() {
    let s = sandbox().await;
    let (token, _) = s.with(|st| st.issue_tokens("ana@example.com"));
    s.with(|st| {
        for i in 1..=5 {
            st.put_event("ana@example.com", &format!("e{i}"), event(&format!("E{i}"), i));
        }
    });
    let (status, first) = list(&s, &token, "maxResults=2").await;
    assert_eq!(status, 200);
    assert_eq!(ids(&first).len(), 2);
    assert!(first.get("nextSyncToken").is_none(), "nextSyncToken only on the last page");
    let mut page = first;
    let mut seen = ids(&page);
    while let Some(next) = page["nextPageToken"].as_str().map(str::to_string) {
        page = list(&s, &token, &format!("maxResults=2&pageToken={next}")).await.1;
        seen.extend(ids(&page));
    }
    assert_eq!(seen.len(), 5);
    let sync = page["nextSyncToken"].as_str().unwrap().to_string();

    s.with(|st| {
        st.put_event("ana@example.com", "e2", event("E2 moved", 20));
        st.delete_event("ana@example.com", "e3");
    });
    let (_, changes) = list(&s, &token, &format!("syncToken={sync}")).await;
    assert_eq!(ids(&changes), vec!["e2", "e3"]);
    let deleted = &changes["items"][1];
    assert_eq!(deleted["status"], "cancelled");
    assert!(deleted.get("summary").is_none(), "a deletion carries only its id");
    assert!(changes["nextSyncToken"].is_string());
    // A full list leaves the deleted event out.
    let (_, full) = list(&s, &token, "").await;
    assert_eq!(ids(&full), vec!["e1", "e2", "e4", "e5"]);
}

#[tokio::test]
async fn a_sync_token_refuses_time_bounds_and_answers_410_once_invalidated() {
    let s = sandbox().await;
    let (token, _) = s.with(|st| st.issue_tokens("ana@example.com"));
    let (_, full) = list(&s, &token, "").await;
    let sync = full["nextSyncToken"].as_str().unwrap().to_string();
    let (status, body) = list(&s, &token, &format!("syncToken={sync}&timeMin=2030-01-01T00:00:00Z")).await;
    assert_eq!(status, 400, "{body}");
    s.with(|st| st.invalidate_sync_tokens("ana@example.com"));
    let (status, body) = list(&s, &token, &format!("syncToken={sync}")).await;
    assert_eq!(status, 410);
    assert_eq!(body["error"]["errors"][0]["reason"], "fullSyncRequired");
    assert_eq!(body["error"]["errors"][0]["location"], "syncToken");
    let (status, body) = list(&s, &token, "timeMin=2030-01-02T00:00:00Z&timeMax=2030-01-01T00:00:00Z").await;
    assert_eq!((status, body["error"]["errors"][0]["reason"].as_str()), (400, Some("timeRangeEmpty")));
}

#[tokio::test]
async fn cancelled_exceptions_of_a_live_series_come_with_the_master_and_share_its_ical_uid() {
    let s = sandbox().await;
    let (token, _) = s.with(|st| st.issue_tokens("ana@example.com"));
    s.with(|st| {
        let mut master = event("Standup", 1);
        master["start"]["timeZone"] = json!("Europe/Berlin");
        master["end"]["timeZone"] = json!("Europe/Berlin");
        master["recurrence"] = json!(["RRULE:FREQ=DAILY;COUNT=5"]);
        st.put_event("ana@example.com", "standup", master);
        st.put_event(
            "ana@example.com",
            "standup_20300102T090000Z",
            json!({"recurringEventId": "standup", "originalStartTime": {"dateTime": "2030-01-02T09:00:00Z"}, "status": "cancelled"}),
        );
    });
    let (_, full) = list(&s, &token, "").await;
    assert_eq!(ids(&full), vec!["standup", "standup_20300102T090000Z"]);
    assert_eq!(full["items"][0]["iCalUID"], full["items"][1]["iCalUID"]);
    let uid = full["items"][0]["iCalUID"].as_str().unwrap().to_string();
    let (_, by_uid) = list(&s, &token, &format!("iCalUID={uid}")).await;
    assert_eq!(ids(&by_uid).len(), 2);
}

#[tokio::test]
async fn errors_have_googles_shape_and_others_calendars_are_not_found() {
    let s = sandbox().await;
    let (status, body) = list(&s, "not-a-token", "").await;
    assert_eq!(status, 401);
    assert_eq!(body["error"]["errors"][0]["reason"], "authError");
    assert_eq!(body["error"]["code"], 401);
    let (other, _) = s.with(|st| st.issue_tokens("bob@example.com"));
    let (status, body) = list(&s, &other, "").await;
    assert_eq!((status, body["error"]["errors"][0]["reason"].as_str()), (404, Some("notFound")));
}

#[tokio::test]
async fn the_calendar_list_marks_the_primary_whose_id_is_the_email() {
    let s = sandbox().await;
    let (token, _) = s.with(|st| {
        st.add_calendar("ana@example.com", "team@group.calendar.google.com", "Team", "reader");
        st.issue_tokens("ana@example.com")
    });
    let list: Value =
        reqwest::Client::new().get(format!("{}/users/me/calendarList", s.google_api_url())).bearer_auth(&token).send().await.unwrap().json().await.unwrap();
    let items = list["items"].as_array().unwrap();
    let primary: Vec<&Value> = items.iter().filter(|c| c["primary"] == true).collect();
    assert_eq!(primary.len(), 1);
    assert_eq!(primary[0]["id"], "ana@example.com");
    let team = items.iter().find(|c| c["id"] == "team@group.calendar.google.com").unwrap();
    assert_eq!((team["accessRole"].as_str(), team.get("primary")), (Some("reader"), None));
    assert!(team["backgroundColor"].as_str().unwrap().starts_with('#'));
}

/// The consent page's form, approved, and the code exchanged with a PKCE verifier.
async fn consent(s: &Sandbox, challenge: &str, decision: &str) -> reqwest::Response {
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let page = client
        .get(s.google_auth_url())
        .query(&[
            ("client_id", CLIENT_ID),
            ("redirect_uri", "http://127.0.0.1:9/cb"),
            ("response_type", "code"),
            ("scope", "calendar.events"),
            ("state", "st4te"),
            ("code_challenge", challenge),
            ("code_challenge_method", "S256"),
            ("access_type", "offline"),
            ("prompt", "consent"),
        ])
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("calsync provider sandbox"), "the consent page says it is the sandbox");
    client
        .post(format!("{}/google/o/oauth2/v2/decide", s.url()))
        .form(&[
            ("client_id", CLIENT_ID),
            ("redirect_uri", "http://127.0.0.1:9/cb"),
            ("state", "st4te"),
            ("code_challenge", challenge),
            ("code_challenge_method", "S256"),
            ("access_type", "offline"),
            ("account", "ana@example.com"),
            ("decision", decision),
        ])
        .send()
        .await
        .unwrap()
}

fn query_of(r: &reqwest::Response) -> std::collections::HashMap<String, String> {
    let location = r.headers()["location"].to_str().unwrap();
    url::Url::parse(location).unwrap().query_pairs().into_owned().collect()
}

async fn exchange(s: &Sandbox, form: &[(&str, &str)]) -> (u16, Value) {
    let r = reqwest::Client::new().post(s.google_token_url()).form(form).send().await.unwrap();
    (r.status().as_u16(), r.json().await.unwrap())
}

#[tokio::test]
async fn the_code_exchange_checks_pkce_is_single_use_and_refresh_answers_no_new_refresh_token() {
    let s = sandbox().await;
    s.with(|st| st.add_account("ana@example.com"));
    let verifier = "a-long-enough-verifier-0123456789-0123456789";
    let challenge = base64_sha256(verifier);
    let q = query_of(&consent(&s, &challenge, "allow").await);
    assert_eq!(q["state"], "st4te");
    let code = q["code"].clone();
    let base = [
        ("grant_type", "authorization_code"),
        ("client_id", CLIENT_ID),
        ("client_secret", CLIENT_SECRET),
        ("redirect_uri", "http://127.0.0.1:9/cb"),
        ("code", code.as_str()),
    ];
    let wrong: Vec<(&str, &str)> = base.iter().copied().chain([("code_verifier", "wrong")]).collect();
    let (status, body) = exchange(&s, &wrong).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_grant")));
    // The failed try used the code up, as a provider does.
    let q = query_of(&consent(&s, &challenge, "allow").await);
    let code = q["code"].clone();
    let good = [
        ("grant_type", "authorization_code"),
        ("client_id", CLIENT_ID),
        ("client_secret", CLIENT_SECRET),
        ("redirect_uri", "http://127.0.0.1:9/cb"),
        ("code", code.as_str()),
        ("code_verifier", verifier),
    ];
    let (status, tokens) = exchange(&s, &good).await;
    assert_eq!(status, 200, "{tokens}");
    assert!(tokens["refresh_token"].is_string() && tokens["access_token"].is_string());
    assert_eq!(tokens["token_type"], "Bearer");
    let (status, _) = exchange(&s, &good).await;
    assert_eq!(status, 400, "a code is single use");

    let refresh = tokens["refresh_token"].as_str().unwrap();
    let (status, renewed) =
        exchange(&s, &[("grant_type", "refresh_token"), ("client_id", CLIENT_ID), ("client_secret", CLIENT_SECRET), ("refresh_token", refresh)]).await;
    assert_eq!(status, 200);
    assert!(renewed.get("refresh_token").is_none());
    assert!(renewed["expires_in"].as_u64().unwrap() > 0);

    // Revoked: the refresh answers invalid_grant and the access token stops working.
    let r = reqwest::Client::new().post(s.google_revoke_url()).form(&[("token", refresh)]).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let (status, body) =
        exchange(&s, &[("grant_type", "refresh_token"), ("client_id", CLIENT_ID), ("client_secret", CLIENT_SECRET), ("refresh_token", refresh)]).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_grant")));
    assert_eq!(list(&s, renewed["access_token"].as_str().unwrap(), "").await.0, 401);
}

#[tokio::test]
async fn denied_consent_comes_back_with_access_denied_and_the_state() {
    let s = sandbox().await;
    s.with(|st| st.add_account("ana@example.com"));
    let q = query_of(&consent(&s, "x", "deny").await);
    assert_eq!((q["error"].as_str(), q["state"].as_str()), ("access_denied", "st4te"));
    assert!(!q.contains_key("code"));
}

#[tokio::test]
async fn injected_faults_answer_first_then_go_away() {
    let s = sandbox().await;
    let (token, _) = s.with(|st| st.issue_tokens("ana@example.com"));
    let admin = reqwest::Client::new();
    let r = admin
        .post(format!("{}/sandbox/faults", s.url()))
        .json(&json!({"path": "/events", "status": 429, "retry_after": 7, "body": "{\"error\":{\"code\":429,\"message\":\"Rate Limit Exceeded\",\"errors\":[{\"domain\":\"usageLimits\",\"reason\":\"rateLimitExceeded\",\"message\":\"Rate Limit Exceeded\"}]}}"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let r = reqwest::Client::new().get(format!("{}/calendars/primary/events", s.google_api_url())).bearer_auth(&token).send().await.unwrap();
    assert_eq!(r.status(), 429);
    assert_eq!(r.headers()["retry-after"], "7");
    assert_eq!(list(&s, &token, "").await.0, 200, "the fault was for one request");
}

fn base64_sha256(s: &str) -> String {
    use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
    use sha2::Digest;
    URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(s.as_bytes()))
}

async fn call(s: &Sandbox, token: &str, method: reqwest::Method, path: &str, body: Option<Value>, if_match: Option<&str>) -> (u16, Value) {
    let mut r = reqwest::Client::new().request(method, format!("{}/calendars/{path}", s.google_api_url())).bearer_auth(token);
    if let Some(b) = body {
        r = r.json(&b);
    }
    if let Some(tag) = if_match {
        r = r.header("If-Match", tag);
    }
    let r = r.send().await.unwrap();
    let status = r.status().as_u16();
    let text = r.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

#[tokio::test]
async fn insert_keeps_a_client_id_once_and_patch_and_delete_follow_etags() {
    use reqwest::Method;
    let s = sandbox().await;
    let (token, _) = s.with(|st| st.issue_tokens("ana@example.com"));
    let mut body = event("Booked", 3);
    body["id"] = json!("calsbooking0042");
    body["extendedProperties"] = json!({"private": {"calsyncBooking": "42"}});
    let (status, created) = call(&s, &token, Method::POST, "primary/events?sendUpdates=none", Some(body.clone()), None).await;
    assert_eq!(status, 200, "{created}");
    assert_eq!((created["id"].as_str(), created["status"].as_str()), (Some("calsbooking0042"), Some("confirmed")));
    assert!(created["etag"].is_string() && created["iCalUID"].is_string());
    assert!(s.with(|st| st.requests.iter().any(|r| r == "POST event primary sendUpdates=none")));
    // A retry of the same insert: 409 duplicate, and still one event.
    let (status, again) = call(&s, &token, Method::POST, "primary/events", Some(body), None).await;
    assert_eq!((status, again["error"]["errors"][0]["reason"].as_str()), (409, Some("duplicate")));
    let (_, found) = list(&s, &token, "privateExtendedProperty=calsyncBooking%3D42").await;
    assert_eq!(ids(&found), vec!["calsbooking0042"], "found by its private property");
    assert_eq!(ids(&list(&s, &token, "privateExtendedProperty=calsyncBooking%3D43").await.1), Vec::<String>::new());
    // Ids that are not base32hex, and events without times, are refused.
    let mut bad = event("Bad", 4);
    bad["id"] = json!("Not-Allowed!");
    assert_eq!(call(&s, &token, Method::POST, "primary/events", Some(bad), None).await.0, 400);
    let (status, missing) = call(&s, &token, Method::POST, "primary/events", Some(json!({"summary": "No times"})), None).await;
    assert_eq!((status, missing["error"]["errors"][0]["reason"].as_str()), (400, Some("required")));

    // Patch: the sent fields replace the stored ones; a stale If-Match is 412.
    let etag = created["etag"].as_str().unwrap().to_string();
    let (status, moved) = call(&s, &token, Method::PATCH, "primary/events/calsbooking0042", Some(event("Booked", 5)), Some(&etag)).await;
    assert_eq!(status, 200, "{moved}");
    assert_eq!(moved["start"]["dateTime"], "2030-01-05T09:00:00Z");
    assert_eq!(moved["extendedProperties"]["private"]["calsyncBooking"], "42", "fields not sent are kept");
    assert_ne!(moved["etag"], created["etag"]);
    let (status, stale) = call(&s, &token, Method::PATCH, "primary/events/calsbooking0042", Some(json!({"summary": "Late"})), Some(&etag)).await;
    assert_eq!((status, stale["error"]["errors"][0]["reason"].as_str()), (412, Some("conditionNotMet")));

    // Delete: 204, then 410 deleted; a missing one is 404.
    let path = "primary/events/calsbooking0042";
    assert_eq!(call(&s, &token, Method::DELETE, path, None, Some(&etag)).await.0, 412);
    assert_eq!(call(&s, &token, Method::DELETE, path, None, None).await.0, 204);
    let (status, gone) = call(&s, &token, Method::DELETE, path, None, None).await;
    assert_eq!((status, gone["error"]["errors"][0]["reason"].as_str()), (410, Some("deleted")));
    assert_eq!(call(&s, &token, Method::DELETE, "primary/events/nosuchevent1", None, None).await.0, 404);
}

#[tokio::test]
async fn a_read_only_calendar_refuses_writes_with_required_access_level() {
    let s = sandbox().await;
    let (token, _) = s.with(|st| {
        st.add_calendar("ana@example.com", "holidays@group.example.com", "Holidays", "reader");
        st.issue_tokens("ana@example.com")
    });
    let (status, body) = call(&s, &token, reqwest::Method::POST, "holidays@group.example.com/events", Some(event("Nope", 6)), None).await;
    assert_eq!((status, body["error"]["errors"][0]["reason"].as_str()), (403, Some("requiredAccessLevel")));
    // Another's calendar does not exist for ana.
    assert_eq!(call(&s, &token, reqwest::Method::POST, "bob@example.com/events", Some(event("Nope", 6)), None).await.0, 404);
}

#[tokio::test]
async fn instances_of_a_series_are_found_by_original_start_and_changed_or_deleted_one_by_one() {
    let s = sandbox().await;
    let (token, _) = s.with(|st| {
        st.add_account("ana@example.com");
        st.issue_tokens("ana@example.com")
    });
    let http = reqwest::Client::new();
    let base = format!("{}/calendars/ana@example.com/events", s.google_api_url());
    let master = json!({"id": "standup01", "summary": "Standup", "start": {"dateTime": "2030-01-07T09:00:00+01:00", "timeZone": "Europe/Berlin"}, "end": {"dateTime": "2030-01-07T09:15:00+01:00", "timeZone": "Europe/Berlin"}, "recurrence": ["RRULE:FREQ=WEEKLY;COUNT=4"]});
    assert_eq!(http.post(&base).bearer_auth(&token).json(&master).send().await.unwrap().status(), 200);
    let instances = |q: &str| http.get(format!("{base}/standup01/instances?{q}")).bearer_auth(&token).send();
    // All four, each with its id, recurringEventId and originalStartTime.
    let all: Value = instances("").await.unwrap().json().await.unwrap();
    let items = all["items"].as_array().unwrap();
    assert_eq!(items.len(), 4);
    assert_eq!(items[1]["id"], "standup01_20300114T080000Z");
    assert_eq!((items[1]["recurringEventId"].as_str(), items[1]["summary"].as_str()), (Some("standup01"), Some("Standup")));
    // One, by its original start.
    let one: Value = instances("originalStart=2030-01-14T08:00:00Z").await.unwrap().json().await.unwrap();
    assert_eq!(one["items"][0]["id"], "standup01_20300114T080000Z");
    let none: Value = instances("originalStart=2030-01-14T09:00:00Z").await.unwrap().json().await.unwrap();
    assert!(none["items"].as_array().unwrap().is_empty(), "not an occurrence");
    // Changed on its own: an exception of the series, listed with it.
    let moved = json!({"start": {"dateTime": "2030-01-14T15:00:00+01:00", "timeZone": "Europe/Berlin"}, "end": {"dateTime": "2030-01-14T15:15:00+01:00", "timeZone": "Europe/Berlin"}});
    let r: Value = http.patch(format!("{base}/standup01_20300114T080000Z")).bearer_auth(&token).json(&moved).send().await.unwrap().json().await.unwrap();
    assert_eq!((r["recurringEventId"].as_str(), r["originalStartTime"]["dateTime"].as_str()), (Some("standup01"), Some("2030-01-14T09:00:00+01:00")));
    // Deleted on its own: a cancelled exception, listed with showDeleted only by instances.
    assert_eq!(http.delete(format!("{base}/standup01_20300121T080000Z")).bearer_auth(&token).send().await.unwrap().status(), 204);
    assert_eq!(http.delete(format!("{base}/standup01_20300121T080000Z")).bearer_auth(&token).send().await.unwrap().status(), 410);
    let live: Value = instances("").await.unwrap().json().await.unwrap();
    assert_eq!(live["items"].as_array().unwrap().len(), 3);
    let with_deleted: Value = instances("showDeleted=true").await.unwrap().json().await.unwrap();
    assert_eq!(with_deleted["items"][2]["status"], "cancelled");
    let (_, listed) = list(&s, &token, "").await;
    let exceptions: Vec<&str> =
        listed["items"].as_array().unwrap().iter().filter(|e| e["recurringEventId"] == "standup01").map(|e| e["status"].as_str().unwrap()).collect();
    assert_eq!(exceptions, vec!["confirmed", "cancelled"], "both exceptions come with the list");
    // An id that names no occurrence is 404.
    assert_eq!(http.get(format!("{base}/standup01_20300114T090000Z")).bearer_auth(&token).send().await.unwrap().status(), 404);
}

#[tokio::test]
async fn primary_names_the_accounts_own_calendar_on_every_calendar_route() {
    use reqwest::Method;
    let s = sandbox().await;
    let (token, _) = s.with(|st| {
        st.add_calendar("ana@example.com", "team@group.calendar.google.com", "Team", "owner");
        st.put_event("ana@example.com", "mine1", event("Mine", 1));
        st.put_event("team@group.calendar.google.com", "team1", event("The team's", 2));
        st.issue_tokens("ana@example.com")
    });
    // events.list: the primary calendar's events, as under its id; its sync token works.
    let (status, by_keyword) = call(&s, &token, Method::GET, "primary/events", None, None).await;
    assert_eq!(status, 200, "{by_keyword}");
    assert_eq!(ids(&by_keyword), vec!["mine1"], "not the team calendar's");
    assert_eq!(by_keyword["summary"], "ana@example.com");
    assert_eq!(ids(&by_keyword), ids(&list(&s, &token, "").await.1));
    let sync = by_keyword["nextSyncToken"].as_str().unwrap().to_string();
    s.with(|st| st.put_event("ana@example.com", "mine2", event("Mine too", 3)));
    let (status, changes) = call(&s, &token, Method::GET, &format!("primary/events?syncToken={sync}"), None, None).await;
    assert_eq!((status, ids(&changes)), (200, vec!["mine2".to_string()]));
    // events.get, insert, patch and delete: in the primary calendar.
    let (status, got) = call(&s, &token, Method::GET, "primary/events/mine1", None, None).await;
    assert_eq!((status, got["summary"].as_str()), (200, Some("Mine")));
    let mut booked = event("Booked", 4);
    booked["id"] = json!("booked0001");
    assert_eq!(call(&s, &token, Method::POST, "primary/events", Some(booked), None).await.0, 200);
    assert!(s.with(|st| st.calendars["ana@example.com"].events.contains_key("booked0001")));
    let (status, moved) = call(&s, &token, Method::PATCH, "primary/events/booked0001", Some(json!({"summary": "Booked (moved)"})), None).await;
    assert_eq!((status, moved["summary"].as_str()), (200, Some("Booked (moved)")));
    assert_eq!(call(&s, &token, Method::DELETE, "primary/events/booked0001", None, None).await.0, 204);
    assert_eq!(s.with(|st| st.calendars["ana@example.com"].events["booked0001"].0["status"].clone()), json!("cancelled"));
    // events.instances of a series in the primary calendar.
    let master = json!({"id": "standup01", "summary": "Standup", "start": {"dateTime": "2030-01-07T09:00:00+01:00", "timeZone": "Europe/Berlin"}, "end": {"dateTime": "2030-01-07T09:15:00+01:00", "timeZone": "Europe/Berlin"}, "recurrence": ["RRULE:FREQ=WEEKLY;COUNT=4"]});
    assert_eq!(call(&s, &token, Method::POST, "primary/events", Some(master), None).await.0, 200);
    let (status, instances) = call(&s, &token, Method::GET, "primary/events/standup01/instances", None, None).await;
    assert_eq!((status, instances["items"].as_array().map(Vec::len)), (200, Some(4)), "{instances}");
    // events.watch: a channel on the primary calendar, told of its changes.
    let watch = json!({"id": "calsync-primary-1", "type": "web_hook", "address": "http://127.0.0.1:9/hook", "token": "t0ken"});
    let (status, channel) = call(&s, &token, Method::POST, "primary/events/watch", Some(watch), None).await;
    assert_eq!(status, 200, "{channel}");
    assert_eq!(channel["resourceUri"], "https://www.googleapis.com/calendar/v3/calendars/ana@example.com/events");
    assert_eq!(s.with(|st| st.channels.iter().map(|c| c.calendar.clone()).collect::<Vec<_>>()), vec!["ana@example.com".to_string()]);
    // Another account's primary is its own calendar.
    let (bob, _) = s.with(|st| st.issue_tokens("bob@example.com"));
    let (status, bobs) = call(&s, &bob, Method::GET, "primary/events", None, None).await;
    assert_eq!((status, bobs["summary"].as_str(), ids(&bobs)), (200, Some("bob@example.com"), Vec::<String>::new()));
    assert_eq!(call(&s, &bob, Method::GET, "primary/events/mine1", None, None).await.0, 404);
}

#[tokio::test]
async fn the_calendars_own_entries_are_marked_self_and_every_event_has_a_type() {
    // providers.md: `attendees[].self` marks the calendar's own entry, `organizer{email,self}`,
    // `eventType` `default|outOfOffice|focusTime|workingLocation`, `responseStatus`.
    let s = sandbox().await;
    let (token, _) = s.with(|st| st.issue_tokens("ana@example.com"));
    s.with(|st| {
        st.put_event("ana@example.com", "mine", event("Mine", 1));
        let mut invite = event("Invite", 2);
        invite["organizer"] = json!({"email": "boss@example.com", "self": true});
        invite["attendees"] =
            json!([{"email": "Ana@Example.com", "responseStatus": "declined"}, {"email": "boss@example.com", "self": true}, {"email": "cy@example.com"}]);
        st.put_event("ana@example.com", "invite", invite);
        let mut away = event("Away", 3);
        away["eventType"] = json!("outOfOffice");
        st.put_event("ana@example.com", "away", away);
    });
    let (_, page) = list(&s, &token, "").await;
    let by_id = |id: &str| page["items"].as_array().unwrap().iter().find(|e| e["id"] == id).unwrap().clone();
    let mine = by_id("mine");
    assert_eq!((mine["eventType"].as_str(), &mine["organizer"]), (Some("default"), &json!({"email": "ana@example.com", "self": true})));
    let invite = by_id("invite");
    assert_eq!(invite["organizer"], json!({"email": "boss@example.com"}), "a client cannot claim self");
    let attendees = invite["attendees"].as_array().unwrap();
    assert_eq!(attendees[0], json!({"email": "Ana@Example.com", "responseStatus": "declined", "self": true}));
    assert_eq!(attendees[1], json!({"email": "boss@example.com", "responseStatus": "needsAction"}));
    assert_eq!(attendees[2]["responseStatus"], "needsAction");
    assert_eq!(by_id("away")["eventType"], "outOfOffice");
}
