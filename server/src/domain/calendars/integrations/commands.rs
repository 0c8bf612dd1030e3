//! Creating, changing and deleting calendar records, through the spec's rules (`rules`).
use super::*;

/// The first free name among `base`, `base 2`, `base 3`, … for the owner's calendars.
pub async fn free_name(conn: &mut Conn<'_>, user_id: i64, base: &str) -> Result<String> {
    for n in 1..1000 {
        let candidate = if n == 1 { base.to_string() } else { format!("{base} {n}") };
        if !name_taken(conn, user_id, &candidate, None).await? {
            return Ok(candidate);
        }
    }
    Err(Error::Conflict(format!("Too many calendars are named {base}.")))
}

/// The associated data of a stored secret: its column and record.
pub(super) fn context(column: &str, name: &str) -> String {
    format!("{column}:{name}")
}

pub(super) async fn name_taken(conn: &mut Conn<'_>, user_id: i64, name: &str, except: Option<i64>) -> Result<bool> {
    let except = except.unwrap_or(-1);
    Ok(run!(conn, |c| ci::table
        .filter(ci::user_id.eq(user_id))
        .filter(ci::integration_name.eq(name))
        .filter(ci::id.ne(except))
        .count()
        .get_result::<i64>(c)
        .await)?
        > 0)
}

pub(super) fn invalid(checked: Checked) -> Error {
    Error::Invalid(checked.report)
}

/// The owner of a new record: yourself, or (admins only) the user named.
pub(super) async fn resolve_owner(conn: &mut Conn<'_>, actor: Actor, requested: Option<&str>) -> Result<(Option<users::User>, Option<String>)> {
    let me = users::get(conn, actor.user_id).await?;
    match requested.map(str::trim) {
        None => Ok((Some(me.clone()), Some(me.email))),
        Some(email) if email.eq_ignore_ascii_case(&me.email) => Ok((Some(me.clone()), Some(me.email))),
        Some(_) if !actor.is_admin => Err(Error::Forbidden(MSG_OWN_ONLY.into())),
        Some("") => Ok((None, None)),
        Some(email) => Ok((users::find_by_email(conn, email).await?, Some(email.to_string()))),
    }
}

/// How many calendars one user may have (`CALSYNC_MAX_CALENDARS_PER_USER`): each is synced on
/// the shared slots, so one account cannot take them all. Set once at start from the
/// configuration.
pub(super) static MAX_PER_USER: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(50);

pub fn set_max_per_user(max: usize) {
    MAX_PER_USER.store(max.max(1), std::sync::atomic::Ordering::Relaxed);
}

pub(super) fn max_per_user() -> usize {
    std::sync::atomic::AtomicUsize::load(&MAX_PER_USER, std::sync::atomic::Ordering::Relaxed)
}

