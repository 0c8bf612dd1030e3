//! The `calsync` command line. Exit codes: 0 success, 1 the work failed, 2 usage error.
use clap::{Parser, Subcommand};
use server::{
    config::Config,
    db::Pool,
    domain::audit::By,
    domain::users::{self, NewUser, Role},
};
use std::{io::IsTerminal, net::SocketAddr};

#[derive(Parser, Debug)]
#[command(name = "calsync", version, about = "Calendar integration service: connects Google, Outlook and iCal calendars to bookings.")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the web app (the default when no command is given).
    Serve {
        /// Address to listen on (wins over CALSYNC_ADDR and LEPTOS_SITE_ADDR).
        #[arg(long)]
        addr: Option<SocketAddr>,
        /// Run the provider sandbox inside (a stand-in for Google with a demo account, on
        /// loopback) and connect to it instead of the real providers (also CALSYNC_SANDBOX=1).
        #[arg(long)]
        sandbox: bool,
    },
    /// Run the provider sandbox alone (a stand-in for Google Calendar and its sign-in).
    Sandbox {
        #[arg(long, default_value = "127.0.0.1:3900")]
        addr: SocketAddr,
        /// Seed the demo account (ana@example.com) with calendars and events.
        #[arg(long)]
        demo: bool,
    },
    /// Apply pending database migrations and exit.
    Migrate,
    /// Manage user accounts.
    #[command(subcommand)]
    User(UserCommand),
    /// Personal API tokens for /api/v1.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Token-encryption keys.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// iCalendar feeds.
    #[command(subcommand)]
    Ical(IcalCommand),
    /// Run the due syncs once and exit (`serve` runs them on a schedule).
    Sync {
        /// Run once and exit (required: the schedule belongs to `serve`).
        #[arg(long, required = true)]
        once: bool,
        /// Sync this calendar (its record name, MM-CI-…), even if it is not due.
        #[arg(long, value_name = "NAME")]
        integration: Option<String>,
        /// Apply the sync even if it removes most of the calendar's events (the deletion
        /// guard would hold it). Only with --integration.
        #[arg(long, requires = "integration")]
        allow_mass_delete: bool,
    },
}

#[derive(Subcommand, Debug)]
pub enum IcalCommand {
    /// Show the instances a feed yields in a window, or where it cannot be read.
    Inspect {
        /// A file, or an http(s):// or webcal:// address.
        #[arg(value_name = "FILE_OR_URL")]
        source: String,
        /// Window start: a date (read in --tz) or an RFC 3339 instant [default: 30 days ago].
        #[arg(long, value_name = "DATE")]
        from: Option<String>,
        /// Window end, exclusive [default: 90 days ahead].
        #[arg(long, value_name = "DATE")]
        to: Option<String>,
        /// Zone for floating times, all-day dates and the table.
        #[arg(long, value_name = "ZONE", default_value = "UTC")]
        tz: String,
        /// Print one JSON array instead of a table.
        #[arg(long)]
        json: bool,
        /// Your address in the feed (repeatable): invitations to it you declined or have not
        /// answered get those kinds.
        #[arg(long = "me", value_name = "EMAIL")]
        me: Vec<String>,
    },
}

#[derive(Subcommand, Debug)]
pub enum TokenCommand {
    /// Create an API token for a user; prints only the token.
    Create {
        email: String,
        /// What the token is for (shown on the user's settings page).
        #[arg(long, default_value = "CLI token")]
        label: String,
        /// The token stops working after this many days (default: until revoked).
        #[arg(long, value_name = "DAYS")]
        expires_days: Option<i64>,
    },
}

#[derive(Subcommand, Debug)]
pub enum KeysCommand {
    /// Add a new key and re-encrypt every stored token with it.
    Rotate,
}

