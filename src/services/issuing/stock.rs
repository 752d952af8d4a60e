//! Blank certificate stock (admin only): ranges received, numbers written off as waste (废证),
//! and the number an approval consumes. Each number is used once.

use serde_json::json;

use super::parse_number;
use crate::domain::certificate::StockState;
use crate::domain::CertificateNumber;
use crate::domain::LifeCycle;
use crate::persistence::audit::{self, Actor};
use crate::persistence::{certificates, Db, PersistenceError, Txn};
use crate::services::ServiceError;

/// Most numbers one delivery of blank stock can bring (a county's stock for years).
pub const MAX_RANGE: usize = 10_000;

#[tracing::instrument(skip_all)]
pub async fn receive_stock(
    db: &Db,
    admin: &Actor,
    institution: &str,
    first: &str,
    last: &str,
) -> Result<usize, ServiceError> {
    let (first, last) = (parse_number("first", first)?, parse_number("last", last)?);
    let numbers: Vec<String> = CertificateNumber::range(&first, &last)
        .ok_or_else(|| ServiceError::Unprocessable {
            code: "invalid_range",
            message: "first and last must share the letter and first must not come after last".into(),
        })?
        .take(MAX_RANGE + 1)
        .map(|n| n.as_str().to_string())
        .collect();
    if numbers.len() > MAX_RANGE {
        return Err(ServiceError::Unprocessable {
            code: "range_too_large",
            message: format!("at most {MAX_RANGE} numbers at a time"),
        });
    }
    let txn = crate::persistence::begin(db).await?;
    certificates::receive_stock(&txn, institution, &numbers, &admin.id).await.map_err(|e| match e {
        PersistenceError::Conflict(_) => ServiceError::Conflict {
            code: "already_received",
            message: "some numbers of this range were already received".into(),
        },
        other => other.into(),
    })?;
    audit::append(
        &txn,
        admin,
        "stock_received",
        "stock",
        first.as_str(),
        json!({"first": first.as_str(), "last": last.as_str(), "count": numbers.len()}),
    )
    .await?;
    crate::persistence::commit(txn).await?;
    Ok(numbers.len())
}

#[tracing::instrument(skip_all, fields(certificate = %number))]
pub async fn waste(db: &Db, admin: &Actor, institution: &str, number: &str, reason: &str) -> Result<(), ServiceError> {
    let number = parse_number("number", number)?;
    if reason.trim().is_empty() || reason.chars().count() > 500 {
        return Err(ServiceError::invalid("reason", "required"));
    }
    let entry = certificates::stock_entry(db, number.as_str())
        .await?
        .filter(|e| e.institution_code == institution)
        .ok_or(ServiceError::NotFound("certificate number in this institution's stock"))?;
    let txn = crate::persistence::begin(db).await?;
    if !entry.state.can_move_to(StockState::Waste)
        || !certificates::consume_blank(&txn, institution, number.as_str(), StockState::Waste, Some(reason.trim()))
            .await?
    {
        return Err(ServiceError::Conflict {
            code: "number_used",
            message: format!("{number} was already used ({})", entry.state),
        });
    }
    audit::append(&txn, admin, "stock_wasted", "stock", number.as_str(), json!({"reason": reason.trim()})).await?;
    crate::persistence::commit(txn).await?;
    Ok(())
}

/// Takes the given number (it must be a blank of this institution) or the next free one.
#[tracing::instrument(skip_all)]
pub(super) async fn take_number(txn: &Txn, institution: &str, given: Option<&str>) -> Result<String, ServiceError> {
    let Some(given) = given else {
        return certificates::take_next_blank(txn, institution).await?.ok_or_else(|| ServiceError::Conflict {
            code: "no_blank_stock",
            message: "no blank certificates left in stock; receive a new range first".into(),
        });
    };
    let number = parse_number("certificate_number", given)?;
    match certificates::stock_entry(txn, number.as_str()).await? {
        Some(e) if e.institution_code == institution => {}
        _ => {
            return Err(ServiceError::Unprocessable {
                code: "not_in_stock",
                message: format!("{number} is not in this institution's blank stock"),
            })
        }
    }
    let number = number.as_str().to_string();
    if !certificates::consume_blank(txn, institution, &number, StockState::Issued, None).await? {
        return Err(ServiceError::Conflict { code: "number_used", message: format!("{number} was already used") });
    }
    Ok(number)
}

/// What is left of the institution's blank stock: how many, and the number the next approval
/// takes.
#[tracing::instrument(skip_all)]
pub async fn left(db: &Db, institution: &str) -> Result<(u64, Option<String>), ServiceError> {
    Ok((certificates::blank_count(db, institution).await?, certificates::next_blank(db, institution).await?))
}
