//! Every `code` the API answers, with its HTTP status and a Chinese message a mini-program can
//! show as it is. Served at `GET /api/v1/error-codes`; the README's table is written from it,
//! and tests fail when the source answers a code this list lacks, when the list names a code
//! the source never answers, or when the README's table differs (so none of them can drift).
//! Field-level codes (`fields[].code` of `validation_failed`) are the fields' own and are
//! listed with each field in the OpenAPI document, not here.

use actix_web::{get, HttpResponse};
use serde::Serialize;

#[derive(Debug, Clone, Copy, Serialize, utoipa::ToSchema)]
pub struct ErrorCode {
    pub code: &'static str,
    /// The statuses it comes with (one, except where two paths refuse the same thing).
    pub statuses: &'static [u16],
    /// What to show the person, in Chinese.
    pub message_zh: &'static str,
}

const fn e(code: &'static str, statuses: &'static [u16], message_zh: &'static str) -> ErrorCode {
    ErrorCode { code, statuses, message_zh }
}

/// Sorted by code.
pub const CATALOGUE: &[ErrorCode] = &[
    e("access_revoked", &[401], "账号已停用或密钥已撤销，请联系管理员"),
    e("address_missing", &[409], "请先填写收件地址"),
    e("already_answered", &[409], "该人脸核验已有结果，请勿重复提交"),
    e("already_decided", &[409], "该申请已处理，请刷新后查看"),
    e("already_received", &[409], "该号段中有编号已入库"),
    e("already_sealed", &[409], "该证书已记录盖章"),
    e("already_verified", &[409], "该家长已通过身份核验"),
    e("application_exists", &[409], "该分娩记录已有办理中的申请"),
    e("bad_signature", &[401], "签名校验失败"),
    e("certificate_state", &[409], "证书当前状态不允许此操作"),
    e("concurrent_change", &[409], "数据刚被他人修改，请刷新后重试"),
    e("consent_required", &[409], "请先阅读并同意人脸识别和个人信息告知"),
    e("correction_invalid", &[422], "更正内容不符合要求"),
    e("decrypt_failed", &[400], "消息解密失败"),
    e("documents_to_redo", &[422], "请先重新上传审核人员指出的材料"),
    e("empty_file", &[400], "上传的文件为空"),
    e("face_attempts_exhausted", &[422], "人脸核验失败次数已达上限，请到医院现场办理"),
    e("face_verification_failed", &[422], "人脸核验未通过，请重试"),
    e("file_missing", &[400], "请选择要上传的图片"),
    e("forbidden", &[403], "无权进行此操作"),
    e("form_frozen", &[409], "家长已确认登记表，不能再修改分娩记录"),
    e("health_card_not_resident_id", &[422], "电子健康卡须以居民身份证办理"),
    e("idempotency_key_reused", &[422], "同一请求编号用于了不同的内容"),
    e("image_too_large", &[422], "图片尺寸过大，请重新拍摄"),
    e("image_too_small", &[422], "图片不够清晰，请重新拍摄"),
    e("internal_error", &[500], "系统繁忙，请稍后再试"),
    e("invalid_body", &[400], "请求内容无法读取"),
    e("invalid_credentials", &[401], "用户名或密码错误"),
    e("invalid_date", &[400], "日期范围不正确"),
    e("invalid_health_code", &[400, 422], "电子健康卡授权码无效，请重新授权"),
    e("invalid_idempotency_key", &[400], "请求编号格式不正确"),
    e("invalid_json", &[400], "请求内容格式不正确"),
    e("invalid_login_code", &[400, 401], "登录已失效，请重新进入小程序"),
    e("invalid_multipart", &[400], "上传格式不正确"),
    e("invalid_notification", &[401], "支付通知校验失败"),
    e("invalid_page", &[400], "分页参数不正确"),
    e("invalid_path", &[400], "请求地址不正确"),
    e("invalid_query", &[400], "查询参数不正确"),
    e("invalid_range", &[400, 422], "编号或日期范围不正确"),
    e("invalid_search", &[400], "请输入姓名、身份证号、证书编号、快递单号或申请编号"),
    e("invalid_token", &[401], "登录状态无效，请重新登录"),
    e("invalid_xml", &[400], "消息格式不正确"),
    e("missing_token", &[401], "请先登录"),
    e("mother_not_verified", &[409], "请先完成母亲的人脸核验"),
    e("no_address", &[409], "该申请没有收件地址"),
    e("no_blank_stock", &[409], "空白证书已用完，请先入库新号段"),
    e("no_loss", &[409], "该申请没有遗失的邮件"),
    e("not_eligible", &[422], "不符合网上办理条件，请到医院现场办理"),
    e("not_first_issuance", &[422], "网上仅办理首次签发"),
    e("not_found", &[404], "未找到相关信息"),
    e("not_in_stock", &[422], "该编号不在本机构的空白证书库存中"),
    e("not_ready", &[503], "服务正在启动或维护，请稍后再试"),
    e("not_seal_keeper", &[403], "只有印章管理人员可以记录盖章"),
    e("number_used", &[409], "该证书编号已使用"),
    e("order_paid", &[409], "订单已支付，不能更改"),
    e("outdated_version", &[422], "告知内容已更新，请重新阅读后同意"),
    e("own_account", &[409], "不能停用自己的账号"),
    e("payload_too_large", &[413], "文件过大，请压缩后重新上传"),
    e("pdf_font_missing", &[503], "打印字体未安装，请联系管理员"),
    e("range_too_large", &[422], "一次入库的号段过长"),
    e("rate_limited", &[429], "操作太频繁，请稍后再试"),
    e("request_in_progress", &[409], "请求正在处理中，请勿重复提交"),
    e("safe_mode_required", &[403], "消息须以安全模式加密"),
    e("stale_timestamp", &[401, 403], "请求已过期，请重试"),
    e("store_unavailable", &[503], "服务暂时不可用，请稍后再试"),
    e("token_expired", &[401], "登录已过期，请重新登录"),
    e("too_many_attempts", &[429], "失败次数过多，请稍后再试"),
    e("unknown_event", &[400], "未知的快递事件"),
    e("unknown_format", &[400], "导出格式只能是 json 或 csv"),
    e("unknown_region", &[400], "收件地区不正确，请选择到区县"),
    e("unknown_state", &[400], "状态筛选不正确"),
    e("unsupported_media_type", &[415], "只能上传 JPG 或 PNG 图片"),
    e("upstream_unavailable", &[502], "外部服务暂时不可用，请稍后再试"),
    e("username_taken", &[409], "用户名已被使用"),
    e("validation_failed", &[422], "填写的信息有误，请按提示修改"),
    e("wrong_state", &[409], "当前办理进度不允许此操作，请刷新后查看"),
    e("xml_too_large", &[400], "消息过长"),
];

