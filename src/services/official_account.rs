//! What the official account does with each message and event. The callback route verifies,
//! decrypts and dedupes; this decides the reply and the effects. Effects are idempotent, so a
//! retry that slips past the dedupe (store down) changes nothing twice.

use std::sync::Arc;

use chrono::Utc;

use crate::clients::wechat::WechatClient;
use crate::domain::application_state::ApplicationState;
use crate::domain::masking;
use crate::persistence::{institutions, outbox, users, Db, PersistenceError};
use crate::wechat::message::{Event, Inbound, SubscribeStatus, TemplateDelivery};
use crate::wechat::reply::Reply;

pub const APPLY_MENU_KEY: &str = "APPLY_BIRTH_CERT";
/// The texts a follower sends for the progress of their applications and for whom to call.
const PROGRESS_TEXT: &str = "进度";
const CONSULT_TEXT: &str = "咨询";

const WELCOME: &str = "欢迎关注平阴县出生医学证明网上申领。\
在小程序中即可申请新生儿首次签发的出生医学证明，无需跑腿。\
回复“进度”查询办理进度，回复“咨询”获取签发机构电话和办公时间。";

const HOW_TO_APPLY: &str = "办理步骤：1. 打开小程序并绑定母亲的电子健康卡；2. 选择分娩记录，填写父母信息；\
3. 父母人脸识别；4. 上传父母身份证正反面；5. 核对登记表、确认新生儿姓名；6. 母亲电子签名；\
7. 填写邮寄地址并支付邮寄费。签发机构在2个工作日内审核，证件邮寄到家。";

const DIGEST_ON: &str = "已开启每日待办提醒：每个工作日早上，您会收到本机构当天到期的待审核申请数。";

pub struct OfficialAccount {
    pub db: Db,
    pub wechat: Arc<WechatClient>,
    pub calendar: Arc<crate::domain::Calendar>,
    pub echo_unknown_text: bool,
    /// Where the menu and the replies send a family: the mini-program's page.
    pub mini_program: MiniProgramPage,
}

/// The mini-program page the account links to, and the web page a WeChat too old for
/// mini-programs opens instead.
#[derive(Debug, Clone)]
pub struct MiniProgramPage {
    pub app_id: String,
    pub page: String,
    pub fallback_url: String,
}

/// What the "咨询" menu button sends back (the same as the text "咨询").
pub const CONSULT_MENU_KEY: &str = "CONSULT";

impl MiniProgramPage {
    pub fn from_settings(settings: &crate::config::Settings) -> MiniProgramPage {
        MiniProgramPage {
            app_id: settings.wechat.mini_program_app_id.clone(),
            page: settings.wechat.mini_program_page.clone(),
            fallback_url: settings.wechat.menu_fallback_url.clone(),
        }
    }

    /// A link in a text reply that opens the mini-program page (WeChat's
    /// `data-miniprogram-*` attributes; older clients follow the href).
    pub fn link(&self, text: &str) -> String {
        format!(
            "<a href=\"{}\" data-miniprogram-appid=\"{}\" data-miniprogram-path=\"{}\">{text}</a>",
            self.fallback_url, self.app_id, self.page
        )
    }

    /// The account's menu: the mini-program first, then how to apply and whom to ask.
    pub fn menu(&self) -> serde_json::Value {
        serde_json::json!({"button": [
            {"type": "miniprogram", "name": "申领出生证", "url": self.fallback_url,
             "appid": self.app_id, "pagepath": self.page},
            {"type": "click", "name": "办理说明", "key": APPLY_MENU_KEY},
            {"type": "click", "name": "咨询电话", "key": CONSULT_MENU_KEY},
        ]})
    }
}

/// `birthcert wechat menu sync`: creates the account's menu at WeChat (replacing the old one).
pub async fn sync_menu(
    wechat: &WechatClient,
    page: &MiniProgramPage,
) -> Result<(), crate::clients::wechat::WechatError> {
    wechat.create_menu(&page.menu()).await
}

impl OfficialAccount {
    /// The reply to a message that has no effect and needs nothing looked up (echoed text, the
    /// how-to-apply menu, images and the like: `Some(None)`, no reply), worked out at once.
    /// None: the message must go through [`OfficialAccount::handle`]. The callback uses this to
    /// render such a reply before claiming the message, so the claim carries it (see
    /// `wechat.callback_reply_first`).
    pub fn immediate_reply(&self, message: &Inbound) -> Option<Option<Reply>> {
        match message {
            Inbound::Text { content, .. } => match content.trim() {
                PROGRESS_TEXT | CONSULT_TEXT => None,
                text if text.starts_with(super::digest::BIND_COMMAND) => None,
                _ if self.echo_unknown_text => Some(Some(Reply::Text(content.clone()))),
                _ => Some(None),
            },
            Inbound::Event { event: Event::Click { key }, .. } if key == APPLY_MENU_KEY => {
                Some(Some(Reply::Text(format!("{HOW_TO_APPLY}\n{}", self.mini_program.link("点此打开小程序申领")))))
            }
            Inbound::Event { .. } => None,
            Inbound::Image { .. } | Inbound::Other { .. } => Some(None),
        }
    }