/// Creates a record through every rule. Names it `MM-CI-{email}-{####}` from a per-user counter
/// that only grows, in the same transaction as the insert.
pub async fn create(conn: &mut Conn<'_>, keys: &Keyring, actor: Actor, patch: Patch) -> Result<Saved> {
    let keys = keys.clone();
    conn.write_tx(move |mut c| {
        Box::pin(async move {
            let c = &mut c;
            let (owner, user_text) = resolve_owner(c, actor, patch.user.as_deref()).await?;
            let tz = owner.as_ref().map(|o| o.tz()).unwrap_or(chrono_tz::UTC);
            let (mut draft, parse_errors) = rules::apply(Draft::defaults(), &patch, true, tz);
            let facts = match &owner {
                Some(o) => Facts {
                    user: user_text.clone(),
                    user_exists: true,
                    name_taken: name_taken(c, o.id, &draft.integration_name, None).await?,
                    other_active_primary: other_active_primary(c, o.id, None).await?,
                    was_primary: false,
                    now: now(),
                    tz: Some(tz),
                    // A new record has no account yet (the picker links it after).
                    refreshed_automatically: false,
                },
                None => Facts { user: user_text.clone(), now: now(), ..Facts::default() },
            };
            let checked = rules::check(&mut draft, &facts, parse_errors);
            if !checked.report.errors.is_empty() {
                return Err(invalid(checked));
            }
            let owner = owner.expect("a user exists when the rules pass");
            let owned: i64 = run!(c, |cc| ci::table.filter(ci::user_id.eq(owner.id)).count().get_result(cc).await)?;
            let max = max_per_user();
            if owned as usize >= max {
                return Err(Error::Conflict(format!(
                    "{} has {owned} calendars, the most one person may have ({max}). Delete one that is no longer needed, or ask your administrator to raise CALSYNC_MAX_CALENDARS_PER_USER.",
                    owner.email
                )));
            }
            let number = run!(c, |cc| diesel::insert_into(integration_counters::table)
                .values((integration_counters::user_id.eq(owner.id), integration_counters::last_number.eq(1i64)))
                .on_conflict(integration_counters::user_id)
                .do_update()
                .set(integration_counters::last_number.eq(integration_counters::last_number + 1))
                .returning(integration_counters::last_number)
                .get_result::<i64>(cc)
                .await)?;
            let name = format!("MM-CI-{}-{:04}", owner.email, number);
            let seal = |col: &str, change: &SecretChange| match change {
                SecretChange::Set(s) => Some(keys.encrypt(s, &context(col, &name))),
                _ => None,
            };
            let access = seal("access_token", &draft.access_token);
            let refresh = seal("refresh_token", &draft.refresh_token);
            let (shown_url, sealed_url) = seal_url(&keys, &name, draft.ical_url.as_deref());
            let ts = now();
            let inserted = run!(c, |cc| diesel::insert_into(ci::table)
                .values((
                    Columns::of(&draft, ts, actor.user_id),
                    ci::ical_url.eq(&shown_url),
                    ci::ical_url_secret.eq(&sealed_url),
                    ci::name.eq(&name),
                    ci::user_id.eq(owner.id),
                    ci::access_token.eq(&access),
                    ci::refresh_token.eq(&refresh),
                    ci::sync_status.eq(SyncStatus::Pending.as_str()),
                    ci::version.eq(1i64),
                    ci::created_at.eq(ts),
                    ci::created_by.eq(Some(actor.user_id)),
                ))
                .returning(ci::id)
                .get_result::<i64>(cc)
                .await);
            let id = match inserted {
                Ok(id) => id,
                // A concurrent save took the name between the check and the insert.
                Err(e) if is_unique_violation(&e) => {
                    return Err(Error::Invalid(Report {
                        errors: vec![FieldMessage::new("integration_name", rules::msg_name_taken(&draft.integration_name, &owner.email))],
                        warnings: checked.report.warnings,
                    }))
                }
                Err(e) => return Err(e.into()),
            };
            crate::domain::schedule::create(c, id, draft.is_active && draft.auto_sync_enabled).await?;
            let mut messages = checked.messages;
            if draft.is_primary && draft.is_active {
                messages.extend(unmark_others(c, owner.id, id, true, actor.user_id).await?);
            }
            let integration = get(c, actor, &name).await?;
            let who = history::who(c, actor).await?;
            history::record(c, integration.id, &name, "create", &who, None, Some(&integration), now()).await?;
            Ok(Saved { integration, warnings: checked.report.warnings, messages })
        })
    })
    .await
}

