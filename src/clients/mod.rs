//! Outbound calls to outside systems, each behind a small surface with typed errors.

use std::time::Duration;

pub mod courier;
pub mod face;
pub mod health_card;
pub mod pay;
pub mod province;
pub mod sms;
pub mod wechat;

/// How long a pooled connection to an outside system may sit idle before we drop it ourselves.
/// Servers close idle keep-alive connections on their own schedule (actix-web, and so the mock
/// platform, after 5 s); a request written onto a connection the peer is closing at that moment
/// fails with "connection closed before message completed" (seen in the burst load run). Retiring
/// ours first avoids the race; the cost is one new handshake after a quiet spell.
pub const IDLE_CONNECTION: Duration = Duration::from_secs(4);

/// The HTTP client every outbound call goes through: a bound on the whole request, a shorter
/// one on connecting, and pooled connections retired before a peer's keep-alive ends.
pub fn http_client(timeout: Duration) -> Result<reqwest::Client, reqwest::Error> {
    reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout.min(Duration::from_secs(2)))
        .pool_idle_timeout(IDLE_CONNECTION)
        .build()
}

/// An outbound error as text fit for a log line or a stored row, with its causes ("error sending
/// request: client error (Connect): tcp connect error: Connection refused"). reqwest's own
/// message names the URL, and WeChat's API carries `secret=` and `access_token=` in the query:
/// the URL is left out.
pub fn describe(e: reqwest::Error) -> String {
    let e = e.without_url();
    let mut text = e.to_string();
    let mut source = std::error::Error::source(&e);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