#[derive(Subcommand, Debug)]
pub enum UserCommand {
    /// Create a user (prompts for the password on a terminal).
    Add {
        email: String,
        /// Full name.
        #[arg(long, default_value = "")]
        name: String,
        /// Make the user an admin (System Manager).
        #[arg(long)]
        admin: bool,
        /// Time zone (IANA name); default CALSYNC_DEFAULT_TZ.
        #[arg(long)]
        tz: Option<String>,
        /// Read the password from the first line of standard input.
        #[arg(long)]
        password_stdin: bool,
    },
    /// Set a user's password.
    Passwd {
        email: String,
        /// Read the password from the first line of standard input.
        #[arg(long)]
        password_stdin: bool,
    },
    /// List users.
    List {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Disable a user: they cannot sign in and their sessions end.
    Disable { email: String },
    /// Enable a disabled user.
    Enable { email: String },
    /// Set a user's role.
    Role {
        email: String,
        #[arg(value_parser = ["admin", "user"])]
        role: String,
    },
}

/// A failure with its exit code and the message for stderr.
pub struct Failure {
    pub code: u8,
    pub message: String,
}

fn work<E: std::fmt::Display>(e: E) -> Failure {
    Failure { code: 1, message: e.to_string() }
}

fn domain(e: server::domain::Error) -> Failure {
    use server::domain::Error as E;
    let message = match e {
        E::Invalid(report) => report.errors.into_iter().map(|m| m.message).collect::<Vec<_>>().join("\n"),
        E::NotFound => "not found".into(),
        E::Unauthenticated(m) | E::Forbidden(m) | E::Conflict(m) | E::TooManyAttempts(m) => m,
        E::Internal(m) => m,
    };
    Failure { code: 1, message }
}

fn read_password(from_stdin: bool) -> Result<String, Failure> {
    if from_stdin {
        let mut line = String::new();
        std::io::stdin().read_line(&mut line).map_err(work)?;
        return Ok(line.trim_end_matches(['\r', '\n']).to_string());
    }
    if !std::io::stdin().is_terminal() {
        return Err(Failure { code: 2, message: "no password given: pass --password-stdin, or run on a terminal to be asked".into() });
    }
    let first = rpassword::prompt_password("Password: ").map_err(work)?;
    let again = rpassword::prompt_password("Password again: ").map_err(work)?;
    if first != again {
        return Err(Failure { code: 1, message: "the two passwords do not match".into() });
    }
    Ok(first)
}

async fn open(config: &Config) -> Result<Pool, Failure> {
    server::db::run_migrations(&config.database_url).await.map_err(work)?;
    Pool::connect_sized(&config.database_url, 2).await.map_err(work)
}

async fn find(pool: &Pool, email: &str) -> Result<users::User, Failure> {
    let mut pooled = pool.get().await.map_err(work)?;
    users::find_by_email(&mut pooled.conn(), email)
        .await
        .map_err(domain)?
        .ok_or_else(|| Failure { code: 1, message: format!("no user with email '{}'", email.trim()) })
}

pub async fn run_user(config: Config, cmd: UserCommand) -> Result<(), Failure> {
    let pool = open(&config).await?;
    let cost = config.password_cost;
    match cmd {
        UserCommand::Add { email, name, admin, tz, password_stdin } => {
            // Check the address before asking for a password.
            users::parse_email(&email).map_err(|m| Failure { code: 1, message: m.message })?;
            let password = read_password(password_stdin)?;
            let new = NewUser {
                email,
                full_name: name,
                password,
                role: if admin { Role::Admin } else { Role::User },
                time_zone: tz.unwrap_or_else(|| config.default_tz.name().to_string()),
            };
            let mut pooled = pool.get().await.map_err(work)?;
            let user = users::create_by(&mut pooled.conn(), cost, new, &By::cli()).await.map_err(domain)?;
            println!("created {} ({})", user.email, user.role.label());
        }
        UserCommand::Passwd { email, password_stdin } => {
            let user = find(&pool, &email).await?;
            let password = read_password(password_stdin)?;
            let mut pooled = pool.get().await.map_err(work)?;
            users::set_password(&mut pooled.conn(), cost, user.id, &password, &By::cli()).await.map_err(domain)?;
            println!("password changed for {}", user.email);
        }
        UserCommand::List { json } => {
            let mut pooled = pool.get().await.map_err(work)?;
            let list = users::list(&mut pooled.conn()).await.map_err(domain)?;
            if json {
                let rows: Vec<_> = list
                    .iter()
                    .map(|u| {
                        serde_json::json!({
                            "email": u.email, "full_name": u.full_name, "role": u.role.as_str(),
                            "time_zone": u.time_zone, "disabled": u.disabled,
                            "created": u.created_at.and_utc().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                        })
                    })
                    .collect();
                println!("{}", serde_json::Value::Array(rows));
            } else if list.is_empty() {
                println!("no users yet: add one with `calsync user add EMAIL --admin`");
            } else {
                let width = list.iter().map(|u| u.email.len()).max().unwrap_or(5).max(5);
                println!("{:width$}  {:14}  {:8}  NAME", "EMAIL", "ROLE", "STATUS");
                for u in &list {
                    let status = if u.disabled { "disabled" } else { "active" };
                    println!("{:width$}  {:14}  {:8}  {}", u.email, u.role.label(), status, u.full_name);
                }
            }
        }
        UserCommand::Disable { email } => {
            let user = find(&pool, &email).await?;
            let mut pooled = pool.get().await.map_err(work)?;
            users::set_disabled(&mut pooled.conn(), user.id, true, &By::cli()).await.map_err(domain)?;
            println!("disabled {}", user.email);
        }
        UserCommand::Enable { email } => {
            let user = find(&pool, &email).await?;
            let mut pooled = pool.get().await.map_err(work)?;
            users::set_disabled(&mut pooled.conn(), user.id, false, &By::cli()).await.map_err(domain)?;
            println!("enabled {}", user.email);
        }
        UserCommand::Role { email, role } => {
            let user = find(&pool, &email).await?;
            let role = Role::parse(&role).ok_or_else(|| Failure { code: 2, message: "role must be admin or user".into() })?;
            let mut pooled = pool.get().await.map_err(work)?;
            let user = users::set_role(&mut pooled.conn(), user.id, role, &By::cli()).await.map_err(domain)?;
            println!("{} is now {}", user.email, user.role.label());
        }
    }
    Ok(())
}

pub async fn run_token(config: Config, cmd: TokenCommand) -> Result<(), Failure> {
    let pool = open(&config).await?;
    match cmd {
        TokenCommand::Create { email, label, expires_days } => {
            let user = find(&pool, &email).await?;
            let mut pooled = pool.get().await.map_err(work)?;
            let (_, token) = server::domain::api_tokens::create(&mut pooled.conn(), user.id, &label, expires_days, &By::cli()).await.map_err(domain)?;
            println!("{token}");
        }
    }
    Ok(())
}

pub async fn run_keys(config: Config, cmd: KeysCommand) -> Result<(), Failure> {
    let pool = open(&config).await?;
    match cmd {
        KeysCommand::Rotate => {
            let r = server::keys::rotate(&config, &pool).await.map_err(work)?;
            eprintln!("new key '{}'; re-encrypted {} stored token(s)", r.new_key_id, r.reencrypted);
            if let Some(value) = r.env_value {
                eprintln!("keys come from the environment: set this everywhere calsync runs, then restart:");
                println!("CALSYNC_SECRET_KEYS={value}");
            }
        }
    }
    Ok(())
}

pub async fn run_ical(config: Config, cmd: IcalCommand) -> Result<(), Failure> {
    match cmd {
        IcalCommand::Inspect { source, from, to, tz, json, me } => {
            super::inspect::run(config, super::inspect::Inspect { source, from, to, tz, json, me }).await
        }
    }
}

/// Who lifted the deletion guard, as the run and its history record it.
const CLI_APPLIER: &str = "the command line (calsync sync --allow-mass-delete)";

pub async fn run_sync(config: Config, integration: Option<String>, allow_mass_delete: bool) -> Result<(), Failure> {
    use server::domain::{
        integrations::{self},
        Actor,
    };
    use server::sync::{Engine, Trigger};
    let pool = open(&config).await?;
    let (keys, _) = server::keys::load(&config, &pool).await.map_err(|message| Failure { code: 1, message })?;
    let engine = Engine::new(pool.clone(), keys, config.sync.clone());
    let runs = match integration {
        Some(name) => match engine.sync_and_wait_applying(Actor::SYSTEM, name.trim(), Trigger::Manual, allow_mass_delete.then(|| CLI_APPLIER.to_owned())).await
        {
            Ok(run) => vec![run],
            Err(server::domain::Error::NotFound) => return Err(Failure { code: 1, message: format!("no calendar named '{}'", name.trim()) }),
            Err(e) => return Err(domain(e)),
        },
        None => {
            // Until nothing is due: a synced calendar is due again only after its interval,
            // a failed one after its back-off.
            let mut all = Vec::new();
            loop {
                let round = engine.run_due().await.map_err(domain)?;
                if round.is_empty() {
                    break;
                }
                all.extend(round);
            }
            all
        }
    };
    let mut pooled = pool.get().await.map_err(work)?;
    let mut failed = 0;
    for run in &runs {
        let name = integrations::get_by_id(&mut pooled.conn(), run.integration_id).await.map(|i| i.name).unwrap_or_default();
        let ms = run.duration_ms.unwrap_or(0);
        if run.status == server::sync::runs::RUN_SUCCESS {
            println!(
                "{name}  Success  {} created, {} updated, {} deleted, {} unchanged  {ms} ms",
                run.created_count, run.updated_count, run.deleted_count, run.unchanged_count
            );
        } else {
            failed += 1;
            println!("{name}  Failed  {}  {ms} ms", run.error.as_deref().unwrap_or(""));
        }
    }
    println!("{} synced, {failed} failed", runs.len() - failed);
    if failed > 0 {
        return Err(Failure { code: 1, message: format!("{failed} sync(s) failed") });
    }
    Ok(())
}

/// `calsync sandbox`: the provider sandbox alone, until Ctrl-C.
pub async fn run_sandbox(addr: SocketAddr, demo: bool) -> Result<(), Failure> {
    super::sandbox::run_alone(addr, demo).await.map_err(work)
}

pub async fn run_migrate(config: Config) -> Result<(), Failure> {
    let applied = server::db::run_migrations(&config.database_url).await.map_err(work)?;
    if applied.is_empty() {
        println!("database is up to date");
    } else {
        println!("applied {} migration(s): {}", applied.len(), applied.join(", "));
    }
    Ok(())
}
