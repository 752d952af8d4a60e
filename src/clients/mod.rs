//! Outbound calls to outside systems, each behind a small surface with typed errors.

pub mod wechat;
