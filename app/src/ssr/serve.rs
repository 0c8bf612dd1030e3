//! `calsync serve`: migrate, connect, listen, and stop cleanly on SIGTERM or Ctrl-C.
use super::{http::router, AppState};
use server::{config::Config, db::Pool};
use std::{net::SocketAddr, time::Duration};
use tower_sessions::ExpiredDeletion;

/// The demo's sign-in (`serve --sandbox` on an empty database only).
pub const DEMO_EMAIL: &str = "demo@example.com";
pub const DEMO_PASSWORD: &str = "calsync demo 2026";

/// `sandbox`: the provider sandbox runs inside, seeded with a demo account, and Google is
/// reached there (`serve --sandbox`, `make demo`).
pub async fn serve(mut config: Config, addr: Option<SocketAddr>, sandbox: bool) -> Result<(), String> {
    if sandbox {
        super::sandbox::start_inside(&mut config).await?;
    }
    let applied = server::db::run_migrations(&config.database_url).await.map_err(|e| e.to_string())?;
    if !applied.is_empty() {
        tracing::info!(count = applied.len(), "applied database migrations");
    }
    let pool = Pool::connect(&config.database_url).await.map_err(|e| e.to_string())?;
    {
        let mut pooled = pool.get().await.map_err(|e| e.to_string())?;
        let none = server::domain::users::count(&mut pooled.conn()).await.map_err(|e| e.to_string())? == 0;
        if none && sandbox {
            // The demo: someone to sign in as, said in the log.
            let demo = server::domain::users::NewUser {
                email: DEMO_EMAIL.into(),
                full_name: "Demo".into(),
                password: DEMO_PASSWORD.into(),
                role: server::domain::users::Role::Admin,
                time_zone: config.default_tz.name().into(),
            };
            server::domain::users::create(&mut pooled.conn(), config.password_cost, demo).await.map_err(|e| e.to_string())?;
            tracing::warn!("demo: sign in as {DEMO_EMAIL} with the password \"{DEMO_PASSWORD}\"");
        } else if none {
            let exe = std::env::current_exe()
                .ok()
                .and_then(|p| std::env::current_dir().ok().and_then(|d| p.strip_prefix(d).ok().map(|r| format!("./{}", r.display()))))
                .unwrap_or_else(|| "calsync".into());
            tracing::warn!("no users yet: create the first admin with `{exe} user add you@example.com --admin`");
        }
    }
    let (keys, _) = server::keys::load(&config, &pool).await?;
    let addr = addr.unwrap_or(config.addr);
    if !config.public_url_set {
        // Pages post only to the address they were opened at: by default, the one we listen on.
        config.public_url = server::config::default_public_url(addr);
    }
    config.sync.webhook_base = config.webhook_base();
    let mut leptos_options = leptos::config::get_configuration(None).map_err(|e| e.to_string())?.leptos_options;
    leptos_options.site_addr = addr;

    // Housekeeping: forget expired sessions and old sign-in failures.
    let store = server::sessions::DbSessionStore::new(pool.clone());
    let housekeeping_pool = pool.clone();
    let housekeeping = tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(600));
        loop {
            tick.tick().await;
            if let Err(e) = store.delete_expired().await {
                tracing::warn!(error = %e, "deleting expired sessions");
            }
            if let Ok(mut pooled) = housekeeping_pool.get().await {
                let _ = server::domain::sign_in::prune(&mut pooled.conn()).await;
            }
        }
    });

    let backend = format!("{:?}", pool.backend());
    let state = AppState::new(pool, config, keys);
    let (stop_scheduler, stopped) = tokio::sync::watch::channel(false);
    // The sync slots always run here ("Sync now" waits for a free one); whether they also take
    // due calendars is CALSYNC_SCHEDULER's choice (another process may do that).
    let mode = if state.config.scheduler { server::sync::Claim::Due } else { server::sync::Claim::Queued };
    tracing::info!(
        worker = state.engine.worker(),
        slots = state.config.sync.concurrency,
        tick_s = state.config.sync.tick.as_secs(),
        ?mode,
        "sync slots started"
    );
    let scheduler = Some(tokio::spawn(state.engine.clone().dispatch(mode, stopped)));
    let state_public_url = state.config.public_url.clone();
    let app = router(state, leptos_options);
    let listener = tokio::net::TcpListener::bind(addr).await.map_err(|e| format!("cannot listen on {addr}: {e}"))?;
    tracing::info!(%addr, database = %backend, public_url = %state_public_url, "calsync listening on http://{addr}");
    axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>())
        .with_graceful_shutdown(shutdown_signal())
        .await
        .map_err(|e| e.to_string())?;
    housekeeping.abort();
    let _ = stop_scheduler.send(true);
    if let Some(scheduler) = scheduler {
        let _ = scheduler.await;
    }
    tracing::info!("calsync stopped");
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
    tracing::info!("shutting down: finishing open requests");
}
