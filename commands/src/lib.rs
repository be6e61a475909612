//! The chat command language of zhiban (值班).
//!
//! This crate turns the text a person types into a command value; it does no I/O and knows nothing
//! of the core. The language itself (报障 /report, 确认 /ack, …) arrives with the Telegram issue; the
//! crate exists now so that the workspace has its final shape and dependencies point one way.
