//! API tests through real HTTP, one binary. Each test gets its own app, database and mock.

mod accounts;
mod at_rest;
mod concurrency;
mod config;
mod confirmation;
mod console;
mod extractors;
mod health;
mod helpers;
mod identity;
mod institutions;
mod issuing;
mod journey;
mod kv;
mod login;
mod mock_platform;
mod outbox;
mod payment;
mod query_limits;
mod retention;
mod schema;
mod search;
mod secrets;
mod sessions;
mod wechat_callback;
mod wechat_client;
