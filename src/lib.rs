//! birthcert: online first issuance of the birth medical certificate (出生医学证明) in
//! Pingyin county, Shandong. See README.md for a tour.

pub mod accounts;
pub mod auth;
pub mod blobs;
pub mod cli;
pub mod clients;
pub mod config;
pub mod crypto;
pub mod demo;
pub mod domain;
pub mod error;
pub mod form_pdf;
pub mod issuing;
pub mod journey;
pub mod kv;
pub mod official_account;
pub mod persistence;
pub mod reference_data;
pub mod routes;
pub mod startup;
pub mod telemetry;
pub mod wechat;
pub mod workers;
