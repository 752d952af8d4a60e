//! The application's states (DESIGN §2) and how each is described to the family.

use std::fmt;

use ApplicationState as S;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ApplicationState {
    Draft,
    Ineligible,
    ParentsEntered,
    IdentityVerified,
    DocumentsUploaded,
    ModificationRequested,
    Confirmed,
    Signed,
    AwaitingPayment,
    Submitted,
    Returned,
    Issued,
    Shipped,
    LostInTransit,
    Delivered,
    Withdrawn,
    /// Ended online by the officer: a special situation the counter handles (final online).
    Referred,
}

impl ApplicationState {
    pub const ALL: [ApplicationState; 17] = [
        ApplicationState::Draft,
        ApplicationState::Ineligible,
        ApplicationState::ParentsEntered,
        ApplicationState::IdentityVerified,
        ApplicationState::DocumentsUploaded,
        ApplicationState::ModificationRequested,
        ApplicationState::Confirmed,
        ApplicationState::Signed,
        ApplicationState::AwaitingPayment,
        ApplicationState::Submitted,
        ApplicationState::Returned,
        ApplicationState::Issued,
        ApplicationState::Shipped,
        ApplicationState::LostInTransit,
        ApplicationState::Delivered,
        ApplicationState::Withdrawn,
        ApplicationState::Referred,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ApplicationState::Draft => "draft",
            ApplicationState::Ineligible => "ineligible",
            ApplicationState::ParentsEntered => "parents_entered",
            ApplicationState::IdentityVerified => "identity_verified",
            ApplicationState::DocumentsUploaded => "documents_uploaded",
            ApplicationState::ModificationRequested => "modification_requested",
            ApplicationState::Confirmed => "confirmed",
            ApplicationState::Signed => "signed",
            ApplicationState::AwaitingPayment => "awaiting_payment",
            ApplicationState::Submitted => "submitted",
            ApplicationState::Returned => "returned",
            ApplicationState::Issued => "issued",
            ApplicationState::Shipped => "shipped",
            ApplicationState::LostInTransit => "lost_in_transit",
            ApplicationState::Delivered => "delivered",
            ApplicationState::Withdrawn => "withdrawn",
            ApplicationState::Referred => "referred",
        }
    }

    pub fn parse(s: &str) -> Option<ApplicationState> {
        ApplicationState::ALL.into_iter().find(|st| st.as_str() == s)
    }

    /// The officer's review decision: a move out of `submitted` that returns or issues (what
    /// the deadline statistics count; a referral ends the case online and is not counted).
    pub fn is_review_decision(from: ApplicationState, to: ApplicationState) -> bool {
        from == ApplicationState::Submitted && matches!(to, ApplicationState::Returned | ApplicationState::Issued)
    }

    /// Waiting for review past its deadline.
    pub fn is_overdue(
        self,
        review_due_at: Option<chrono::DateTime<chrono::Utc>>,
        now: chrono::DateTime<chrono::Utc>,
    ) -> bool {
        self == ApplicationState::Submitted && review_due_at.is_some_and(|due| due < now)
    }

    /// Waiting for review and due on the day it is now in China (not yet overdue).
    pub fn is_due_today(
        self,
        review_due_at: Option<chrono::DateTime<chrono::Utc>>,
        now: chrono::DateTime<chrono::Utc>,
    ) -> bool {
        self == ApplicationState::Submitted
            && review_due_at.is_some_and(|due| crate::domain::working_days::falls_due_today(due, now))
    }

    /// The state's short name, as officers call it in the console.
    pub fn label(self) -> &'static str {
        match self {
            ApplicationState::Draft => "草稿",
            ApplicationState::Ineligible => "不符合网办条件",
            ApplicationState::ParentsEntered => "已填父母信息",
            ApplicationState::IdentityVerified => "身份已核验",
            ApplicationState::DocumentsUploaded => "材料已上传",
            ApplicationState::ModificationRequested => "申请修改",
            ApplicationState::Confirmed => "登记表已确认",
            ApplicationState::Signed => "已签名",
            ApplicationState::AwaitingPayment => "待支付",
            ApplicationState::Submitted => "待审核",
            ApplicationState::Returned => "已退回",
            ApplicationState::Issued => "已签发",
            ApplicationState::Shipped => "已寄出",
            ApplicationState::LostInTransit => "邮寄丢失",
            ApplicationState::Delivered => "已签收",
            ApplicationState::Withdrawn => "已撤回",
            ApplicationState::Referred => "转窗口办理",
        }
    }

    pub fn describe(self) -> &'static str {
        match self {
            ApplicationState::Draft => "已创建，请填写父母信息",
            ApplicationState::Ineligible => "不符合网上办理条件，请到签发机构现场办理",
            ApplicationState::ParentsEntered => "父母信息已填写，请完成人脸识别",
            ApplicationState::IdentityVerified => "身份已核验，请上传父母身份证照片",
            ApplicationState::DocumentsUploaded => "材料已上传，请核对登记表并确认新生儿姓名",
            ApplicationState::ModificationRequested => "已申请修改住院分娩信息，等待签发机构处理",
            ApplicationState::Confirmed => "登记表已确认，请母亲电子签名",
            ApplicationState::Signed => "已签名，请填写邮寄地址并支付邮寄费",
            ApplicationState::AwaitingPayment => "待支付邮寄费",
            ApplicationState::Submitted => "已提交，等待签发机构审核（2个工作日内）",
            ApplicationState::Returned => "已退回，请按退回原因修改后重新提交",
            ApplicationState::Issued => "审核通过，出生医学证明已签发，等待寄出",
            ApplicationState::Shipped => "已寄出，请留意快递",
            ApplicationState::LostInTransit => "邮寄途中遗失，正在补发",
            ApplicationState::Delivered => "已签收，办理完成",
            ApplicationState::Withdrawn => "已撤回",
            ApplicationState::Referred => "需到签发机构窗口现场办理，邮寄费将原路退回",
        }
    }

    /// The form is frozen: the hospital's record can no longer change under it (an approved
    /// modification request puts the application back before confirmation).
    pub fn form_frozen(self) -> bool {
        use ApplicationState as S;
        matches!(
            self,
            S::Confirmed
                | S::Signed
                | S::AwaitingPayment
                | S::Submitted
                | S::Returned
                | S::Issued
                | S::Shipped
                | S::LostInTransit
                | S::Delivered
        )
    }

    /// The journey's steps in order, and the first state in which each counts as done.
    pub const JOURNEY_STEPS: [(&'static str, S); 9] = [
        ("parents", S::ParentsEntered),
        ("identity", S::IdentityVerified),
        ("documents", S::DocumentsUploaded),
        ("confirmation", S::Confirmed),
        ("signature", S::Signed),
        ("payment", S::Submitted),
        ("review", S::Issued),
        ("shipment", S::Shipped),
        ("delivery", S::Delivered),
    ];

    /// How far along the journey the state is (0 = not started or ended early).
    pub fn progress(self) -> usize {
        match self {
            S::Draft | S::Ineligible | S::Withdrawn | S::Referred => 0,
            S::ParentsEntered => 1,
            S::IdentityVerified => 2,
            S::DocumentsUploaded | S::ModificationRequested => 3,
            S::Confirmed => 4,
            S::Signed | S::AwaitingPayment => 5,
            S::Submitted | S::Returned => 6,
            S::Issued | S::LostInTransit => 7,
            S::Shipped => 8,
            S::Delivered => 9,
        }
    }

    /// Still in progress: blocks a second application for the same delivery record. A referred
    /// case stays live: the counter finishes it, not a new online application.
    pub fn is_live(self) -> bool {
        !matches!(self, ApplicationState::Withdrawn | ApplicationState::Ineligible)
    }
}

