//! birthcert: online first issuance of the birth medical certificate (出生医学证明) in
//! Pingyin county, Shandong. See README.md for a tour.

pub mod audit_anchor;
pub mod auth;
pub mod backup;
pub mod blobs;
pub mod cli;
pub mod clients;
pub mod config;
pub mod console;
pub mod crypto;
pub mod demo;
pub mod domain;
pub mod kv;
pub mod persistence;
pub mod reference_data;
pub mod routes;
pub mod services;
pub mod startup;
pub mod state;
pub mod telemetry;
pub mod wechat;
pub mod workers;
