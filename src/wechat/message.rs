//! Inbound messages and events of the official account, typed. Anything unknown is kept raw
//! (it is not an error: WeChat adds events over time).

use std::collections::BTreeMap;

use super::xml::{self, Element, XmlError};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// The account's original id (`gh_...`).
    pub to_user: String,
    /// The sender's official-account openid.
    pub from_user: String,
    pub create_time: i64,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Inbound {
    Text {
        header: Header,
        msg_id: String,
        content: String,
    },
    Image {
        header: Header,
        msg_id: String,
        pic_url: String,
        media_id: String,
    },
    Event {
        header: Header,
        event: Event,
    },
    /// Voice, video, link, ... kept as received.
    Other {
        header: Header,
        msg_type: String,
        msg_id: Option<String>,
        fields: BTreeMap<String, String>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SubscribeStatus {
    Accept,
    Reject,
    Other(String),
}

impl SubscribeStatus {
    fn parse(s: &str) -> SubscribeStatus {
        match s {
            "accept" => SubscribeStatus::Accept,
            "reject" => SubscribeStatus::Reject,
            other => SubscribeStatus::Other(other.to_string()),
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            SubscribeStatus::Accept => "accept",
            SubscribeStatus::Reject => "reject",
            SubscribeStatus::Other(s) => s,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscribeChoice {
    pub template_id: String,
    pub status: SubscribeStatus,
    pub popup_scene: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscribeSent {
    pub template_id: String,
    pub msg_id: String,
    pub error_code: i64,
    pub error_status: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TemplateDelivery {
    Success,
    UserBlock,
    SystemFailed,
    Other(String),
}

impl TemplateDelivery {
    fn parse(s: &str) -> TemplateDelivery {
        // Note the space WeChat puts in "failed: system failed" and not in "failed:user block".
        match s.trim() {
            "success" => TemplateDelivery::Success,
            "failed:user block" => TemplateDelivery::UserBlock,
            "failed: system failed" | "failed:system failed" => TemplateDelivery::SystemFailed,
            other => TemplateDelivery::Other(other.to_string()),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// `scene` is the QR scene without the `qrscene_` prefix when the user followed by scanning.
    Subscribe {
        scene: Option<String>,
        ticket: Option<String>,
    },
    Unsubscribe,
    Scan {
        scene: String,
        ticket: Option<String>,
    },
    Location {
        latitude: f64,
        longitude: f64,
        precision: f64,
    },
    Click {
        key: String,
    },
    View {
        url: String,
        menu_id: Option<String>,
    },
    TemplateSendJobFinish {
        msg_id: String,
        status: TemplateDelivery,
    },
    SubscribeMsgPopup {
        choices: Vec<SubscribeChoice>,
    },
    SubscribeMsgChange {
        choices: Vec<SubscribeChoice>,
    },
    SubscribeMsgSent {
        results: Vec<SubscribeSent>,
    },
    Unknown {
        event: String,
        fields: BTreeMap<String, String>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MessageError {
    #[error(transparent)]
    Xml(#[from] XmlError),
    #[error("required field {0} is missing")]
    Missing(&'static str),
    #[error("field {0} has an invalid value")]
    Invalid(&'static str),
}

fn required<'a>(el: &'a Element, name: &'static str) -> Result<&'a str, MessageError> {
    el.text_of(name).ok_or(MessageError::Missing(name))
}

fn optional(el: &Element, name: &str) -> Option<String> {
    el.text_of(name).filter(|s| !s.is_empty()).map(str::to_string)
}

fn flat_fields(el: &Element) -> BTreeMap<String, String> {
    el.children.iter().filter(|c| c.children.is_empty()).map(|c| (c.name.to_string(), c.text.to_string())).collect()
}

/// The `List` items of a subscribe-message event: one `<List>` per item, directly or inside a
/// wrapper element.
fn list_items<'a, 'b>(el: &'a Element<'b>, wrapper: &str) -> Vec<&'a Element<'b>> {
    match el.child(wrapper) {
        Some(w) => w.children.iter().filter(|c| c.name == "List").collect(),
        None => Vec::new(),
    }
}

fn choices(el: &Element, wrapper: &str) -> Vec<SubscribeChoice> {
    list_items(el, wrapper)
        .into_iter()
        .map(|item| SubscribeChoice {
            template_id: item.text_of("TemplateId").unwrap_or_default().to_string(),
            status: SubscribeStatus::parse(item.text_of("SubscribeStatusString").unwrap_or_default()),
            popup_scene: optional(item, "PopupScene"),
        })
        .collect()
}

impl Inbound {
    pub fn parse(input: &str) -> Result<Inbound, MessageError> {
        let el = xml::parse(input)?;
        let header = Header {
            to_user: required(&el, "ToUserName")?.to_string(),
            from_user: required(&el, "FromUserName")?.to_string(),
            create_time: required(&el, "CreateTime")?.parse().map_err(|_| MessageError::Invalid("CreateTime"))?,
        };
        let msg_type = required(&el, "MsgType")?;
        Ok(match msg_type {
            "text" => Inbound::Text {
                msg_id: required(&el, "MsgId")?.to_string(),
                content: required(&el, "Content")?.to_string(),
                header,
            },
            "image" => Inbound::Image {
                msg_id: required(&el, "MsgId")?.to_string(),
                pic_url: el.text_of("PicUrl").unwrap_or_default().to_string(),
                media_id: el.text_of("MediaId").unwrap_or_default().to_string(),
                header,
            },
            "event" => Inbound::Event { event: parse_event(&el)?, header },
            other => Inbound::Other {
                msg_type: other.to_string(),
                msg_id: optional(&el, "MsgId"),
                fields: flat_fields(&el),
                header,
            },
        })
    }

    pub fn header(&self) -> &Header {
        match self {
            Inbound::Text { header, .. }
            | Inbound::Image { header, .. }
            | Inbound::Event { header, .. }
            | Inbound::Other { header, .. } => header,
        }
    }

    /// The key WeChat's retries share: `MsgId + FromUserName + CreateTime` for messages
    /// (MsgId alone has collided between users), `FromUserName + CreateTime + Event + EventKey`
    /// for events (LOCATION and unsubscribe repeat within one second otherwise). `namespace`
    /// goes in front (the store's key space), so the key is written once.
    pub fn dedupe_key(&self, namespace: &str) -> String {
        use std::fmt::Write;
        let h = self.header();
        // Sized up front: `format!` starts from the literal pieces' length and grew this key
        // four times per message (2 % of the callback's samples with new messages).
        let mut key = String::with_capacity(namespace.len() + h.from_user.len() + 64);
        let written = match self {
            // A message without MsgId (rare kinds) is keyed by its type instead.
            Inbound::Text { msg_id: id, .. }
            | Inbound::Image { msg_id: id, .. }
            | Inbound::Other { msg_id: Some(id), .. }
            | Inbound::Other { msg_type: id, msg_id: None, .. } => {
                // Every message has one of these: the pieces appended, only the number formatted.
                for piece in [namespace, "msg:", id, ":", &h.from_user, ":"] {
                    key.push_str(piece);
                }
                write!(key, "{}", h.create_time)
            }
            Inbound::Event { event, .. } => {
                let (name, event_key) = event.name_and_key();
                write!(key, "{namespace}evt:{}:{}:{name}:{event_key}", h.from_user, h.create_time)
            }
        };
        written.expect("writing to a String cannot fail");
        key
    }
}

impl Event {
    fn name_and_key(&self) -> (String, String) {
        match self {
            Event::Subscribe { scene, .. } => {
                ("subscribe".into(), scene.as_ref().map(|s| format!("qrscene_{s}")).unwrap_or_default())
            }
            Event::Unsubscribe => ("unsubscribe".into(), String::new()),
            Event::Scan { scene, .. } => ("SCAN".into(), scene.clone()),
            Event::Location { latitude, longitude, .. } => ("LOCATION".into(), format!("{latitude},{longitude}")),
            Event::Click { key } => ("CLICK".into(), key.clone()),
            Event::View { url, .. } => ("VIEW".into(), url.clone()),
            Event::TemplateSendJobFinish { msg_id, .. } => ("TEMPLATESENDJOBFINISH".into(), msg_id.clone()),
            Event::SubscribeMsgPopup { .. } => ("subscribe_msg_popup_event".into(), String::new()),
            Event::SubscribeMsgChange { .. } => ("subscribe_msg_change_event".into(), String::new()),
            Event::SubscribeMsgSent { .. } => ("subscribe_msg_sent_event".into(), String::new()),
            Event::Unknown { event, fields } => (event.clone(), fields.get("EventKey").cloned().unwrap_or_default()),
        }
    }
}

fn parse_event(el: &Element) -> Result<Event, MessageError> {
    let event = required(el, "Event")?;
    let key = el.text_of("EventKey").unwrap_or_default();
    Ok(match event {
        "subscribe" => {
            Event::Subscribe { scene: key.strip_prefix("qrscene_").map(str::to_string), ticket: optional(el, "Ticket") }
        }
        "unsubscribe" => Event::Unsubscribe,
        "SCAN" => Event::Scan { scene: key.to_string(), ticket: optional(el, "Ticket") },
        "LOCATION" => {
            let num = |name: &'static str| -> Result<f64, MessageError> {
                required(el, name)?.parse().map_err(|_| MessageError::Invalid(name))
            };
            Event::Location { latitude: num("Latitude")?, longitude: num("Longitude")?, precision: num("Precision")? }
        }
        "CLICK" => Event::Click { key: key.to_string() },
        "VIEW" => Event::View { url: key.to_string(), menu_id: optional(el, "MenuId") },
        "TEMPLATESENDJOBFINISH" => Event::TemplateSendJobFinish {
            // Capital "ID" here, unlike MsgId on messages.
            msg_id: required(el, "MsgID")?.to_string(),
            status: TemplateDelivery::parse(required(el, "Status")?),
        },
        "subscribe_msg_popup_event" => Event::SubscribeMsgPopup { choices: choices(el, "SubscribeMsgPopupEvent") },
        "subscribe_msg_change_event" => Event::SubscribeMsgChange { choices: choices(el, "SubscribeMsgChangeEvent") },
        "subscribe_msg_sent_event" => Event::SubscribeMsgSent {
            results: list_items(el, "SubscribeMsgSentEvent")
                .into_iter()
                .map(|item| SubscribeSent {
                    template_id: item.text_of("TemplateId").unwrap_or_default().to_string(),
                    msg_id: item.text_of("MsgID").unwrap_or_default().to_string(),
                    error_code: item.text_of("ErrorCode").and_then(|c| c.parse().ok()).unwrap_or(-1),
                    error_status: item.text_of("ErrorStatus").unwrap_or_default().to_string(),
                })
                .collect(),
        },
        other => Event::Unknown { event: other.to_string(), fields: flat_fields(el) },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wrap(body: &str) -> String {
        format!(
            "<xml><ToUserName><![CDATA[gh_birthcert0001]]></ToUserName><FromUserName><![CDATA[oUser1]]></FromUserName><CreateTime>1714112445</CreateTime>{body}</xml>"
        )
    }

    fn event(body: &str) -> Event {
        match Inbound::parse(&wrap(&format!("<MsgType><![CDATA[event]]></MsgType>{body}"))).expect("parses") {
            Inbound::Event { event, .. } => event,
            other => panic!("not an event: {other:?}"),
        }
    }

    #[test]
    fn text_message() {
        let m = Inbound::parse(&wrap(
            "<MsgType><![CDATA[text]]></MsgType><Content><![CDATA[进度]]></Content><MsgId>1234567890123456</MsgId>",
        ))
        .expect("parses");
        match &m {
            Inbound::Text { content, msg_id, header } => {
                assert_eq!(content, "进度");
                assert_eq!(msg_id, "1234567890123456");
                assert_eq!(header.from_user, "oUser1");
                assert_eq!(header.to_user, "gh_birthcert0001");
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(m.dedupe_key(""), "msg:1234567890123456:oUser1:1714112445");
    }

    #[test]
    fn image_message() {
        let m = Inbound::parse(&wrap("<MsgType><![CDATA[image]]></MsgType><PicUrl><![CDATA[http://x/p.jpg]]></PicUrl><MediaId><![CDATA[m1]]></MediaId><MsgId>42</MsgId>")).expect("parses");
        assert!(matches!(m, Inbound::Image { ref media_id, .. } if media_id == "m1"));
    }

    #[test]
    fn subscribe_plain_and_by_qr_scene() {
        assert_eq!(event("<Event><![CDATA[subscribe]]></Event>"), Event::Subscribe { scene: None, ticket: None });
        assert_eq!(
            event("<Event><![CDATA[subscribe]]></Event><EventKey><![CDATA[qrscene_123123]]></EventKey><Ticket><![CDATA[TICKET]]></Ticket>"),
            Event::Subscribe { scene: Some("123123".into()), ticket: Some("TICKET".into()) }
        );
    }

    #[test]
    fn unsubscribe_scan_location_click_view() {
        assert_eq!(event("<Event><![CDATA[unsubscribe]]></Event>"), Event::Unsubscribe);
        assert_eq!(
            event(
                "<Event><![CDATA[SCAN]]></Event><EventKey><![CDATA[123123]]></EventKey><Ticket><![CDATA[T]]></Ticket>"
            ),
            Event::Scan { scene: "123123".into(), ticket: Some("T".into()) }
        );
        assert_eq!(
            event("<Event><![CDATA[LOCATION]]></Event><Latitude>23.137466</Latitude><Longitude>113.352425</Longitude><Precision>119.385040</Precision>"),
            Event::Location { latitude: 23.137466, longitude: 113.352425, precision: 119.38504 }
        );
        assert_eq!(
            event("<Event><![CDATA[CLICK]]></Event><EventKey><![CDATA[APPLY_BIRTH_CERT]]></EventKey>"),
            Event::Click { key: "APPLY_BIRTH_CERT".into() }
        );
        assert_eq!(
            event("<Event><![CDATA[VIEW]]></Event><EventKey><![CDATA[https://example.org/]]></EventKey><MenuId>415</MenuId>"),
            Event::View { url: "https://example.org/".into(), menu_id: Some("415".into()) }
        );
    }

    #[test]
    fn template_send_job_finish_statuses() {
        for (status, expected) in [
            ("success", TemplateDelivery::Success),
            ("failed:user block", TemplateDelivery::UserBlock),
            ("failed: system failed", TemplateDelivery::SystemFailed),
            ("failed:freq limit", TemplateDelivery::Other("failed:freq limit".into())),
        ] {
            assert_eq!(
                event(&format!("<Event><![CDATA[TEMPLATESENDJOBFINISH]]></Event><MsgID>200163836</MsgID><Status><![CDATA[{status}]]></Status>")),
                Event::TemplateSendJobFinish { msg_id: "200163836".into(), status: expected }
            );
        }
        // MsgId (lower-case d) is not what this event carries.
        assert!(Inbound::parse(&wrap(
            "<MsgType>event</MsgType><Event>TEMPLATESENDJOBFINISH</Event><MsgId>1</MsgId><Status>success</Status>"
        ))
        .is_err());
    }

    #[test]
    fn subscribe_message_events_with_their_lists() {
        let popup = event("<Event><![CDATA[subscribe_msg_popup_event]]></Event><SubscribeMsgPopupEvent><List><TemplateId><![CDATA[VRR0UEO9VJOLs0MHlU0OilqX6MVFDwH3_3gz3Oc0NIc]]></TemplateId><SubscribeStatusString><![CDATA[accept]]></SubscribeStatusString><PopupScene>2</PopupScene></List><List><TemplateId><![CDATA[9nLIlbOQZC5Y89AZteFEux3WCXRRRG5Wfzkpssu4bLI]]></TemplateId><SubscribeStatusString><![CDATA[reject]]></SubscribeStatusString><PopupScene>2</PopupScene></List></SubscribeMsgPopupEvent>");
        match popup {
            Event::SubscribeMsgPopup { choices } => {
                assert_eq!(choices.len(), 2);
                assert_eq!(choices[0].status, SubscribeStatus::Accept);
                assert_eq!(choices[1].status, SubscribeStatus::Reject);
                assert_eq!(choices[0].popup_scene.as_deref(), Some("2"));
            }
            other => panic!("{other:?}"),
        }
        let change = event("<Event><![CDATA[subscribe_msg_change_event]]></Event><SubscribeMsgChangeEvent><List><TemplateId><![CDATA[VRR0UEO9VJOLs0MHlU0OilqX6MVFDwH3_3gz3Oc0NIc]]></TemplateId><SubscribeStatusString><![CDATA[reject]]></SubscribeStatusString></List></SubscribeMsgChangeEvent>");
        assert!(
            matches!(change, Event::SubscribeMsgChange { ref choices } if choices.len() == 1 && choices[0].status == SubscribeStatus::Reject)
        );
        let sent = event("<Event><![CDATA[subscribe_msg_sent_event]]></Event><SubscribeMsgSentEvent><List><TemplateId><![CDATA[VRR0UEO9VJOLs0MHlU0OilqX6MVFDwH3_3gz3Oc0NIc]]></TemplateId><MsgID>1700827132819554304</MsgID><ErrorCode>0</ErrorCode><ErrorStatus><![CDATA[success]]></ErrorStatus></List></SubscribeMsgSentEvent>");
        assert_eq!(
            sent,
            Event::SubscribeMsgSent {
                results: vec![SubscribeSent {
                    template_id: "VRR0UEO9VJOLs0MHlU0OilqX6MVFDwH3_3gz3Oc0NIc".into(),
                    msg_id: "1700827132819554304".into(),
                    error_code: 0,
                    error_status: "success".into()
                }]
            }
        );
    }

    #[test]
    fn unknown_events_and_types_are_kept_raw() {
        match event("<Event><![CDATA[debug_demo]]></Event><debug_str><![CDATA[hello world]]></debug_str>") {
            Event::Unknown { event, fields } => {
                assert_eq!(event, "debug_demo");
                assert_eq!(fields.get("debug_str").map(String::as_str), Some("hello world"));
            }
            other => panic!("{other:?}"),
        }
        let voice =
            Inbound::parse(&wrap("<MsgType>voice</MsgType><MediaId>m</MediaId><Format>amr</Format><MsgId>9</MsgId>"))
                .expect("parses");
        assert!(matches!(voice, Inbound::Other { ref msg_type, .. } if msg_type == "voice"));
    }

    #[test]
    fn other_messages_are_keyed_by_msg_id_or_else_by_type() {
        let voice =
            Inbound::parse(&wrap("<MsgType>voice</MsgType><MediaId>m</MediaId><MsgId>9</MsgId>")).expect("parses");
        assert_eq!(voice.dedupe_key("k:"), "k:msg:9:oUser1:1714112445");
        let bare = Inbound::parse(&wrap("<MsgType>shortvideo</MsgType><MediaId>m</MediaId>")).expect("parses");
        assert_eq!(bare.dedupe_key("k:"), "k:msg:shortvideo:oUser1:1714112445");
    }

    #[test]
    fn event_dedupe_key_includes_event_and_key() {
        let a =
            Inbound::parse(&wrap("<MsgType>event</MsgType><Event>CLICK</Event><EventKey>APPLY_BIRTH_CERT</EventKey>"))
                .expect("parses");
        let b = Inbound::parse(&wrap("<MsgType>event</MsgType><Event>CLICK</Event><EventKey>OTHER</EventKey>"))
            .expect("parses");
        assert_eq!(a.dedupe_key("wechat:callback:"), "wechat:callback:evt:oUser1:1714112445:CLICK:APPLY_BIRTH_CERT");
        assert_ne!(a.dedupe_key(""), b.dedupe_key(""));
    }

    #[test]
    fn missing_fields_are_errors() {
        assert_eq!(Inbound::parse("<xml><MsgType>text</MsgType></xml>"), Err(MessageError::Missing("ToUserName")));
        assert_eq!(
            Inbound::parse(&wrap("<MsgType>text</MsgType><Content>x</Content>")),
            Err(MessageError::Missing("MsgId"))
        );
        assert!(Inbound::parse("<xml><ToUserName>a</ToUserName><FromUserName>b</FromUserName><CreateTime>soon</CreateTime><MsgType>text</MsgType></xml>").is_err());
    }
}