/// Updates a record through every rule; refuses a save based on an older version.
pub async fn update(conn: &mut Conn<'_>, keys: &Keyring, actor: Actor, name: &str, patch: Patch) -> Result<Saved> {
    let keys = keys.clone();
    let name = name.to_string();
    conn.write_tx(move |mut c| {
        Box::pin(async move {
            let c = &mut c;
            let current = get(c, actor, &name).await?;
            if let Some(user) = patch.user.as_deref().map(str::trim) {
                if !user.eq_ignore_ascii_case(&current.user) {
                    if !actor.is_admin {
                        return Err(Error::Forbidden(MSG_OWN_ONLY.into()));
                    }
                    return Err(Error::invalid("user", "The owner of a calendar cannot be changed; add the calendar for the other user instead."));
                }
            }
            if patch.version.is_some_and(|v| v != current.version) {
                return Err(Error::Conflict(MSG_CONCURRENT.into()));
            }
            let tz = current.tz();
            // The rules see the full address; a form that shows someone else's feed masked
            // sends the masked form back, which means "unchanged".
            let current_url = current.feed_url(&keys)?;
            let mut start = current.draft();
            start.ical_url = current_url.clone();
            let mut patch = patch;
            if current.ical_url.is_some() && patch.ical_url.as_deref().map(str::trim) == current.ical_url.as_deref() {
                patch.ical_url = None;
            }
            let (mut draft, parse_errors) = rules::apply(start, &patch, false, tz);
            let facts = Facts {
                user: Some(current.user.clone()),
                user_exists: true,
                name_taken: name_taken(c, current.user_id, &draft.integration_name, Some(current.id)).await?,
                other_active_primary: other_active_primary(c, current.user_id, Some(current.id)).await?,
                was_primary: current.is_primary,
                now: now(),
                tz: Some(tz),
                refreshed_automatically: refreshed_automatically(c, &current).await?,
            };
            let checked = rules::check(&mut draft, &facts, parse_errors);
            if !checked.report.errors.is_empty() {
                return Err(invalid(checked));
            }
            let seal = |col: &str, change: &SecretChange| -> Option<Option<String>> {
                match change {
                    SecretChange::Keep => None,
                    SecretChange::Clear => Some(None),
                    SecretChange::Set(s) => Some(Some(keys.encrypt(s, &context(col, &current.name)))),
                }
            };
            let access = seal("access_token", &draft.access_token);
            let refresh = seal("refresh_token", &draft.refresh_token);
            let ts = now();
            let changed = run!(c, |cc| diesel::update(ci::table.filter(ci::id.eq(current.id)).filter(ci::version.eq(current.version)))
                .set((Columns::of(&draft, ts, actor.user_id), ci::version.eq(ci::version + 1)))
                .execute(cc)
                .await)?;
            if changed == 0 {
                return Err(Error::Conflict(MSG_CONCURRENT.into()));
            }
            if let Some(v) = access {
                run!(c, |cc| diesel::update(ci::table.find(current.id)).set(ci::access_token.eq(&v)).execute(cc).await)?;
            }
            if let Some(v) = refresh {
                run!(c, |cc| diesel::update(ci::table.find(current.id)).set(ci::refresh_token.eq(&v)).execute(cc).await)?;
            }
            if draft.ical_url != current_url {
                let (shown, sealed) = seal_url(&keys, &current.name, draft.ical_url.as_deref());
                run!(c, |cc| diesel::update(ci::table.find(current.id)).set((ci::ical_url.eq(&shown), ci::ical_url_secret.eq(&sealed))).execute(cc).await)?;
            }
            let mut messages = checked.messages;
            if draft.is_primary && draft.is_active {
                messages.extend(unmark_others(c, current.user_id, current.id, true, actor.user_id).await?);
            }
            let integration = get(c, actor, &name).await?;
            if integration.busy_rules != current.busy_rules {
                crate::domain::busy_rules::apply(c, integration.id, &integration.busy_rules).await?;
            }
            reschedule(c, &current, &integration).await?;
            let who = history::who(c, actor).await?;
            history::record(c, integration.id, &name, "update", &who, Some(&current), Some(&integration), ts).await?;
            Ok(Saved { integration, warnings: checked.report.warnings, messages })
        })
    })
    .await
}

