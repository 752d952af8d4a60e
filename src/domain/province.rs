//! Reports to the provincial birth-certificate system: every delivery record, every issued
//! certificate and every void (an issuer's error, or a certificate lost, damaged or destroyed in
//! transit — its number can never be valid again). Each report has one id, made from what it
//! reports, so the same fact is queued once and the province keeps it once however often it is
//! sent. A report waits `pending` until the province has it (`reported`); one the province
//! refuses as invalid is `rejected` and needs a person — retrying cannot change its answer.

use super::text_enum::LifeCycle;

crate::text_enum! {
    pub enum ReportKind {
        Delivery = "delivery",
        Issuance = "issuance",
        Void = "void",
    }
}

crate::text_enum! {
    pub enum ReportState {
        Pending = "pending",
        Reported = "reported",
        Rejected = "rejected",
    }
}

impl LifeCycle for ReportState {
    fn all() -> &'static [ReportState] {
        ReportState::ALL
    }

    fn sources(self) -> &'static [ReportState] {
        match self {
            ReportState::Pending => &[],
            ReportState::Reported | ReportState::Rejected => &[ReportState::Pending],
        }
    }
}

/// The report's id: the kind and its subject, and for a delivery record the how-many-th
/// report of it (a correction after the first was reported is reported again).
pub fn report_id(kind: ReportKind, subject: &str, revision: u32) -> String {
    match (kind, revision) {
        (ReportKind::Delivery, 0) | (ReportKind::Issuance | ReportKind::Void, _) => format!("{kind}:{subject}"),
        (ReportKind::Delivery, n) => format!("{kind}:{subject}:r{n}"),
    }
}

/// Why a number became void, as the province's code list names it.
pub fn void_reason(issuer_error: bool) -> &'static str {
    if issuer_error {
        "issuer_error"
    } else {
        "lost_in_transit"
    }
}

/// What the case's reports add up to, for the officer: rejected if any was refused, pending
/// while any waits, reported when the province has them all; None before there is any.
pub fn overall(states: &[ReportState]) -> Option<ReportState> {
    if states.is_empty() {
        None
    } else if states.contains(&ReportState::Rejected) {
        Some(ReportState::Rejected)
    } else if states.contains(&ReportState::Pending) {
        Some(ReportState::Pending)
    } else {
        Some(ReportState::Reported)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::text_enum::assert_moves;

    #[test]
    fn a_report_ends_reported_or_rejected_and_never_leaves_either() {
        use ReportState as R;
        assert_moves(&[(R::Pending, R::Reported), (R::Pending, R::Rejected)]);
    }

    #[test]
    fn the_same_fact_has_the_same_id_and_a_later_revision_another() {
        assert_eq!(report_id(ReportKind::Issuance, "R370000123", 0), "issuance:R370000123");
        assert_eq!(report_id(ReportKind::Void, "R370000123", 3), "void:R370000123");
        assert_eq!(report_id(ReportKind::Delivery, "d1", 0), "delivery:d1");
        assert_eq!(report_id(ReportKind::Delivery, "d1", 1), "delivery:d1:r1");
        assert_ne!(report_id(ReportKind::Issuance, "x", 0), report_id(ReportKind::Void, "x", 0));
    }

    #[test]
    fn the_case_status_is_the_worst_of_its_reports() {
        use ReportState as R;
        assert_eq!(overall(&[]), None);
        assert_eq!(overall(&[R::Reported, R::Reported]), Some(R::Reported));
        assert_eq!(overall(&[R::Reported, R::Pending]), Some(R::Pending));
        assert_eq!(overall(&[R::Pending, R::Rejected, R::Reported]), Some(R::Rejected));
        assert_eq!(ReportKind::parse("issuance"), Some(ReportKind::Issuance));
        assert_eq!(ReportKind::parse("birth"), None);
    }
}
