//! The command line: `serve` (default), `migrate`, `officer add`, `hospital-key add`,
//! `audit verify`, `demo`.

use std::io::{BufRead, IsTerminal};

use clap::{Parser, Subcommand};

use crate::config::Settings;
use crate::persistence;
use crate::startup::{Application, StartupError};

#[derive(Parser)]
#[command(name = "birthcert", about = "Online first issuance of the birth medical certificate, Pingyin county")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Subcommand)]
pub enum Command {
    /// Run the service (the default).
    Serve,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Issuing officers.
    Officer {
        #[command(subcommand)]
        action: OfficerAction,
    },
    /// API keys of midwifery institutions' systems.
    HospitalKey {
        #[command(subcommand)]
        action: HospitalKeyAction,
    },
    /// Drive one complete application through the HTTP API against the embedded defaults and
    /// print each step and each message the parent received.
    Demo,
    /// The audit log.
    Audit {
        #[command(subcommand)]
        action: AuditAction,
    },
}

#[derive(Subcommand)]
pub enum AuditAction {
    /// Walk the hash chain; exit 1 and name the first broken entry if it was tampered with.
    Verify,
}

#[derive(Subcommand)]
pub enum OfficerAction {
    /// Create an officer; the password comes from BIRTHCERT_PASSWORD or standard input.
    Add {
        #[arg(long)]
        institution: String,
        #[arg(long)]
        username: String,
        #[arg(long)]
        admin: bool,
    },
}

#[derive(Subcommand)]
pub enum HospitalKeyAction {
    /// Create an API key and print it once; only its hash is stored.
    Add {
        #[arg(long)]
        institution: String,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error(transparent)]
    Startup(#[from] StartupError),
    #[error("server stopped with an error: {0}")]
    Serve(std::io::Error),
    #[error("{0}")]
    Usage(String),
    #[error("audit chain broken at entry {seq}: {why}")]
    AuditBroken { seq: i32, why: &'static str },
    #[error("audit chain intact up to its last entry, but the head row disagrees: entries were removed from the end")]
    AuditTruncated,
}

impl From<crate::config::ConfigError> for CliError {
    fn from(e: crate::config::ConfigError) -> Self {
        CliError::Startup(e.into())
    }
}

impl From<persistence::PersistenceError> for CliError {
    fn from(e: persistence::PersistenceError) -> Self {
        CliError::Startup(e.into())
    }
}

pub async fn run(cli: Cli) -> Result<(), CliError> {
    let settings = Settings::load()?;
    crate::telemetry::init(settings.server.log_format, "info,sqlx=warn,sea_orm=warn");
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => {
            let app = Application::build(settings).await?;
            tracing::info!(port = app.port(), "birthcert serving");
            app.run_until_stopped().await.map_err(CliError::Serve)
        }
        Command::Migrate => {
            let db = persistence::connect(&settings).await?;
            persistence::migrate(&db).await?;
            eprintln!("migrations applied");
            Ok(())
        }
        Command::Officer { action: OfficerAction::Add { institution, username, admin } } => {
            let db = prepared_db(&settings).await?;
            let password = read_password()?;
            if password.chars().count() < 12 {
                return Err(CliError::Usage("password must be at least 12 characters".into()));
            }
            let officer = crate::services::staff::add_officer(&db, &institution, &username, &password, admin)
                .await
                .map_err(|e| CliError::Usage(e.to_string()))?;
            eprintln!("officer {} created for {} (admin: {admin})", officer.username, officer.institution_code);
            Ok(())
        }
        Command::Demo => crate::demo::run(settings).await.map_err(|e| CliError::Usage(e.to_string())),
        Command::Audit { action: AuditAction::Verify } => {
            let db = persistence::connect(&settings).await?;
            let report = persistence::audit::verify(&db).await?;
            if let Some((seq, why)) = report.first_break {
                let why = match why {
                    crate::domain::audit::Break::PrevHash => {
                        "it does not follow the entry before it (one removed or reordered)"
                    }
                    crate::domain::audit::Break::Content => "its content was altered",
                };
                return Err(CliError::AuditBroken { seq, why });
            }
            if report.head_mismatch {
                return Err(CliError::AuditTruncated);
            }
            eprintln!("audit chain intact: {} entries", report.entries);
            Ok(())
        }
        Command::HospitalKey { action: HospitalKeyAction::Add { institution } } => {
            let db = prepared_db(&settings).await?;
            let key = crate::services::staff::add_hospital_key(&db, &institution)
                .await
                .map_err(|e| CliError::Usage(e.to_string()))?;
            // The key is shown this once; only its hash is kept.
            #[allow(clippy::print_stdout)]
            {
                println!("{key}");
            }
            Ok(())
        }
    }
}

async fn prepared_db(settings: &Settings) -> Result<persistence::Db, CliError> {
    let db = persistence::connect(settings).await?;
    if settings.database.auto_migrate {
        persistence::migrate(&db).await?;
    }
    let institutions =
        crate::reference_data::load_institutions(&settings.calendar.institutions_file).map_err(StartupError::from)?;
    persistence::institutions::upsert_all(&db, &institutions).await?;
    Ok(db)
}

fn read_password() -> Result<String, CliError> {
    if let Ok(p) = std::env::var("BIRTHCERT_PASSWORD") {
        return Ok(p);
    }
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        eprint!("password: ");
    }
    let mut line = String::new();
    stdin.lock().read_line(&mut line).map_err(|e| CliError::Usage(format!("cannot read password: {e}")))?;
    Ok(line.trim_end_matches(['\r', '\n']).to_string())
}
