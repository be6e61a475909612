//! Inbound webhook formats. Each submodule turns one sender's request body into
//! [`InboundAlert`]s; [`parse`] picks the submodule for a [`SourceKind`].
//!
//! All parsers share these rules:
//!
//! - bodies are decoded with `serde_json` and `serde_path_to_error`, so a [`PayloadError`] names
//!   the JSON path of the bad field (`alerts[0].labels`, `event_id`);
//! - unknown fields are accepted and ignored, since senders add fields over time;
//! - no input makes a parser panic; nesting deeper than 128 levels is a syntax error;
//! - a payload with an empty `alerts` list is `Ok(vec![])`, not an error.
//!
//! The formats and their mapping are documented for operators in `docs/webhooks.md`.

pub mod alertmanager;
mod common;
mod error;
pub mod generic;
pub mod grafana;
pub mod zabbix;

pub use error::PayloadError;

use crate::{InboundAlert, SourceKind};

/// Parses a webhook body in the format of `source`.
pub fn parse(source: SourceKind, body: &[u8]) -> Result<Vec<InboundAlert>, PayloadError> {
    match source {
        SourceKind::Alertmanager => alertmanager::parse(body),
        SourceKind::Grafana => grafana::parse(body),
        SourceKind::Zabbix => zabbix::parse(body),
        SourceKind::Generic => generic::parse(body),
    }
}

#[cfg(test)]
mod tests;
