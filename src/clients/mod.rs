//! Outbound calls to outside systems, each behind a small surface with typed errors.

pub mod courier;
pub mod face;
pub mod health_card;
pub mod pay;
pub mod wechat;
