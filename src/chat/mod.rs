//! Chat (IM): people report, acknowledge and follow incidents where they already talk. This module
//! is the same for every provider; a provider plugs in with a [`sink::ChatApi`] and its own way of
//! receiving updates ([`telegram`], [`wecom`], [`dingtalk`], [`feishu`]; group robots in
//! [`robot`]).
//!
//! - Updates are committed to the inbox (`chat_inbox`) before the provider is answered, and the
//!   [`inbox`] worker hands them to the [`handler`]: binding ([`identity`]), guided reports
//!   ([`guided`]), the command language of `zhiban-commands`, buttons.
//! - Everything the bot says goes through the outbox ([`outgoing`], [`sink`]): paced under the
//!   provider's limits, put off when it says to wait, following groups that moved.
//! - Incidents are posted to the group channels configured by unit, system and level as cards
//!   edited in place, with a threaded reply per update ([`cards`]).

pub mod cards;
pub mod channels;
pub mod dingtalk;
pub mod feishu;
pub mod guided;
pub mod handler;
pub mod identity;
pub mod inbox;
pub mod outgoing;
pub mod robot;
pub mod sink;
pub mod swap;
pub mod telegram;
pub mod wecom;
