//! The officers' morning digest. An officer opts in from the console: it shows a one-time code
//! (8 digits, 10 minutes), which the officer sends to the official account as "绑定 <code>" from
//! their own WeChat — so the message can only go to a WeChat the officer controls, and nobody
//! types an openid. From then on, each working day from `workers.digest_hour` (China time), one
//! message through the same outbox as the families' lists how many of their institution's cases
//! fall due that day and how many are overdue (none when both are zero). Opting out, disabling
//! the officer or unfollowing ends it.

use chrono::{DateTime, Duration, Timelike, Utc};
use rand::Rng;
use sha2::{Digest, Sha256};

use crate::domain::notification::Notification;
use crate::domain::working_days::{china_midnight, to_china, Calendar};
use crate::persistence::audit::{self, Actor};
use crate::persistence::{self, applications, outbox, staff, users, Db, PersistenceError};

/// How long a binding code waits to be sent.
pub const CODE_MINUTES: i64 = 10;

/// What the official account answers to "绑定 <code>".
pub const BIND_COMMAND: &str = "绑定";

fn code_hash(code: &str) -> String {
    hex::encode(Sha256::digest(code.as_bytes()))
}

/// A new binding code for the officer (replacing any waiting one).
pub async fn start_binding(db: &Db, officer_id: &str, now: DateTime<Utc>) -> Result<String, PersistenceError> {
    let code = format!("{:08}", rand::thread_rng().gen_range(0..100_000_000u32));
    staff::set_digest_code(db, officer_id, &code_hash(&code), now + Duration::minutes(CODE_MINUTES)).await?;
    Ok(code)
}

/// "绑定 <code>" from `openid` on the official account: binds that officer's digest to it, once.
/// → whether a waiting code matched.
pub async fn bind(db: &Db, code: &str, openid: &str, now: DateTime<Utc>) -> Result<bool, PersistenceError> {
    let code = code.trim();
    if code.len() != 8 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return Ok(false);
    }
    let txn = persistence::begin(db).await?;
    let Some(officer_id) = staff::bind_digest(&*txn, &code_hash(code), openid, now).await? else {
        return Ok(false);
    };
    // The outbox addresses users: the officer's WeChat becomes one (or is one already).
    users::official_follower(&*txn, openid).await?;
    audit::append(
        &txn,
        &Actor::officer(&officer_id),
        "officer.digest_on",
        "officer",
        &officer_id,
        serde_json::json!({}),
    )
    .await?;
    persistence::commit(txn).await?;
    Ok(true)
}

/// Opts the officer out.
pub async fn stop(db: &Db, officer_id: &str) -> Result<(), PersistenceError> {
    let txn = persistence::begin(db).await?;
    staff::clear_digest(&*txn, officer_id).await?;
    audit::append(
        &txn,
        &Actor::officer(officer_id),
        "officer.digest_off",
        "officer",
        officer_id,
        serde_json::json!({}),
    )
    .await?;
    persistence::commit(txn).await?;
    Ok(())
}

/// Is the officer's digest on?
pub async fn is_on(db: &Db, officer_id: &str) -> Result<bool, PersistenceError> {
    Ok(staff::digest_openid(db, officer_id).await?.is_some())
}

/// Enqueues today's digest for every officer who opted in, once a day (the outbox's dedupe key
/// names the officer and the day), on working days from `hour` China time → how many digests
/// were offered to the outbox (it keeps the first of each officer and day).
#[tracing::instrument(skip_all)]
pub async fn run(db: &Db, calendar: &Calendar, now: DateTime<Utc>, hour: u32) -> Result<usize, PersistenceError> {
    let local = to_china(now);
    let today = local.date_naive();
    if local.hour() < hour || !calendar.day(today).working {
        return Ok(0);
    }
    let day_end = china_midnight(today + chrono::Days::new(1));
    let mut counts: Vec<(String, (u64, u64))> = Vec::new();
    let mut enqueued = 0;
    for (officer_id, institution, openid) in staff::digest_recipients(db).await? {
        // Unfollowing removes the link: no digest until the officer follows (and binds) again.
        let Some(user_id) = users::user_by_official_openid(db, &openid).await? else { continue };
        let (due_today, overdue) = match counts.iter().find(|(i, _)| *i == institution) {
            Some((_, c)) => *c,
            None => {
                let c = applications::due_counts(db, &institution, now, day_end).await?;
                counts.push((institution.clone(), c));
                c
            }
        };
        if due_today == 0 && overdue == 0 {
            continue;
        }
        let digest = Notification::DailyDigest { institution, date: today, due_today, overdue };
        outbox::enqueue(db, &user_id, None, &digest, &format!("digest:{officer_id}:{today}")).await?;
        enqueued += 1;
    }
    Ok(enqueued)
}