/// Every error code the API answers, with its status and a message to show.
#[utoipa::path(tag = "operations", responses((status = 200, body = [ErrorCode])))]
#[get("/api/v1/error-codes")]
pub async fn error_codes() -> HttpResponse {
    HttpResponse::Ok().json(CATALOGUE)
}

/// The README's table, as the catalogue says it.
pub fn markdown_table() -> String {
    let mut t = String::from("| code | HTTP | message (zh) |\n|---|---|---|\n");
    for c in CATALOGUE {
        let statuses: Vec<String> = c.statuses.iter().map(u16::to_string).collect();
        t.push_str(&format!("| `{}` | {} | {} |\n", c.code, statuses.join(", "), c.message_zh));
    }
    t
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    /// The codes the source answers: every `code: "…"`, `"code": "…"`, `bad_request("…"` and
    /// `unauthorized("…"` outside the console, but field codes (`"…".into()`), and the codes
    /// `ServiceError::code` names for its fixed variants.
    fn answered() -> BTreeSet<String> {
        let mut codes = BTreeSet::new();
        let mut dirs = vec![std::path::PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/src"))];
        while let Some(dir) = dirs.pop() {
            for entry in std::fs::read_dir(&dir).expect("src readable") {
                let path = entry.expect("entry").path();
                if path.is_dir() {
                    if !path.ends_with("console") {
                        dirs.push(path);
                    }
                    continue;
                }
                if path.extension().is_none_or(|x| x != "rs") || path.ends_with("error_codes.rs") {
                    continue;
                }
                let text = std::fs::read_to_string(&path).expect("readable");
                for prefix in ["code: \"", "\"code\": \"", "bad_request(", "unauthorized("] {
                    for (at, _) in text.match_indices(prefix) {
                        let rest = text[at + prefix.len()..].trim_start();
                        let rest = rest.strip_prefix('"').unwrap_or(rest);
                        let Some(end) = rest.find('"') else { continue };
                        let code = &rest[..end];
                        let field_code = rest[end + 1..].starts_with(".into()");
                        if !field_code && !code.is_empty() && code.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')
                        {
                            codes.insert(code.to_string());
                        }
                    }
                }
            }
        }
        let fixed = ["validation_failed", "forbidden", "not_found", "wrong_state", "payload_too_large"];
        let fixed2 = ["unsupported_media_type", "not_eligible", "rate_limited", "too_many_attempts"];
        codes.extend(
            fixed
                .iter()
                .chain(&fixed2)
                .chain(&["upstream_unavailable", "internal_error", "not_ready"])
                .map(|c| c.to_string()),
        );
        codes
    }

    #[test]
    fn every_code_the_source_answers_is_catalogued_and_nothing_else() {
        let listed: BTreeSet<String> = CATALOGUE.iter().map(|c| c.code.to_string()).collect();
        let answered = answered();
        let missing: Vec<_> = answered.difference(&listed).collect();
        assert!(missing.is_empty(), "answered but not catalogued: {missing:?}");
        let stale: Vec<_> = listed.difference(&answered).collect();
        assert!(stale.is_empty(), "catalogued but never answered: {stale:?}");
        let sorted: Vec<_> = CATALOGUE.iter().map(|c| c.code).collect();
        assert!(sorted.windows(2).all(|w| w[0] < w[1]), "sorted and unique");
        assert!(CATALOGUE.iter().all(|c| !c.statuses.is_empty() && !c.message_zh.is_empty()));
    }

    #[test]
    fn the_readme_lists_the_catalogue() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/README.md");
        let readme = std::fs::read_to_string(path).expect("README");
        let (start, end) = ("<!-- error-codes:start -->\n", "<!-- error-codes:end -->");
        let (Some(a), Some(b)) = (readme.find(start), readme.find(end)) else {
            panic!("README.md has no {start:?} … {end:?} block");
        };
        let table = markdown_table();
        if readme[a + start.len()..b] != table {
            if std::env::var_os("BIRTHCERT_BLESS").is_some() {
                let updated = format!("{}{start}{table}{}", &readme[..a], &readme[b..]);
                std::fs::write(path, updated).expect("README written");
            } else {
                panic!("README.md's error table differs from the catalogue; run with BIRTHCERT_BLESS=1 to rewrite it");
            }
        }
    }
}
