//! Contract tests: the sandbox's Microsoft Graph and identity platform behave as
//! ../shared/docs/providers.md says, so Outlook adapter tests against it mean something.
use sandbox::{Sandbox, CLIENT_ID, CLIENT_SECRET};
use serde_json::{json, Value};

const ANA: &str = "ana@contoso.com";

fn event(subject: &str, day: u32) -> Value {
    json!({"subject": subject, "start": {"dateTime": format!("2030-01-{day:02}T09:00:00.0000000"), "timeZone": "UTC"}, "end": {"dateTime": format!("2030-01-{day:02}T10:00:00.0000000"), "timeZone": "UTC"}})
}

async fn get(url: &str, token: &str, page: Option<usize>) -> (u16, Value) {
    let mut r = reqwest::Client::new().get(url).bearer_auth(token);
    if let Some(n) = page {
        r = r.header("Prefer", format!("odata.maxpagesize={n}"));
    }
    let r = r.send().await.unwrap();
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn a_delta_round_pages_to_a_delta_link_and_the_next_round_has_only_changes_and_removals() {
    let s = Sandbox::start("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let (token, _) = s.with(|st| st.issue_ms_tokens(ANA));
    let cal = s.with(|st| {
        let cal = st.add_ms_account(ANA);
        for i in 1..=5 {
            st.put_graph_event(&cal, &format!("e{i}"), event(&format!("E{i}"), i));
        }
        st.put_graph_event(&cal, "far", event("Outside", 28));
        cal
    });
    let start = format!("{}/me/calendars/{cal}/calendarView/delta?startDateTime=2030-01-01T00:00:00Z&endDateTime=2030-01-20T00:00:00Z", s.graph_url());
    let (status, mut page) = get(&start, &token, Some(2)).await;
    assert_eq!(status, 200);
    let mut seen = Vec::new();
    loop {
        seen.extend(page["value"].as_array().unwrap().iter().map(|e| e["id"].as_str().unwrap().to_string()));
        match page["@odata.nextLink"].as_str() {
            Some(next) => {
                assert!(page.get("@odata.deltaLink").is_none());
                page = get(next, &token, Some(2)).await.1;
            }
            None => break,
        }
    }
    assert_eq!(seen, vec!["e1", "e2", "e3", "e4", "e5"], "the window leaves 'far' out");
    let delta = page["@odata.deltaLink"].as_str().unwrap().to_string();
    assert!(delta.contains("$deltatoken="));

    s.with(|st| {
        st.put_graph_event(&cal, "e2", event("E2 moved", 3));
        st.delete_graph_event(&cal, "e4");
        st.put_graph_event(&cal, "e5", event("E5 left the window", 25));
    });
    let (_, changes) = get(&delta, &token, None).await;
    let items = changes["value"].as_array().unwrap();
    assert_eq!(items.len(), 3);
    assert_eq!(items[0]["subject"], "E2 moved");
    assert_eq!(items[1]["@removed"]["reason"], "deleted");
    assert_eq!((items[2]["id"].as_str(), items[2].get("@removed").is_some()), (Some("e5"), true), "an event that left the window is removed");
    assert!(items[0]["changeKey"].is_string() && items[0]["@odata.etag"].as_str().unwrap().starts_with("W/"));

    s.with(|st| st.invalidate_delta(&cal));
    let (status, body) = get(changes["@odata.deltaLink"].as_str().unwrap(), &token, None).await;
    assert_eq!((status, body["error"]["code"].as_str()), (410, Some("syncStateNotFound")));
    let (status, body) = get(&format!("{}/me/calendars/{cal}/calendarView/delta", s.graph_url()), &token, None).await;
    assert_eq!((status, body["error"]["code"].as_str()), (400, Some("ErrorInvalidParameter")), "the window is required");
}

#[tokio::test]
async fn me_and_calendars_and_a_google_token_is_no_graph_token() {
    let s = Sandbox::start("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let (token, _) = s.with(|st| {
        st.add_graph_calendar(ANA, "AAMk-team", "Team", false);
        st.issue_ms_tokens(ANA)
    });
    let (_, me) = get(&format!("{}/me", s.graph_url()), &token, None).await;
    assert_eq!((me["mail"].as_str(), me["userPrincipalName"].as_str()), (Some(ANA), Some(ANA)));
    let (_, list) = get(&format!("{}/me/calendars", s.graph_url()), &token, None).await;
    let list = list["value"].as_array().unwrap();
    assert_eq!(list.iter().filter(|c| c["isDefaultCalendar"] == true).count(), 1);
    assert_eq!(list.iter().find(|c| c["name"] == "Team").unwrap()["canEdit"], false);
    let (google, _) = s.with(|st| st.issue_tokens("bob@example.com"));
    let (status, body) = get(&format!("{}/me", s.graph_url()), &google, None).await;
    assert_eq!((status, body["error"]["code"].as_str()), (401, Some("InvalidAuthenticationToken")));
}

#[tokio::test]
async fn the_microsoft_token_endpoint_rotates_the_refresh_token_and_keeps_the_old_one_working() {
    let s = Sandbox::start("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let (_, refresh) = s.with(|st| st.issue_ms_tokens(ANA));
    let url = format!("{}/common/oauth2/v2.0/token", s.microsoft_login_url());
    let form = |r: &str| {
        vec![
            ("grant_type", "refresh_token".to_string()),
            ("client_id", CLIENT_ID.into()),
            ("client_secret", CLIENT_SECRET.into()),
            ("refresh_token", r.to_string()),
        ]
    };
    let first: Value = reqwest::Client::new().post(&url).form(&form(&refresh)).send().await.unwrap().json().await.unwrap();
    let rotated = first["refresh_token"].as_str().unwrap();
    assert_ne!(rotated, refresh);
    let again = reqwest::Client::new().post(&url).form(&form(&refresh)).send().await.unwrap();
    assert_eq!(again.status(), 200, "the old refresh token is not revoked by the rotation");
    let (_, me) = get(&format!("{}/me", s.graph_url()), first["access_token"].as_str().unwrap(), None).await;
    assert_eq!(me["mail"], ANA);
}

async fn send(method: reqwest::Method, url: &str, token: &str, body: Option<Value>) -> (u16, Value) {
    let mut r = reqwest::Client::new().request(method, url).bearer_auth(token);
    if let Some(b) = body {
        r = r.json(&b);
    }
    let r = r.send().await.unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn events_are_created_once_per_transaction_id_patched_and_deleted() {
    use reqwest::Method;
    let s = Sandbox::start("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let (token, _) = s.with(|st| st.issue_ms_tokens(ANA));
    let cal = s.with(|st| st.add_ms_account(ANA));
    let mut body = event("Booked", 3);
    body["transactionId"] = json!("calsync-booking-42");
    let (status, made) = send(Method::POST, &format!("{}/me/calendars/{cal}/events", s.graph_url()), &token, Some(body.clone())).await;
    assert_eq!(status, 201, "{made}");
    assert!(made["id"].is_string() && made["changeKey"].is_string());
    // The same POST again (a retry): the event it made, not a second one.
    let (status, again) = send(Method::POST, &format!("{}/me/events", s.graph_url()), &token, Some(body)).await;
    assert_eq!((status, &again["id"]), (201, &made["id"]));
    assert_eq!(s.with(|st| st.graph[&cal].events.values().filter(|(e, _)| e.is_some()).count()), 1);
    let (status, missing) = send(Method::POST, &format!("{}/me/events", s.graph_url()), &token, Some(json!({"subject": "No times"}))).await;
    assert_eq!((status, missing["error"]["code"].as_str()), (400, Some("ErrorInvalidRequest")));

    let url = format!("{}/me/events/{}", s.graph_url(), made["id"].as_str().unwrap());
    let (status, moved) = send(Method::PATCH, &url, &token, Some(json!({"subject": "Moved"}))).await;
    assert_eq!((status, moved["subject"].as_str(), moved["transactionId"].as_str()), (200, Some("Moved"), Some("calsync-booking-42")));
    assert_ne!(moved["changeKey"], made["changeKey"]);
    assert_eq!(send(Method::DELETE, &url, &token, None).await.0, 204);
    let (status, gone) = send(Method::DELETE, &url, &token, None).await;
    assert_eq!((status, gone["error"]["code"].as_str()), (404, Some("ErrorItemNotFound")));
}

#[tokio::test]
async fn a_calendar_that_cannot_be_edited_refuses_writes_with_access_denied() {
    let s = Sandbox::start("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let (token, _) = s.with(|st| {
        st.add_graph_calendar(ANA, "shared-cal", "Shared", false);
        st.issue_ms_tokens(ANA)
    });
    let (status, body) = send(reqwest::Method::POST, &format!("{}/me/calendars/shared-cal/events", s.graph_url()), &token, Some(event("Nope", 4))).await;
    assert_eq!((status, body["error"]["code"].as_str()), (403, Some("ErrorAccessDenied")));
}

#[tokio::test]
async fn a_batch_carries_out_up_to_twenty_requests_each_with_its_own_status() {
    let s = Sandbox::start("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let (token, _) = s.with(|st| st.issue_ms_tokens(ANA));
    let cal = s.with(|st| st.add_ms_account(ANA));
    let url = format!("{}/$batch", s.graph_url());
    let post = |body: Value| {
        let (url, token) = (url.clone(), token.clone());
        async move {
            let r = reqwest::Client::new().post(&url).bearer_auth(&token).json(&body).send().await.unwrap();
            (r.status().as_u16(), r.json::<Value>().await.unwrap_or(Value::Null))
        }
    };
    let item = |id: &str, url: &str| json!({"id": id, "method": "POST", "url": url, "headers": {"Content-Type": "application/json"}, "body": event(&format!("B{id}"), 3)});
    // One made, one refused (no such calendar), one without a Content-Type: 200, each its own.
    let mut bare = item("3", &format!("/me/calendars/{cal}/events"));
    bare["headers"] = json!({});
    let (status, v) = post(json!({"requests": [item("1", &format!("/me/calendars/{cal}/events")), item("2", "/me/calendars/nope/events"), bare]})).await;
    assert_eq!(status, 200);
    let of = |id: &str| v["responses"].as_array().unwrap().iter().find(|r| r["id"] == id).unwrap().clone();
    assert_eq!(of("1")["status"], 201);
    assert_eq!(of("1")["body"]["subject"], "B1");
    assert_eq!((of("2")["status"].clone(), of("2")["body"]["error"]["code"].clone()), (json!(404), json!("ErrorItemNotFound")));
    assert_eq!(of("3")["status"], 400);
    assert_eq!(s.with(|st| st.graph[&cal].events.len()), 1);
    // More than 20, or ids twice: the whole batch is 400 and nothing is made.
    let many: Vec<Value> = (0..21).map(|i| item(&i.to_string(), &format!("/me/calendars/{cal}/events"))).collect();
    assert_eq!(post(json!({"requests": many})).await.0, 400);
    assert_eq!(post(json!({"requests": [item("1", &format!("/me/calendars/{cal}/events")), item("1", &format!("/me/calendars/{cal}/events"))]})).await.0, 400);
    assert_eq!(s.with(|st| st.graph[&cal].events.len()), 1);
    // Each item is authorized as the batch is.
    let r = reqwest::Client::new()
        .post(&url)
        .bearer_auth("wrong")
        .json(&json!({"requests": [item("1", &format!("/me/calendars/{cal}/events"))]}))
        .send()
        .await
        .unwrap();
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["responses"][0]["status"], 401);
}

#[tokio::test]
async fn a_series_lays_out_its_occurrences_and_each_is_changed_or_deleted_on_its_own() {
    use reqwest::Method;
    let s = Sandbox::start("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let (token, _) = s.with(|st| st.issue_ms_tokens(ANA));
    let cal = s.with(|st| st.add_ms_account(ANA));
    let mut body = event("Standup", 7);
    body["recurrence"] = json!({"pattern": {"type": "weekly", "interval": 1, "daysOfWeek": ["monday"], "firstDayOfWeek": "sunday"}, "range": {"type": "numbered", "startDate": "2030-01-07", "numberOfOccurrences": 4}});
    let (status, master) = send(Method::POST, &format!("{}/me/calendars/{cal}/events", s.graph_url()), &token, Some(body)).await;
    assert_eq!((status, master["type"].as_str()), (201, Some("seriesMaster")));
    let id = master["id"].as_str().unwrap().to_string();
    // calendarView lists the occurrences, not the master.
    let (_, view) = get(
        &format!("{}/me/calendars/{cal}/calendarView/delta?startDateTime=2030-01-01T00:00:00Z&endDateTime=2030-03-01T00:00:00Z", s.graph_url()),
        &token,
        None,
    )
    .await;
    let items = view["value"].as_array().unwrap();
    assert_eq!(items.len(), 4);
    assert!(items.iter().all(|e| e["type"] == "occurrence" && e["seriesMasterId"] == id.as_str()));
    assert_eq!(items[1]["originalStart"], "2030-01-14T09:00:00Z");
    // instances needs its window.
    let instances = format!("{}/me/events/{id}/instances", s.graph_url());
    let (status, refused) = get(&instances, &token, None).await;
    assert_eq!((status, refused["error"]["code"].as_str()), (400, Some("ErrorInvalidParameter")));
    let (_, listed) = get(&format!("{instances}?startDateTime=2030-01-10T00:00:00Z&endDateTime=2030-01-25T00:00:00Z"), &token, None).await;
    let listed = listed["value"].as_array().unwrap().clone();
    assert_eq!(listed.len(), 2);
    // Changed on its own: an exception; the series' new subject reaches only the others.
    let one = format!("{}/me/events/{}", s.graph_url(), listed[0]["id"].as_str().unwrap());
    let (_, changed) = send(Method::PATCH, &one, &token, Some(json!({"subject": "Standup (moved)"}))).await;
    assert_eq!(changed["type"], "exception");
    send(Method::PATCH, &format!("{}/me/events/{id}", s.graph_url()), &token, Some(json!({"subject": "Team standup"}))).await;
    let (_, after) = get(&format!("{instances}?startDateTime=2030-01-01T00:00:00Z&endDateTime=2030-03-01T00:00:00Z"), &token, None).await;
    let subjects: Vec<&str> = after["value"].as_array().unwrap().iter().map(|e| e["subject"].as_str().unwrap()).collect();
    assert_eq!(subjects, vec!["Team standup", "Standup (moved)", "Team standup", "Team standup"]);
    // Deleted on its own: gone from instances; the master deleted takes the rest.
    assert_eq!(send(Method::DELETE, &format!("{}/me/events/{}", s.graph_url(), listed[1]["id"].as_str().unwrap()), &token, None).await.0, 204);
    let (_, after) = get(&format!("{instances}?startDateTime=2030-01-01T00:00:00Z&endDateTime=2030-03-01T00:00:00Z"), &token, None).await;
    assert_eq!(after["value"].as_array().unwrap().len(), 3);
    assert_eq!(send(Method::DELETE, &format!("{}/me/events/{id}", s.graph_url()), &token, None).await.0, 204);
    assert_eq!(s.with(|st| st.graph[&cal].events.values().filter(|(e, _)| e.is_some()).count()), 0);
}

/// A notification URL that passes Graph's validation handshake (the token back as text).
async fn validating_hook() -> String {
    use axum::{extract::Query, routing::post, Router};
    let app = Router::new().route(
        "/hook",
        post(|Query(q): Query<std::collections::HashMap<String, String>>| async move { q.get("validationToken").cloned().unwrap_or_default() }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    url
}

#[tokio::test]
async fn the_default_calendar_answers_at_me_calendar_for_delta_writes_and_subscriptions() {
    use reqwest::Method;
    let s = Sandbox::start("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let (token, _) = s.with(|st| {
        st.add_graph_calendar(ANA, "AAMk-team", "Team", true);
        st.issue_ms_tokens(ANA)
    });
    let cal = s.with(|st| {
        let cal = st.add_ms_account(ANA);
        for i in 1..=3 {
            st.put_graph_event(&cal, &format!("e{i}"), event(&format!("E{i}"), i));
        }
        st.put_graph_event("AAMk-team", "t1", event("The team's", 2));
        cal
    });
    // GET /me/calendar: the default calendar.
    let (status, own) = get(&format!("{}/me/calendar", s.graph_url()), &token, None).await;
    assert_eq!((status, own["id"].as_str(), own["isDefaultCalendar"].as_bool()), (200, Some(cal.as_str()), Some(true)), "{own}");

    // Its delta: the default calendar's events only, paged, the links staying on its path.
    let window = "startDateTime=2030-01-01T00:00:00Z&endDateTime=2030-01-20T00:00:00Z";
    let (status, mut page) = get(&format!("{}/me/calendar/calendarView/delta?{window}", s.graph_url()), &token, Some(2)).await;
    assert_eq!(status, 200, "{page}");
    let mut seen = Vec::new();
    loop {
        seen.extend(page["value"].as_array().unwrap().iter().map(|e| e["id"].as_str().unwrap().to_string()));
        match page["@odata.nextLink"].as_str() {
            Some(next) => {
                assert!(next.contains("/me/calendar/calendarView/delta?$skiptoken="), "{next}");
                page = get(next, &token, Some(2)).await.1;
            }
            None => break,
        }
    }
    assert_eq!(seen, vec!["e1", "e2", "e3"], "not the team calendar's");
    let delta = page["@odata.deltaLink"].as_str().unwrap().to_string();
    assert!(delta.contains("/me/calendar/calendarView/delta?$deltatoken="), "{delta}");
    s.with(|st| st.put_graph_event(&cal, "e2", event("E2 moved", 4)));
    let (_, changes) = get(&delta, &token, None).await;
    let subjects: Vec<&str> = changes["value"].as_array().unwrap().iter().map(|e| e["subject"].as_str().unwrap()).collect();
    assert_eq!(subjects, vec!["E2 moved"]);
    // v1.0's documented delta of the primary calendar answers the same calendar.
    let (status, documented) = get(&format!("{}/me/calendarView/delta?{window}", s.graph_url()), &token, None).await;
    assert_eq!((status, documented["value"].as_array().map(Vec::len)), (200, Some(3)), "{documented}");
    assert!(documented["@odata.deltaLink"].as_str().unwrap().contains("/me/calendarView/delta?$deltatoken="));

    // POST /me/calendar/events, alone and in a batch: into the default calendar.
    let (status, made) = send(Method::POST, &format!("{}/me/calendar/events", s.graph_url()), &token, Some(event("Booked", 5))).await;
    assert_eq!(status, 201, "{made}");
    let made = made["id"].as_str().unwrap().to_string();
    let batch = json!({"requests": [{"id": "1", "method": "POST", "url": "/me/calendar/events", "headers": {"Content-Type": "application/json"}, "body": event("Batched", 6)}]});
    let (status, answer) = send(Method::POST, &format!("{}/$batch", s.graph_url()), &token, Some(batch)).await;
    assert_eq!((status, answer["responses"][0]["status"].as_u64()), (200, Some(201)), "{answer}");
    let batched = answer["responses"][0]["body"]["id"].as_str().unwrap().to_string();
    assert!(s.with(|st| st.graph[&cal].events.contains_key(&made) && st.graph[&cal].events.contains_key(&batched)));
    assert_eq!(s.with(|st| st.graph["AAMk-team"].events.len()), 1, "nothing went into the other calendar");

    // A subscription on /me/calendar/events: on the default calendar, told of its changes.
    let hook = validating_hook().await;
    let expires = (chrono::Utc::now() + chrono::Duration::hours(1)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let body = json!({"changeType": "created,updated,deleted", "notificationUrl": hook, "resource": "/me/calendar/events", "expirationDateTime": expires, "clientState": "s3cret"});
    let (status, sub) = send(Method::POST, &format!("{}/subscriptions", s.graph_url()), &token, Some(body)).await;
    assert_eq!((status, sub["resource"].as_str()), (201, Some("/me/calendar/events")), "{sub}");
    assert_eq!(s.with(|st| st.subscriptions.iter().map(|x| x.calendar.clone()).collect::<Vec<_>>()), vec![cal.clone()]);

    // Another account's /me/calendar is its own default calendar.
    let (bob, _) = s.with(|st| st.issue_ms_tokens("bob@contoso.com"));
    let (status, bobs) = get(&format!("{}/me/calendar", s.graph_url()), &bob, None).await;
    assert_eq!(status, 200);
    assert_ne!(bobs["id"].as_str(), Some(cal.as_str()));
    let (_, bobs_delta) = get(&format!("{}/me/calendar/calendarView/delta?{window}", s.graph_url()), &bob, None).await;
    assert_eq!(bobs_delta["value"].as_array().map(Vec::len), Some(0));
}

#[tokio::test]
async fn instances_come_in_pages_linked_by_next_links() {
    use reqwest::Method;
    let s = Sandbox::start("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let (token, _) = s.with(|st| st.issue_ms_tokens(ANA));
    let cal = s.with(|st| st.add_ms_account(ANA));
    let mut body = event("Daily", 7);
    body["recurrence"] =
        json!({"pattern": {"type": "daily", "interval": 1}, "range": {"type": "numbered", "startDate": "2030-01-07", "numberOfOccurrences": 25}});
    let (_, master) = send(Method::POST, &format!("{}/me/calendars/{cal}/events", s.graph_url()), &token, Some(body)).await;
    let id = master["id"].as_str().unwrap();
    // Ten a page unless `$top` asks for more; the next link carries the rest.
    let mut next = Some(format!("{}/me/events/{id}/instances?startDateTime=2030-01-01T00:00:00Z&endDateTime=2030-03-01T00:00:00Z", s.graph_url()));
    let mut pages = Vec::new();
    while let Some(url) = next {
        let (status, page) = get(&url, &token, None).await;
        assert_eq!(status, 200);
        pages.push(page["value"].as_array().unwrap().iter().map(|e| e["originalStart"].as_str().unwrap().to_string()).collect::<Vec<_>>());
        next = page["@odata.nextLink"].as_str().map(str::to_string);
    }
    assert_eq!(pages.iter().map(Vec::len).collect::<Vec<_>>(), vec![10, 10, 5]);
    let all: Vec<String> = pages.concat();
    assert_eq!((all[0].as_str(), all[24].as_str()), ("2030-01-07T09:00:00Z", "2030-01-31T09:00:00Z"));
    let (_, one) =
        get(&format!("{}/me/events/{id}/instances?startDateTime=2030-01-01T00:00:00Z&endDateTime=2030-03-01T00:00:00Z&$top=100", s.graph_url()), &token, None)
            .await;
    assert_eq!(one["value"].as_array().unwrap().len(), 25);
    assert!(one.get("@odata.nextLink").is_none());
}

#[tokio::test]
async fn an_event_made_in_the_calendar_is_organised_by_its_owner_and_an_invitation_is_not() {
    // providers.md: `showAs`, `responseStatus.response` (`organizer` for the owner's own
    // events), `isOrganizer`, `isAllDay`.
    let s = Sandbox::start("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let (token, _) = s.with(|st| st.issue_ms_tokens(ANA));
    let cal = s.with(|st| {
        let cal = st.add_ms_account(ANA);
        st.put_graph_event(&cal, "mine", event("Mine", 1));
        let mut invite = event("Invite", 2);
        invite["isOrganizer"] = json!(false);
        st.put_graph_event(&cal, "invite", invite);
        cal
    });
    let url = format!("{}/me/calendars/{cal}/calendarView/delta?startDateTime=2030-01-01T00:00:00Z&endDateTime=2030-01-20T00:00:00Z", s.graph_url());
    let (_, page) = get(&url, &token, None).await;
    let by_id = |id: &str| page["value"].as_array().unwrap().iter().find(|e| e["id"] == id).unwrap().clone();
    let mine = by_id("mine");
    assert_eq!(
        (mine["isOrganizer"].as_bool(), mine["responseStatus"]["response"].as_str(), mine["showAs"].as_str(), mine["isAllDay"].as_bool()),
        (Some(true), Some("organizer"), Some("busy"), Some(false))
    );
    let invite = by_id("invite");
    assert_eq!((invite["isOrganizer"].as_bool(), invite["responseStatus"]["response"].as_str()), (Some(false), Some("notResponded")));
}