/// What the calendar's stored events would do under the rules `patch` carries (`busy_rules`,
/// `free_title_patterns`, `own_addresses`), in [from, to), without saving anything: the
/// record, the rules and addresses as they would be saved, and the preview. Unreadable input
/// is refused with a message per field, as a save would.
pub async fn preview_busy(
    conn: &mut Conn<'_>,
    actor: Actor,
    name: &str,
    patch: &Patch,
    from: NaiveDateTime,
    to: NaiveDateTime,
) -> Result<(Integration, Draft, crate::domain::busy_rules::Preview)> {
    let current = get(conn, actor, name).await?;
    let only = Patch {
        busy_rules: patch.busy_rules.clone(),
        free_title_patterns: patch.free_title_patterns.clone(),
        own_addresses: patch.own_addresses.clone(),
        ..Patch::default()
    };
    let (draft, errors) = rules::apply(current.draft(), &only, false, current.tz());
    if !errors.is_empty() {
        return Err(Error::Invalid(Report { errors, warnings: Vec::new() }));
    }
    let preview = crate::domain::busy_rules::preview(conn, &current, &draft.busy_rules, from.and_utc(), to.and_utc()).await?;
    Ok((current, draft, preview))
}

/// A new feed address is fetched afresh at once; a new interval or reactivation counts from
/// the last successful sync.
pub(super) async fn reschedule(c: &mut Conn<'_>, before: &Integration, after: &Integration) -> Result<()> {
    use crate::db::schema::sync_cursors as sc;
    // An address is sealed anew only when it changed. New owner addresses: every event is
    // read again for the owner's answers.
    if before.sealed_url != after.sealed_url || before.calendar_id != after.calendar_id || before.own_addresses != after.own_addresses {
        run!(c, |cc| diesel::delete(sc::table.find(after.id)).execute(cc).await)?;
        return crate::domain::schedule::set_due(c, after.id, None, after.is_active && after.auto_sync_enabled).await;
    }
    let schedule = |i: &Integration| (i.is_active, i.auto_sync_enabled, i.sync_interval_minutes);
    if schedule(before) != schedule(after) {
        let due = after.last_sync.map(|l| l + chrono::Duration::minutes(after.sync_interval_minutes as i64));
        return crate::domain::schedule::set_due(c, after.id, due, after.is_active && after.auto_sync_enabled).await;
    }
    Ok(())
}

/// For the push: a calendar that refused a write becomes One-way, with `message` (why) as its
/// error until the next sync.
pub async fn make_read_only(conn: &mut Conn<'_>, id: i64, message: &str) -> Result<()> {
    let message = message.to_string();
    conn.write_tx(move |mut c| {
        Box::pin(async move {
            let before = get_by_id(&mut c, id).await?;
            run!(&mut c, |cc| diesel::update(ci::table.find(id))
                .set((
                    ci::sync_direction.eq(SyncDirection::OneWay.as_str()),
                    ci::sync_error_log.eq(Some(&message)),
                    ci::version.eq(ci::version + 1),
                    ci::modified_at.eq(now())
                ))
                .execute(cc)
                .await)?;
            let after = get_by_id(&mut c, id).await?;
            history::record(&mut c, id, &after.name, "update", "push (the calendar refused a write)", Some(&before), Some(&after), now()).await?;
            Ok(())
        })
    })
    .await
}

/// Deletes a record (its counter number is never given out again).
pub async fn delete(conn: &mut Conn<'_>, actor: Actor, name: &str) -> Result<Integration> {
    let name = name.to_string();
    conn.write_tx(move |mut c| {
        Box::pin(async move {
            let c = &mut c;
            let current = get(c, actor, &name).await?;
            // The row first: a sync writing results holds it (see sync::runs::holds_lease).
            run!(c, |cc| diesel::delete(ci::table.find(current.id)).execute(cc).await)?;
            crate::domain::stored_events::delete_all(c, current.id).await?;
            let who = history::who(c, actor).await?;
            history::record(c, current.id, &current.name, "delete", &who, Some(&current), None, now()).await?;
            Ok(current)
        })
    })
    .await
}
