//! Face verification behind a provider trait. The WeChat implementation is face verification
//! 2.0: `getverifyid`, then the mini-program's `wx.requestFacialVerify`, then `queryverifyinfo`
//! with `cert_hash`; it passes only when errcode is 0 and `verify_ret` is 10000. No face image
//! is ever requested or stored.

use std::sync::Arc;

use super::wechat::{cert_hash, WechatClient, WechatError};

#[derive(Debug, Clone)]
pub struct FaceSession {
    pub verify_id: String,
    pub expires_in: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaceOutcome {
    Passed,
    Failed { code: i64 },
}

#[async_trait::async_trait]
pub trait FaceVerifier: Send + Sync {
    async fn start(
        &self,
        out_seq_no: &str,
        name: &str,
        id_number: &str,
        openid: &str,
    ) -> Result<FaceSession, WechatError>;
    async fn result(
        &self,
        verify_id: &str,
        out_seq_no: &str,
        name: &str,
        id_number: &str,
        openid: &str,
    ) -> Result<FaceOutcome, WechatError>;
}

pub struct WechatFaceVerifier(pub Arc<WechatClient>);

#[async_trait::async_trait]
impl FaceVerifier for WechatFaceVerifier {
    async fn start(
        &self,
        out_seq_no: &str,
        name: &str,
        id_number: &str,
        openid: &str,
    ) -> Result<FaceSession, WechatError> {
        let v = self.0.face_get_verify_id(out_seq_no, name, id_number, openid).await?;
        Ok(FaceSession { verify_id: v.verify_id, expires_in: v.expires_in })
    }

    async fn result(
        &self,
        verify_id: &str,
        out_seq_no: &str,
        name: &str,
        id_number: &str,
        openid: &str,
    ) -> Result<FaceOutcome, WechatError> {
        // The hash binds the result to the person declared: a pass for anyone else fails here.
        let hash = cert_hash("IDENTITY_CARD", name, id_number);
        let r = self.0.face_query(verify_id, out_seq_no, &hash, openid).await?;
        Ok(if r.passed() { FaceOutcome::Passed } else { FaceOutcome::Failed { code: r.verify_ret } })
    }
}
