//! The parent's separate consents (PIPL art. 29: sensitive personal data — here the face — needs
//! its own consent; art. 17: the processing notice). Each text has a version; a new text is a new
//! version, and consent to an older one does not cover it. Face verification starts only with
//! both consents of the current versions.

crate::text_enum! {
    pub enum ConsentKind {
        FaceRecognition = "face_recognition",
        PrivacyNotice = "privacy_notice",
    }
}

/// One consent text as the mini-program shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConsentText {
    pub kind: ConsentKind,
    pub version: &'static str,
    pub text: &'static str,
}

const FACE_RECOGNITION: ConsentText = ConsentText {
    kind: ConsentKind::FaceRecognition,
    version: "2026-12-01",
    text: "为核验申请人身份，本服务将通过微信人脸核身，将您的人脸图像与公安部门的身份信息比对。\
人脸图像由微信处理，本服务只保存核验结果、时间和核验编号，不保存人脸图像。\
核验结果仅用于本次出生医学证明申领，保存期限与申领档案相同。您可以拒绝，拒绝后请到签发机构现场办理。",
};

const PRIVACY_NOTICE: ConsentText = ConsentText {
    kind: ConsentKind::PrivacyNotice,
    version: "2026-12-01",
    text: "出生医学证明网上申领需处理父母及新生儿的姓名、身份证件号码、电话、住址、分娩信息和证件照片，\
用于审核、签发、邮寄和依法归档。身份证件号码和电话加密保存，日志和页面中均作遮盖。\
未完成的申请在结束后180天删除个人信息；已签发的登记材料依法永久保存。如需查询或更正，请联系签发机构。",
};

impl ConsentKind {
    /// The text in force, with its version.
    pub fn current(self) -> ConsentText {
        match self {
            ConsentKind::FaceRecognition => FACE_RECOGNITION,
            ConsentKind::PrivacyNotice => PRIVACY_NOTICE,
        }
    }
}

/// Every consent a face session needs, at their current versions.
pub fn needed_for_face() -> [ConsentText; 2] {
    [FACE_RECOGNITION, PRIVACY_NOTICE]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_kind_has_its_current_text_and_face_needs_both() {
        for kind in ConsentKind::ALL {
            let t = kind.current();
            assert_eq!(t.kind, *kind);
            assert!(!t.version.is_empty() && t.text.chars().count() > 40);
        }
        assert_eq!(needed_for_face().map(|t| t.kind), [ConsentKind::FaceRecognition, ConsentKind::PrivacyNotice]);
        assert_eq!(ConsentKind::parse("face_recognition"), Some(ConsentKind::FaceRecognition));
        assert_eq!(ConsentKind::parse("marketing"), None);
    }
}
