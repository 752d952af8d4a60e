//! The command line: `serve` (default), `migrate`, `officer add|disable|enable|reset-password`,
//! `hospital-key add|list|revoke`, `crypto rotate`, `audit verify`, `demo`.

use std::io::{BufRead, IsTerminal};

use clap::{Parser, Subcommand};

use crate::config::Settings;
use crate::persistence;
use crate::startup::{Application, StartupError};

#[derive(Parser)]
#[command(
    name = "birthcert",
    version,
    about = "Online first issuance of the birth medical certificate, Pingyin county"
)]
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
    /// Erasing what is not kept permanently.
    Retention {
        #[command(subcommand)]
        action: RetentionAction,
    },
    /// The data key.
    Crypto {
        #[command(subcommand)]
        action: CryptoAction,
    },
    /// The audit log.
    Audit {
        #[command(subcommand)]
        action: AuditAction,
    },
    /// Case archives.
    Archive {
        #[command(subcommand)]
        action: ArchiveAction,
    },
    /// A consistent copy of the database (SQLite `VACUUM INTO`, PostgreSQL `pg_dump`), the
    /// sealed images and the audit anchors into DIR, with manifest.json of SHA-256 sums.
    Backup {
        #[arg(long)]
        out: std::path::PathBuf,
    },
    /// Check a backup against its manifest, put it back into the configured database and image
    /// directory, migrate, and verify the audit chain. Refuses a database that holds
    /// applications unless --replace.
    Restore {
        #[arg(long)]
        from: std::path::PathBuf,
        #[arg(long)]
        replace: bool,
    },
    /// The official account at WeChat.
    Wechat {
        #[command(subcommand)]
        action: WechatAction,
    },
}

#[derive(Subcommand)]
pub enum ArchiveAction {
    /// Write one ZIP per case whose certificate was first issued in the month (China time):
    /// OUT/<institution>/<application id>.zip, each with its manifest of SHA-256 sums.
    Export {
        /// YYYY-MM
        #[arg(long)]
        month: String,
        #[arg(long)]
        out: std::path::PathBuf,
    },
}

#[derive(Subcommand)]
pub enum WechatAction {
    /// The account's menu.
    Menu {
        #[command(subcommand)]
        action: MenuAction,
    },
}

#[derive(Subcommand)]
pub enum MenuAction {
    /// Create the menu at WeChat (a mini-program button, how to apply, whom to ask), replacing
    /// the one there.
    Sync,
}

#[derive(Subcommand)]
pub enum RetentionAction {
    /// Erase the personal data and images of unfinished cases past retention.unfinished_days and
    /// expire old idempotency answers and courier bodies; with --dry-run, only say what would go.
    Run {
        #[arg(long)]
        dry_run: bool,
    },
}

#[derive(Subcommand)]
pub enum CryptoAction {
    /// Seal every ID and phone number, frozen form and image that is in clear or under an older
    /// key (listed in crypto.previous_data_keys) with the current crypto.data_key.
    Rotate,
}

#[derive(Subcommand)]
pub enum AuditAction {
    /// Walk the hash chain and check it against the anchors in audit.anchor_file; exit 1 and
    /// name the first broken entry or anchor if it was tampered with.
    Verify,
    /// Append the chain's head to audit.anchor_file now (the service does so every
    /// audit.anchor_secs; run this before a backup, or from cron when the service's is off).
    Anchor,
}

#[derive(Subcommand)]
pub enum OfficerAction {
    /// Create an officer; the password comes from BIRTHCERT_PASSWORD, else it is asked for at
    /// the terminal without echo (or read from standard input).
    Add {
        #[arg(long)]
        institution: String,
        #[arg(long)]
        username: String,
        #[arg(long)]
        admin: bool,
        /// Keeps the special seal (印章管理人员): records each certificate's stamping.
        #[arg(long)]
        can_seal: bool,
    },
    /// Disable an officer: sign-in is refused and every token they hold stops working at once.
    Disable {
        #[arg(long)]
        username: String,
    },
    /// Enable a disabled officer again.
    Enable {
        #[arg(long)]
        username: String,
    },
    /// Set a new password (read like `add` reads it).
    ResetPassword {
        #[arg(long)]
        username: String,
    },
}

