//! What the applicant is told at each step (DESIGN §5) — and the one message officers may opt in
//! to, the morning digest of their institution's cases due that day — and how it fits WeChat's template
//! rules since 2023-05: no colour, no first/remark, each value at most 20 characters, no line
//! breaks. The same four keys serve template and subscribe messages; the template ids are
//! configured per event (`wechat.templates.*`).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::working_days::to_china;

pub const MAX_FIELD_CHARS: usize = 20;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Notification {
    Submitted {
        reference: String,
        review_due_at: DateTime<Utc>,
    },
    Returned {
        reference: String,
        reasons: Vec<String>,
    },
    ModificationDecided {
        reference: String,
        approved: bool,
        note: String,
    },
    Issued {
        reference: String,
        certificate_number: String,
    },
    Shipped {
        reference: String,
        carrier: String,
        tracking_number: String,
    },
    Delivered {
        reference: String,
    },
    Reissuing {
        reference: String,
        reason: String,
    },
    /// The case goes to the counter: where to go, and the way there.
    Referred {
        reference: String,
        reason: String,
        contact: String,
    },
    /// To an officer who opted in: their institution's cases due today and already overdue.
    DailyDigest {
        institution: String,
        date: chrono::NaiveDate,
        due_today: u64,
        overdue: u64,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotificationEvent {
    Submitted,
    Returned,
    ModificationDecided,
    Issued,
    Shipped,
    Delivered,
    Reissuing,
    Referred,
    DailyDigest,
}

impl NotificationEvent {
    pub fn as_str(self) -> &'static str {
        match self {
            NotificationEvent::Submitted => "submitted",
            NotificationEvent::Returned => "returned",
            NotificationEvent::ModificationDecided => "modification_decided",
            NotificationEvent::Issued => "issued",
            NotificationEvent::Shipped => "shipped",
            NotificationEvent::Delivered => "delivered",
            NotificationEvent::Reissuing => "reissuing",
            NotificationEvent::Referred => "referred",
            NotificationEvent::DailyDigest => "daily_digest",
        }
    }
}

impl Notification {
    pub fn event(&self) -> NotificationEvent {
        match self {
            Notification::Submitted { .. } => NotificationEvent::Submitted,
            Notification::Returned { .. } => NotificationEvent::Returned,
            Notification::ModificationDecided { .. } => NotificationEvent::ModificationDecided,
            Notification::Issued { .. } => NotificationEvent::Issued,
            Notification::Shipped { .. } => NotificationEvent::Shipped,
            Notification::Delivered { .. } => NotificationEvent::Delivered,
            Notification::Reissuing { .. } => NotificationEvent::Reissuing,
            Notification::Referred { .. } => NotificationEvent::Referred,
            Notification::DailyDigest { .. } => NotificationEvent::DailyDigest,
        }
    }

    fn reference(&self) -> &str {
        match self {
            Notification::Submitted { reference, .. }
            | Notification::Returned { reference, .. }
            | Notification::ModificationDecided { reference, .. }
            | Notification::Issued { reference, .. }
            | Notification::Shipped { reference, .. }
            | Notification::Delivered { reference }
            | Notification::Reissuing { reference, .. }
            | Notification::Referred { reference, .. } => reference,
            Notification::DailyDigest { institution, .. } => institution,
        }
    }

    /// keyword1 = the application, keyword2 = what happened, keyword3 = the detail,
    /// keyword4 = when. Every value is cleaned and cut to WeChat's limit.
    pub fn fields(&self, at: DateTime<Utc>) -> Vec<(&'static str, String)> {
        let (status, detail) = match self {
            Notification::Submitted { review_due_at, .. } => {
                ("已提交，待审核".to_string(), format!("{}前审核", to_china(*review_due_at).format("%m月%d日%H:%M")))
            }
            Notification::Returned { reasons, .. } => ("已退回，请修改".to_string(), reasons.join("；")),
            Notification::ModificationDecided { approved, note, .. } => {
                (if *approved { "修改已同意，请再确认" } else { "修改未同意" }.to_string(), note.clone())
            }
            Notification::Issued { certificate_number, .. } => {
                ("已签发".to_string(), format!("证号{certificate_number}"))
            }
            Notification::Shipped { carrier, tracking_number, .. } => {
                ("已寄出".to_string(), format!("{carrier} {tracking_number}"))
            }
            Notification::Delivered { .. } => ("已签收".to_string(), "出生医学证明已送达".to_string()),
            Notification::Reissuing { reason, .. } => ("补发办理中".to_string(), reason.clone()),
            // The contact (where, phone, hours) is the detail: the reason is in the mini-program.
            Notification::Referred { contact, .. } => ("请到窗口现场办理".to_string(), contact.clone()),
            Notification::DailyDigest { institution, date, due_today, overdue } => {
                return vec![
                    ("keyword1", field_value(&format!("{institution}待审核申请"))),
                    ("keyword2", field_value(&format!("今日到期{due_today}件，已逾期{overdue}件"))),
                    ("keyword3", field_value("请登录签发系统办理")),
                    ("keyword4", field_value(&date.format("%Y-%m-%d").to_string())),
                ]
            }
        };
        vec![
            ("keyword1", field_value(&format!("出生医学证明{}", self.reference()))),
            ("keyword2", field_value(&status)),
            ("keyword3", field_value(&detail)),
            ("keyword4", field_value(&to_china(at).format("%Y-%m-%d %H:%M").to_string())),
        ]
    }
}

/// One line, no control characters, at most 20 characters (the last one an ellipsis when cut).
pub fn field_value(raw: &str) -> String {
    let cleaned: String = raw
        .chars()
        .map(|c| if c == '\n' || c == '\r' || c == '\t' { ' ' } else { c })
        .filter(|c| !c.is_control())
        .collect::<String>()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    if cleaned.chars().count() <= MAX_FIELD_CHARS {
        cleaned
    } else {
        let mut cut: String = cleaned.chars().take(MAX_FIELD_CHARS - 1).collect();
        cut.push('…');
        cut
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    #[test]
    fn values_are_one_line_and_at_most_twenty_characters() {
        assert_eq!(field_value("a\nb\r\nc"), "a b c");
        let long = "请重新上传父亲身份证反面照片，当前照片模糊无法辨认";
        let v = field_value(long);
        assert_eq!(v.chars().count(), 20);
        assert!(v.ends_with('…'));
        assert_eq!(field_value("短"), "短");
    }

    #[test]
    fn every_event_fits_the_rules() {
        let at = Utc.with_ymd_and_hms(2026, 11, 26, 6, 30, 0).single().expect("time");
        let all = [
            Notification::Submitted { reference: "A1B2".into(), review_due_at: at },
            Notification::Returned {
                reference: "A1B2".into(),
                reasons: vec!["身份证照片模糊\n请重拍".into(), "父亲信息不全".into()],
            },
            Notification::ModificationDecided {
                reference: "A1B2".into(),
                approved: true,
                note: "已更正出生体重".into(),
            },
            Notification::Issued { reference: "A1B2".into(), certificate_number: "R370000123".into() },
            Notification::Shipped {
                reference: "A1B2".into(),
                carrier: "EMS".into(),
                tracking_number: "1234567890123".into(),
            },
            Notification::Delivered { reference: "A1B2".into() },
            Notification::Reissuing { reference: "A1B2".into(), reason: "邮寄遗失，补发新证".into() },
            Notification::Referred {
                reference: "A1B2".into(),
                reason: "父母一方为外籍".into(),
                contact: "平阴县人民医院 0531-87888565".into(),
            },
            Notification::DailyDigest {
                institution: "PY-RMYY".into(),
                date: chrono::NaiveDate::from_ymd_opt(2026, 11, 26).expect("day"),
                due_today: 12,
                overdue: 3,
            },
        ];
        for n in &all {
            let fields = n.fields(at);
            assert_eq!(fields.len(), 4);
            for (key, value) in fields {
                assert!(!["first", "remark"].contains(&key));
                assert!(value.chars().count() <= MAX_FIELD_CHARS, "{key}={value}");
                assert!(!value.contains('\n'));
            }
        }
        assert_eq!(all[0].fields(at)[3].1, "2026-11-26 14:30");
        assert_eq!(all[0].fields(at)[2].1, "11月26日14:30前审核");
        assert_eq!(all[8].fields(at)[1].1, "今日到期12件，已逾期3件");
        let json = serde_json::to_string(&all[4]).expect("json");
        assert_eq!(serde_json::from_str::<Notification>(&json).expect("back"), all[4]);
    }
}
