//! The provider sandbox inside calsync, in builds with the `sandbox` feature (`make demo`, the
//! browser tests). A production build leaves it out and says so when asked for it.
use std::net::SocketAddr;

use server::config::Config;

/// What a build without the sandbox answers to `serve --sandbox` and `calsync sandbox`.
pub const ABSENT: &str =
    "this build of calsync has no provider sandbox: build it with the `sandbox` feature (`make demo` does: cargo leptos serve --bin-features sandbox)";

/// Starts the sandbox with its demo account and points Google and Outlook at it.
/// `CALSYNC_SANDBOX_ADDR`: where the browser tests reach its admin API (any free port else).
#[cfg(feature = "sandbox")]
pub async fn start_inside(config: &mut Config) -> Result<(), String> {
    let at = match std::env::var("CALSYNC_SANDBOX_ADDR") {
        Ok(a) => a.parse().map_err(|_| format!("CALSYNC_SANDBOX_ADDR: {a:?} is not an address like 127.0.0.1:3900"))?,
        Err(_) => SocketAddr::from(([127, 0, 0, 1], 0)),
    };
    let s = sandbox::Sandbox::start(at).await.map_err(|e| format!("starting the provider sandbox: {e}"))?;
    s.seed_demo();
    config.sync.google = s.google_endpoints();
    config.sync.outlook = s.microsoft_endpoints();
    tracing::warn!(sandbox = %s.url(), "provider sandbox: Google Calendar and Outlook are the sandbox here (demo account ana@example.com at both); nothing reaches Google or Microsoft");
    Ok(())
}

#[cfg(not(feature = "sandbox"))]
pub async fn start_inside(_config: &mut Config) -> Result<(), String> {
    Err(ABSENT.into())
}

/// `calsync sandbox`: the sandbox alone at `addr`, until Ctrl-C.
#[cfg(feature = "sandbox")]
pub async fn run_alone(addr: SocketAddr, demo: bool) -> Result<(), String> {
    let s = sandbox::Sandbox::start(addr).await.map_err(|e| format!("cannot listen on {addr}: {e}"))?;
    if demo {
        s.seed_demo();
    }
    eprintln!("provider sandbox at {} (Google Calendar v3, Microsoft Graph and their OAuth servers; admin API under /sandbox/)", s.url());
    eprintln!(
        "point calsync at it: CALSYNC_GOOGLE_AUTH_URL={} CALSYNC_GOOGLE_TOKEN_URL={} CALSYNC_GOOGLE_REVOKE_URL={} CALSYNC_GOOGLE_API_URL={} CALSYNC_GOOGLE_CLIENT_ID={} CALSYNC_GOOGLE_CLIENT_SECRET={}",
        s.google_auth_url(),
        s.google_token_url(),
        s.google_revoke_url(),
        s.google_api_url(),
        sandbox::CLIENT_ID,
        sandbox::CLIENT_SECRET
    );
    let _ = tokio::signal::ctrl_c().await;
    Ok(())
}

#[cfg(not(feature = "sandbox"))]
pub async fn run_alone(_addr: SocketAddr, _demo: bool) -> Result<(), String> {
    Err(ABSENT.into())
}
