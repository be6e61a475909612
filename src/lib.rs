//! zhiban (值班): the core and the server.
//!
//! `domain` holds the pure rules, `store` the database, `engine` the async loops that apply the
//! rules durably, `web` the HTTP edge, `config` the operator's file, `cli` the commands.

pub mod app;
pub mod chat;
pub mod cli;
pub mod config;
pub mod domain;
pub mod email;
pub mod engine;
pub mod messages;
pub mod metrics;
pub mod store;
pub mod util;
pub mod web;
