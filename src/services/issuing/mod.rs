//! The issuing side: what the hospital and the issuing officer do, and what happens to the
//! certificate until the family holds it. Everything an officer does stays inside the officer's
//! own institution: another institution's ids are "not found".

pub mod archive;
pub mod authenticity;
pub mod certificates;
pub mod hospital;
pub mod printing;
pub mod registers;
pub mod review;
pub mod shipping;
pub mod stats;
pub mod stock;

use super::{FieldError, ServiceError};
use crate::domain::CertificateNumber;
use crate::persistence::applications::{self, Application};
use crate::persistence::Db;

fn validation(errors: Vec<(&'static str, &'static str)>) -> ServiceError {
    ServiceError::validation(errors.into_iter().map(|(f, c)| FieldError::new(f, c)).collect())
}

/// The application if it belongs to the officer's institution (another institution's is "not
/// found", like any id the caller may not see).
#[tracing::instrument(skip_all, fields(application_id = %id))]
async fn application_in(db: &Db, institution: &str, id: &str) -> Result<Application, ServiceError> {
    Ok(case_in(db, institution, id).await?.application)
}

/// [`application_in`] with the rest of its row the case page shows (address, frozen form).
async fn case_in(db: &Db, institution: &str, id: &str) -> Result<applications::CaseRow, ServiceError> {
    applications::case_row(db, id)
        .await?
        .filter(|c| c.application.institution_code == institution)
        .ok_or(ServiceError::NotFound("application"))
}

fn parse_number(field: &'static str, value: &str) -> Result<CertificateNumber, ServiceError> {
    CertificateNumber::parse(value).map_err(|_| ServiceError::invalid(field, "format"))
}
