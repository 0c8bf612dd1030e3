//! The primary-calendar switch: at most one active primary calendar per user, where bookings
//! are written.
use super::*;

pub(super) async fn other_active_primary(conn: &mut Conn<'_>, user_id: i64, except: Option<i64>) -> Result<Option<String>> {
    let except = except.unwrap_or(-1);
    Ok(run!(conn, |c| ci::table
        .filter(ci::user_id.eq(user_id))
        .filter(ci::is_primary.eq(true))
        .filter(ci::is_active.eq(true))
        .filter(ci::id.ne(except))
        .select(ci::integration_name)
        .first::<String>(c)
        .await
        .optional())?)
}

/// Unmarks the owner's other primaries (all of them, or only inactive ones) in one statement;
/// returns a notice per calendar unmarked.
pub(super) async fn unmark_others(conn: &mut Conn<'_>, user_id: i64, keep: i64, only_inactive: bool, by: i64) -> Result<Vec<String>> {
    let states: &[bool] = if only_inactive { &[false] } else { &[false, true] };
    macro_rules! others {
        () => {
            ci::table.filter(ci::user_id.eq(user_id)).filter(ci::is_primary.eq(true)).filter(ci::id.ne(keep)).filter(ci::is_active.eq_any(states))
        };
    }
    let names: Vec<String> = run!(conn, |c| others!().select(ci::integration_name).order(ci::id).load::<String>(c).await)?;
    if !names.is_empty() {
        run!(conn, |c| diesel::update(others!())
            .set((ci::is_primary.eq(false), ci::version.eq(ci::version + 1), ci::modified_at.eq(now()), ci::modified_by.eq(Some(by))))
            .execute(c)
            .await)?;
    }
    Ok(names.iter().map(|n| rules::msg_unmarked(n)).collect())
}

/// "Make primary": switches the owner's primary to this calendar in one transaction.
pub async fn make_primary(conn: &mut Conn<'_>, actor: Actor, name: &str) -> Result<Saved> {
    let name = name.to_string();
    conn.write_tx(move |mut c| {
        Box::pin(async move {
            let c = &mut c;
            let current = get(c, actor, &name).await?;
            if !current.is_active {
                return Err(Error::invalid("is_primary", rules::MSG_ONLY_ACTIVE_PRIMARY));
            }
            let messages = unmark_others(c, current.user_id, current.id, false, actor.user_id).await?;
            if !current.is_primary {
                run!(c, |cc| diesel::update(ci::table.find(current.id))
                    .set((ci::is_primary.eq(true), ci::version.eq(ci::version + 1), ci::modified_at.eq(now()), ci::modified_by.eq(Some(actor.user_id))))
                    .execute(cc)
                    .await)?;
            }
            let mut warnings = Vec::new();
            if current.integration_type == IntegrationType::Ical {
                warnings.push(Warning { field: Some("is_primary".into()), message: rules::msg_ical_primary(&current.integration_name), danger: false });
            }
            let integration = get(c, actor, &name).await?;
            let who = history::who(c, actor).await?;
            history::record(c, integration.id, &name, "update", &who, Some(&current), Some(&integration), now()).await?;
            Ok(Saved { integration, warnings, messages })
        })
    })
    .await
}
