//! Outbound calls to outside systems, each behind a small surface with typed errors.

pub mod health_card;
pub mod wechat;
