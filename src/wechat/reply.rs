//! Passive replies: plain XML, or wrapped in safe mode. `success` means "nothing to say".

use super::crypto::AesKey;
use super::signature;
use super::xml::cdata;

pub const SUCCESS: &str = "success";

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
        let head = format!(
            "<xml><ToUserName>{}</ToUserName><FromUserName>{}</FromUserName><CreateTime>{create_time}</CreateTime>",
            cdata(to_user),
            cdata(from_account)
        );
        match self {
            Reply::Text(content) => {
                format!("{head}<MsgType>{}</MsgType><Content>{}</Content></xml>", cdata("text"), cdata(content))
            }
            Reply::News(articles) => {
                let items: String = articles
                    .iter()
                    .take(8)
                    .map(|a| {
                        format!(
                            "<item><Title>{}</Title><Description>{}</Description><PicUrl>{}</PicUrl><Url>{}</Url></item>",
                            cdata(&a.title),
                            cdata(&a.description),
                            cdata(&a.pic_url),
                            cdata(&a.url)
                        )
                    })
                    .collect();
                format!(
                    "{head}<MsgType>{}</MsgType><ArticleCount>{}</ArticleCount><Articles>{items}</Articles></xml>",
                    cdata("news"),
                    articles.len().min(8)
                )
            }
        }
    }
}

/// Wraps a reply for safe mode: encrypted with the key that decrypted the request, signed, with
/// the timestamp in seconds.
pub fn encrypt_reply(plain_xml: &str, key: &AesKey, app_id: &str, token: &str, timestamp: i64, nonce: &str) -> String {
    let encrypted = key.encrypt(plain_xml, app_id);
    let ts = timestamp.to_string();
    let msg_signature = signature::sign(&[token, &ts, nonce, &encrypted]);
    format!(
        "<xml><Encrypt>{}</Encrypt><MsgSignature>{}</MsgSignature><TimeStamp>{ts}</TimeStamp><Nonce>{}</Nonce></xml>",
        cdata(&encrypted),
        cdata(&msg_signature),
        cdata(nonce)
    )
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
        assert_eq!(el.child("Articles").expect("articles").children.len(), 2);
    }

    #[test]
    fn encrypted_reply_verifies_and_decrypts() {
        let key = AesKey::from_encoding_aes_key("abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG").expect("key");
        let wrapped = encrypt_reply("<xml>hi</xml>", &key, "wx1", "tok", 1714112445, "n1");
        let el = xml::parse(&wrapped).expect("well-formed");
        let enc = el.text_of("Encrypt").expect("Encrypt");
        assert_eq!(el.text_of("TimeStamp"), Some("1714112445"));
        assert!(signature::verify(&["tok", "1714112445", "n1", enc], el.text_of("MsgSignature").expect("sig")));
        assert_eq!(key.decrypt(enc, "wx1").expect("decrypts"), "<xml>hi</xml>");
    }
}
