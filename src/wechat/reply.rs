//! Passive replies: plain XML, or wrapped in safe mode. `success` means "nothing to say".

use super::crypto::AesKey;
use super::signature;
use super::xml::push_cdata;

pub const SUCCESS: &str = "success";
/// How a safe-mode reply begins (a plaintext reply begins `<xml><ToUserName>`).
const ENVELOPE_START: &str = "<xml><Encrypt>";

/// Whether a reply as sent is a safe-mode envelope (made by [`encrypt_reply`]) rather than
/// plaintext XML: a kept reply goes back only to a request in the same mode.
pub fn is_envelope(sent: &str) -> bool {
    sent.starts_with(ENVELOPE_START)
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Article {
    pub title: String,
    pub description: String,
    pub pic_url: String,
    pub url: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    Text(String),
    News(Vec<Article>),
}

impl Reply {
    /// The reply XML, To and From swapped relative to the message: to the user's openid, from
    /// the account's original id.
    pub fn to_xml(&self, to_user: &str, from_account: &str, create_time: i64) -> String {
        use std::fmt::Write;
        let body_len = match self {
            Reply::Text(content) => content.len(),
            Reply::News(articles) => articles.iter().map(|a| a.title.len() + a.description.len() + 200).sum(),
        };
        let mut xml = String::with_capacity(256 + to_user.len() + body_len);
        xml.push_str("<xml><ToUserName>");
        push_cdata(&mut xml, to_user);
        xml.push_str("</ToUserName><FromUserName>");
        push_cdata(&mut xml, from_account);
        let _ = write!(xml, "</FromUserName><CreateTime>{create_time}</CreateTime><MsgType>");
        match self {
            Reply::Text(content) => {
                push_cdata(&mut xml, "text");
                xml.push_str("</MsgType><Content>");
                push_cdata(&mut xml, content);
                xml.push_str("</Content></xml>");
            }
            Reply::News(articles) => {
                push_cdata(&mut xml, "news");
                let shown = &articles[..articles.len().min(8)];
                let _ = write!(xml, "</MsgType><ArticleCount>{}</ArticleCount><Articles>", shown.len());
                for a in shown {
                    xml.push_str("<item>");
                    for (tag, value) in
                        [("Title", &a.title), ("Description", &a.description), ("PicUrl", &a.pic_url), ("Url", &a.url)]
                    {
                        let _ = write!(xml, "<{tag}>");
                        push_cdata(&mut xml, value);
                        let _ = write!(xml, "</{tag}>");
                    }
                    xml.push_str("</item>");
                }
                xml.push_str("</Articles></xml>");
            }
        }
        xml
    }
}

/// [`encrypt_reply`] with a fresh random nonce (sixteen hex digits, as WeChat's own).
pub fn seal(plain_xml: &str, key: &AesKey, app_id: &str, token: &str, timestamp: i64) -> String {
    let nonce = hex::encode(rand::random::<[u8; 8]>());
    encrypt_reply(plain_xml, key, app_id, token, timestamp, &nonce)
}

/// Wraps a reply for safe mode: encrypted with the key that decrypted the request, signed, with
/// the timestamp in seconds.
pub fn encrypt_reply(plain_xml: &str, key: &AesKey, app_id: &str, token: &str, timestamp: i64, nonce: &str) -> String {
    let encrypted = key.encrypt(plain_xml, app_id);
    let ts = timestamp.to_string();
    let msg_signature = signature::sign(&[token, &ts, nonce, &encrypted]);
    let mut xml = String::with_capacity(encrypted.len() + msg_signature.len() + nonce.len() + 160);
    xml.push_str(ENVELOPE_START);
    push_cdata(&mut xml, &encrypted);
    xml.push_str("</Encrypt><MsgSignature>");
    push_cdata(&mut xml, &msg_signature);
    xml.push_str("</MsgSignature><TimeStamp>");
    xml.push_str(&ts);
    xml.push_str("</TimeStamp><Nonce>");
    push_cdata(&mut xml, nonce);
    xml.push_str("</Nonce></xml>");
    xml
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wechat::xml;

    #[test]
    fn text_reply_swaps_and_escapes() {
        let x = Reply::Text("a & b < c ]]> d".into()).to_xml("oUser", "gh_acc", 1714112445);
        let el = xml::parse(&x).expect("well-formed");
        assert_eq!(el.text_of("ToUserName"), Some("oUser"));
        assert_eq!(el.text_of("FromUserName"), Some("gh_acc"));
        assert_eq!(el.text_of("MsgType"), Some("text"));
        assert_eq!(el.text_of("Content"), Some("a & b < c ]]> d"));
        assert_eq!(el.text_of("CreateTime"), Some("1714112445"));
    }

    #[test]
    fn news_reply_lists_articles() {
        let a =
            Article { title: "申领".into(), description: "d".into(), pic_url: "".into(), url: "https://x/".into() };
        let x = Reply::News(vec![a.clone(), a]).to_xml("o", "gh", 1);
        let el = xml::parse(&x).expect("well-formed");
        assert_eq!(el.text_of("ArticleCount"), Some("2"));
        let items = &el.child("Articles").expect("articles").children;
        assert_eq!(items.len(), 2);
        assert_eq!(items[0].text_of("Title"), Some("申领"));
        assert_eq!(items[1].text_of("Url"), Some("https://x/"));
        // WeChat shows at most eight.
        let nine = Reply::News(vec![items_of(); 9].concat()).to_xml("o", "gh", 1);
        let el = xml::parse(&nine).expect("well-formed");
        assert_eq!(el.text_of("ArticleCount"), Some("8"));
        assert_eq!(el.child("Articles").expect("articles").children.len(), 8);
    }

    fn items_of() -> Vec<Article> {
        vec![Article { title: "t".into(), description: "d".into(), pic_url: "".into(), url: "u".into() }]
    }

    #[test]
    fn encrypted_reply_verifies_and_decrypts() {
        let key = AesKey::from_encoding_aes_key("abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG").expect("key");
        let wrapped = encrypt_reply("<xml>hi</xml>", &key, "wx1", "tok", 1714112445, "n1");
        assert!(is_envelope(&wrapped));
        assert!(!is_envelope(&Reply::Text("x".into()).to_xml("o", "gh", 1)));
        let el = xml::parse(&wrapped).expect("well-formed");
        let enc = el.text_of("Encrypt").expect("Encrypt");
        assert_eq!(el.text_of("TimeStamp"), Some("1714112445"));
        assert!(signature::verify(&["tok", "1714112445", "n1", enc], el.text_of("MsgSignature").expect("sig")));
        assert_eq!(key.decrypt(enc, "wx1").expect("decrypts"), "<xml>hi</xml>");
    }

    #[test]
    fn a_sealed_reply_has_its_own_nonce_and_verifies() {
        let key = AesKey::from_encoding_aes_key("abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG").expect("key");
        let nonce_of = |sealed: &str| {
            let el = xml::parse(sealed).expect("well-formed");
            let (enc, nonce) = (el.text_of("Encrypt").expect("Encrypt"), el.text_of("Nonce").expect("Nonce"));
            assert!(signature::verify(&["tok", "1714112445", nonce, enc], el.text_of("MsgSignature").expect("sig")));
            assert_eq!(key.decrypt(enc, "wx1").expect("decrypts"), "<xml>hi</xml>");
            nonce.to_string()
        };
        let (a, b) = (
            nonce_of(&seal("<xml>hi</xml>", &key, "wx1", "tok", 1714112445)),
            nonce_of(&seal("<xml>hi</xml>", &key, "wx1", "tok", 1714112445)),
        );
        assert_ne!(a, b);
        assert!(a.len() == 16 && a.bytes().all(|c| c.is_ascii_hexdigit()), "{a}");
    }
}