impl fmt::Display for ApplicationState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn due_today_is_the_china_day_of_the_deadline_and_not_past_it() {
        use chrono::TimeZone;
        // 2026-12-02 10:00 in China.
        let now = chrono::Utc.with_ymd_and_hms(2026, 12, 2, 2, 0, 0).single().expect("time");
        let tonight = Some(chrono::Utc.with_ymd_and_hms(2026, 12, 2, 15, 59, 0).single().expect("time"));
        let tomorrow = Some(chrono::Utc.with_ymd_and_hms(2026, 12, 2, 16, 0, 0).single().expect("time"));
        let earlier = Some(now - chrono::Duration::minutes(1));
        assert!(S::Submitted.is_due_today(tonight, now));
        assert!(!S::Submitted.is_due_today(tomorrow, now), "midnight in China is the next day");
        assert!(!S::Submitted.is_due_today(earlier, now), "past it is overdue, not due today");
        assert!(!S::Issued.is_due_today(tonight, now));
    }

    #[test]
    fn names_round_trip_and_every_state_has_a_description() {
        for s in ApplicationState::ALL {
            assert_eq!(ApplicationState::parse(s.as_str()), Some(s));
            assert!(!s.describe().is_empty());
        }
        assert_eq!(ApplicationState::parse("nonsense"), None);
        assert!(!ApplicationState::Withdrawn.is_live());
        assert!(ApplicationState::Submitted.is_live());
    }
}
