//! The edges of zhiban: providers' bytes in, neutral events out.
//!
//! This crate knows the wire formats of the systems zhiban talks to and nothing about zhiban's
//! business rules. Today it holds the inbound webhook formats:
//!
//! - [`webhook::alertmanager`]: Prometheus Alertmanager webhook, payload version 4;
//! - [`webhook::grafana`]: Grafana unified alerting webhook contact point (Grafana 9 and later);
//! - [`webhook::zabbix`]: the body sent by zhiban's own Zabbix media type (`config/zabbix/`);
//! - [`webhook::generic`]: zhiban's documented generic JSON format.
//!
//! Each turns a request body into a list of [`InboundAlert`]s, or a [`PayloadError`] that names the
//! JSON path of the offending field. No parser decides severities, routes or stores anything:
//! the raw severity text travels in [`InboundAlert::severity_hint`] and the core decides.
//!
//! It also holds outbound SMS paging in [`sms`]: Aliyun, Tencent Cloud, intranet HTTP gateways, GSM modems.
//!
//! Chat providers speak the neutral terms of [`chat`]; [`telegram`] is the Bot API through teloxide-core.
//!
//! [`email`] parses inbound mail (Chinese charsets, auto-reply/bounce detection, ticket tags) and composes outbound mail.
//!
//! ```
//! use zhiban_integrations::{parse, AlertStatus, SourceKind};
//!
//! let body = r#"{"title": "电子卷宗系统无法登录", "unit": "某某区人民法院", "severity": "一级"}"#;
//! let alerts = parse(SourceKind::Generic, body.as_bytes()).unwrap();
//! assert_eq!(alerts[0].status, AlertStatus::Firing);
//! assert_eq!(alerts[0].severity_hint.as_deref(), Some("一级"));
//! ```

pub mod alert;
pub mod chat;
pub mod dingtalk;
pub mod email;
pub mod feishu;
pub mod sms;
pub mod telegram;
pub mod webhook;
pub mod wecom;

pub use alert::{AlertStatus, InboundAlert, SourceKind};
pub use webhook::{PayloadError, parse};