#[derive(Subcommand)]
pub enum HospitalKeyAction {
    /// Create an API key and print it once; only its hash is stored.
    Add {
        #[arg(long)]
        institution: String,
    },
    /// The institution's keys (id, created, revoked), never the keys themselves.
    List {
        #[arg(long)]
        institution: String,
    },
    /// Revoke a key: it cannot sign in and its tokens are refused at once.
    Revoke {
        #[arg(long)]
        id: String,
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
    #[error("audit chain rewritten: at entry {entries} it disagrees with the anchor written at {at}")]
    AuditRewritten { entries: u64, at: String },
    #[error("audit chain shorter than the anchor of entry {entries} written at {at}: entries were removed")]
    AuditShorterThanAnchor { entries: u64, at: String },
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
    if settings.server.disable_transparent_huge_pages {
        crate::startup::disable_transparent_huge_pages();
    }
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
        Command::Officer { action } => officer(&settings, action).await,
        Command::Backup { out } => {
            let m = crate::backup::backup(&settings, &out).await.map_err(usage)?;
            eprintln!(
                "backed up {} applications and {} files into {} (manifest.json)",
                m.applications,
                m.files.len(),
                out.display()
            );
            Ok(())
        }
        Command::Restore { from, replace } => {
            let r = crate::backup::restore(&settings, &from, replace).await.map_err(usage)?;
            eprintln!(
                "restored {} applications and {} images; audit chain intact ({} entries)",
                r.applications, r.images, r.audit_entries
            );
            Ok(())
        }
        Command::Demo => crate::demo::run(settings).await.map_err(|e| CliError::Usage(e.to_string())),
        Command::Audit { action: AuditAction::Verify } => {
            let db = persistence::connect(&settings).await?;
            let file = crate::audit_anchor::AnchorFile::new(settings.audit.anchor_file.clone());
            let anchors = file.read().map_err(usage)?;
            let report = persistence::audit::verify(&db, &anchors).await?;
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
            match report.anchor_break {
                Some(crate::domain::audit::AnchorBreak::Differs(a)) => {
                    return Err(CliError::AuditRewritten { entries: a.entries, at: a.at });
                }
                Some(crate::domain::audit::AnchorBreak::Missing(a)) => {
                    return Err(CliError::AuditShorterThanAnchor { entries: a.entries, at: a.at });
                }
                None => {}
            }
            eprintln!(
                "audit chain intact: {} entries, agreeing with {} anchors in {}",
                report.entries,
                anchors.len(),
                file.path().display()
            );
            Ok(())
        }
        Command::Audit { action: AuditAction::Anchor } => {
            let db = persistence::connect(&settings).await?;
            let anchors = crate::audit_anchor::AnchorFile::new(settings.audit.anchor_file.clone());
            match anchors.anchor_now(&db).await.map_err(usage)? {
                Some(a) => eprintln!("anchored entry {} ({}) in {}", a.entries, a.hash, anchors.path().display()),
                None => eprintln!("the audit chain is empty: nothing to anchor"),
            }
            Ok(())
        }
        Command::HospitalKey { action } => hospital_key(&settings, action).await,
        Command::Archive { action: ArchiveAction::Export { month, out } } => {
            archive_export(&settings, &month, &out).await
        }
        Command::Wechat { action: WechatAction::Menu { action: MenuAction::Sync } } => {
            use crate::services::official_account::{sync_menu, MiniProgramPage};
            let kv: std::sync::Arc<dyn crate::kv::KvStore> = match &settings.redis.url {
                Some(url) => std::sync::Arc::new(
                    crate::kv::RedisKv::new(secrecy::ExposeSecret::expose_secret(url), &settings.redis.key_prefix)
                        .map_err(|e| CliError::Usage(e.to_string()))?,
                ),
                None => std::sync::Arc::new(crate::kv::MemoryKv::new()),
            };
            let wechat =
                crate::clients::wechat::WechatClient::new(&settings, kv).map_err(|e| CliError::Usage(e.to_string()))?;
            let page = MiniProgramPage::from_settings(&settings);
            sync_menu(&wechat, &page).await.map_err(|e| CliError::Usage(format!("WeChat refused the menu: {e}")))?;
            eprintln!("menu created: {}", page.menu());
            Ok(())
        }
        Command::Retention { action: RetentionAction::Run { dry_run } } => {
            let db = prepared_db(&settings).await?;
            let blobs = crate::blobs::BlobStore::new(settings.blobs.dir.clone(), settings.cipher()?);
            let now = chrono::Utc::now();
            let report =
                crate::services::retention::run(&db, &blobs, &settings.retention, now, dry_run).await.map_err(usage)?;
            let (verb, keys, bodies) =
                if dry_run { ("due", "to expire", "to empty") } else { ("erased", "expired", "emptied") };
            #[allow(clippy::print_stdout)]
            for id in &report.cases {
                println!("{id}");
            }
            eprintln!(
                "{} unfinished cases {verb} ({} images removed); {} idempotency answers {keys}; {} courier bodies {bodies}",
                report.cases.len(),
                report.images_removed,
                report.idempotency_keys,
                report.callback_bodies
            );
            Ok(())
        }
        Command::Crypto { action: CryptoAction::Rotate } => {
            let db = prepared_db(&settings).await?;
            let cipher = settings.cipher()?;
            let blobs = crate::blobs::BlobStore::new(settings.blobs.dir.clone(), cipher.clone());
            let done = crate::services::rotation::rotate(&db, &cipher, &blobs).await.map_err(usage)?;
            eprintln!(
                "sealed under key {}: {} values and {} images re-sealed, {} values and {} images already were",
                cipher.current_key_id(),
                done.values.resealed,
                done.images.resealed,
                done.values.current,
                done.images.current
            );
            Ok(())
        }
    }
}