    /// The passive reply, if any. Slow work (asking WeChat who a new follower is) is started in
    /// the background so the reply always leaves inside WeChat's 5 s.
    pub async fn handle(self: &Arc<Self>, message: &Inbound) -> Result<Option<Reply>, PersistenceError> {
        if let Some(reply) = self.immediate_reply(message) {
            return Ok(reply);
        }
        let from = message.header().from_user.clone();
        match message {
            Inbound::Text { content, .. } => match content.trim() {
                PROGRESS_TEXT => Ok(Some(Reply::Text(self.progress(&from).await?))),
                CONSULT_TEXT => Ok(Some(Reply::Text(self.consultation().await?))),
                text => {
                    // The bind command: everything else was answered above.
                    let code = text.trim_start_matches(super::digest::BIND_COMMAND);
                    let bound = super::digest::bind(&self.db, code, &from, Utc::now()).await?;
                    Ok(Some(Reply::Text(
                        if bound {
                            DIGEST_ON
                        } else {
                            "绑定码无效或已过期，请在签发系统“每日提醒”页面重新获取。"
                        }
                        .to_string(),
                    )))
                }
            },
            Inbound::Event { event, .. } => self.on_event(&from, event).await,
            Inbound::Image { .. } | Inbound::Other { .. } => Ok(None),
        }
    }

    async fn on_event(self: &Arc<Self>, from: &str, event: &Event) -> Result<Option<Reply>, PersistenceError> {
        match event {
            Event::Subscribe { .. } => {
                let this = self.clone();
                let openid = from.to_string();
                tokio::spawn(async move { this.link_follower(&openid).await });
                Ok(Some(Reply::Text(WELCOME.to_string())))
            }
            Event::Unsubscribe => {
                // Only the link goes; applications, forms and registers are legal records.
                let removed = users::unlink_official_account(&self.db, from).await?;
                tracing::info!(removed, "follower left; official-account link removed");
                Ok(None)
            }
            Event::Click { key } if key == CONSULT_MENU_KEY => Ok(Some(Reply::Text(self.consultation().await?))),
            Event::TemplateSendJobFinish { msg_id, status } => {
                let state = match status {
                    TemplateDelivery::Success => outbox::OutboxState::Delivered,
                    TemplateDelivery::UserBlock => outbox::OutboxState::UserBlocked,
                    TemplateDelivery::SystemFailed | TemplateDelivery::Other(_) => outbox::OutboxState::Failed,
                };
                let found = outbox::record_delivery(&self.db, msg_id, state).await?;
                tracing::info!(msg_id, state = state.as_str(), found, "template delivery report");
                Ok(None)
            }
            Event::SubscribeMsgPopup { choices } | Event::SubscribeMsgChange { choices } => {
                match users::user_by_official_openid(&self.db, from).await? {
                    Some(user_id) => {
                        for c in choices {
                            let status = match &c.status {
                                SubscribeStatus::Accept => "accept",
                                SubscribeStatus::Reject => "reject",
                                SubscribeStatus::Other(s) => s.as_str(),
                            };
                            users::record_consent(&self.db, &user_id, &c.template_id, status).await?;
                        }
                    }
                    None => tracing::info!("consent change from an account user not linked yet; ignored"),
                }
                Ok(None)
            }
            Event::SubscribeMsgSent { results } => {
                for r in results {
                    tracing::info!(template_id = %r.template_id, msg_id = %r.msg_id, error_code = r.error_code, "subscribe message report");
                }
                Ok(None)
            }
            _ => Ok(None),
        }
    }

    /// Asks WeChat for the follower's unionid and links the two openids. Runs in the
    /// background; a failure is logged and the next subscribe or sign-in tries again.
    pub async fn link_follower(&self, official_openid: &str) {
        match self.wechat.user_info(official_openid).await {
            Ok(info) => match info.unionid {
                Some(unionid) if info.subscribe == 1 => {
                    match users::link_official_account(&self.db, &unionid, official_openid).await {
                        Ok(user_id) => tracing::info!(%user_id, "follower linked through unionid"),
                        Err(e) => tracing::error!(error = %e, "linking follower failed"),
                    }
                }
                _ => tracing::warn!("user/info returned no unionid; follower not linked"),
            },
            Err(e) => tracing::warn!(error = %e, "user/info failed; follower not linked yet"),
        }
    }

    async fn progress(&self, official_openid: &str) -> Result<String, PersistenceError> {
        let Some(user_id) = users::user_by_official_openid(&self.db, official_openid).await? else {
            return Ok("暂未找到与您关联的申请。请先在小程序中登录并提交申请。".to_string());
        };
        let apps = users::recent_applications(&self.db, &user_id, 3).await?;
        if apps.is_empty() {
            return Ok("您还没有出生医学证明申请。点击菜单“办理出生证”了解如何开始。".to_string());
        }
        let lines: Vec<String> = apps
            .iter()
            .map(|a| {
                let state = ApplicationState::parse(&a.state).map(ApplicationState::describe).unwrap_or("处理中");
                let due = match (ApplicationState::parse(&a.state), a.review_due_at) {
                    (Some(ApplicationState::Submitted), Some(due)) => {
                        format!("，审核期限{}", crate::domain::working_days::to_china(due).format("%m月%d日%H:%M"))
                    }
                    _ => String::new(),
                };
                format!("申请{}：{state}{due}", masking::short_reference(&a.id))
            })
            .collect();
        Ok(lines.join("\n"))
    }

    async fn consultation(&self) -> Result<String, PersistenceError> {
        let now = Utc::now();
        let lines: Vec<String> = institutions::list(&self.db)
            .await?
            .into_iter()
            .filter(|i| i.issuer)
            .map(|i| {
                let open =
                    if i.office_hours.is_open(&self.calendar, now) { "现在办公" } else { "现在非办公时间" };
                format!("{}{}：{}，工作日{}（{open}）", i.name, i.office, i.phone, i.office_hours.display().join("、"))
            })
            .collect();
        Ok(format!("出生医学证明咨询电话：\n{}", lines.join("\n")))
    }
}
