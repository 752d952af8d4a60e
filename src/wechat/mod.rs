//! The official-account protocol, without a web framework: signatures, safe-mode crypto,
//! inbound XML, passive replies and dedupe keys.

pub mod crypto;
pub mod message;
pub mod open_data;
pub mod pay;
pub mod reply;
pub mod retries;
pub mod signature;
pub mod xml;