/// The whole cause chain: the operator at the command line is the one who must see why.
fn usage(e: impl std::error::Error) -> CliError {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        text.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    CliError::Usage(text)
}

async fn officer(settings: &Settings, action: OfficerAction) -> Result<(), CliError> {
    use crate::services::staff;
    let db = prepared_db(settings).await?;
    match action {
        OfficerAction::Add { institution, username, admin, can_seal } => {
            let password = read_password()?;
            let officer = staff::add_officer(&db, staff::By::Operator, &institution, &username, &password, admin)
                .await
                .map_err(usage)?;
            if can_seal {
                staff::set_seal_keeper(&db, staff::By::Operator, &username, true).await.map_err(usage)?;
            }
            eprintln!(
                "officer {} created for {} (admin: {admin}, seal keeper: {can_seal})",
                officer.username, officer.institution_code
            );
        }
        OfficerAction::Disable { username } => {
            staff::set_officer_enabled(&db, staff::By::Operator, &username, false).await.map_err(usage)?;
            eprintln!("officer {username} disabled; their tokens are refused from now on");
        }
        OfficerAction::Enable { username } => {
            staff::set_officer_enabled(&db, staff::By::Operator, &username, true).await.map_err(usage)?;
            eprintln!("officer {username} enabled");
        }
        OfficerAction::ResetPassword { username } => {
            let password = read_password()?;
            staff::reset_officer_password(&db, staff::By::Operator, &username, &password).await.map_err(usage)?;
            eprintln!("password of officer {username} reset");
        }
    }
    Ok(())
}

#[allow(clippy::print_stdout)]
async fn hospital_key(settings: &Settings, action: HospitalKeyAction) -> Result<(), CliError> {
    use crate::services::staff;
    let db = prepared_db(settings).await?;
    match action {
        HospitalKeyAction::Add { institution } => {
            let key = staff::add_hospital_key(&db, staff::By::Operator, &institution).await.map_err(usage)?;
            // The key is shown this once; only its hash is kept.
            println!("{key}");
        }
        HospitalKeyAction::List { institution } => {
            println!("id\tcreated_at\trevoked_at");
            for key in staff::hospital_keys(&db, &institution).await.map_err(usage)? {
                let revoked = key.revoked_at.map(|t| t.to_rfc3339()).unwrap_or_else(|| "-".into());
                println!("{}\t{}\t{revoked}", key.id, key.created_at.to_rfc3339());
            }
        }
        HospitalKeyAction::Revoke { id } => {
            let key = staff::revoke_hospital_key(&db, staff::By::Operator, &id).await.map_err(usage)?;
            eprintln!("key {} of {} revoked", key.id, key.institution_code);
        }
    }
    Ok(())
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
        // At a terminal: asked without echo, so it is neither shown nor left on the screen.
        return rpassword::prompt_password("password: ")
            .map_err(|e| CliError::Usage(format!("cannot read password: {e}")));
    }
    let mut line = String::new();
    stdin.lock().read_line(&mut line).map_err(|e| CliError::Usage(format!("cannot read password: {e}")))?;
    Ok(line.trim_end_matches(['\r', '\n']).to_string())
}

/// `archive export`: the month's cases, one ZIP each, read as the operator (audited).
async fn archive_export(settings: &Settings, month: &str, out: &std::path::Path) -> Result<(), CliError> {
    use crate::services::issuing::{archive, printing::PrintFont};
    let first = chrono::NaiveDate::parse_from_str(&format!("{month}-01"), "%Y-%m-%d")
        .map_err(|_| CliError::Usage(format!("--month {month:?}: use YYYY-MM")))?;
    let next =
        first.checked_add_months(chrono::Months::new(1)).ok_or_else(|| CliError::Usage("month out of range".into()))?;
    let (from, to) =
        (crate::domain::working_days::china_midnight(first), crate::domain::working_days::china_midnight(next));
    let db = prepared_db(settings).await?;
    let cipher = settings.cipher()?;
    let blobs = crate::blobs::BlobStore::new(settings.blobs.dir.clone(), cipher.clone());
    let font = PrintFont::new(settings.pdf.font_path.clone());
    let operator = crate::persistence::audit::Actor::operator();
    let cases = archive::issued_between(&db, from, to).await.map_err(|e| CliError::Usage(e.to_string()))?;
    for (institution, id) in &cases {
        let files =
            archive::case_files(&db, &cipher, &settings.public_url(), &blobs, &font, &operator, institution, id)
                .await
                .map_err(|e| CliError::Usage(format!("{id}: {e}")))?;
        let zip = archive::zip(id, chrono::Utc::now(), &files).map_err(|e| CliError::Usage(e.to_string()))?;
        let dir = out.join(institution);
        std::fs::create_dir_all(&dir).map_err(|e| CliError::Usage(format!("{}: {e}", dir.display())))?;
        let path = dir.join(format!("{id}.zip"));
        std::fs::write(&path, zip).map_err(|e| CliError::Usage(format!("{}: {e}", path.display())))?;
    }
    eprintln!("{} case archive(s) of {month} written to {}", cases.len(), out.display());
    Ok(())
}
