//! The parser must never panic, and every error must explain itself in both languages.
#![no_main]

use libfuzzer_sys::fuzz_target;
use zhiban_commands::{Lang, ParseContext, TicketRef, parse};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    // The first byte picks the context, so replies and bot mentions are explored too.
    let ctx = ParseContext {
        replying_to: data.first().filter(|b| *b & 1 == 1).map(|_| TicketRef::Seq(42)),
        bot_username: data.first().filter(|b| *b & 2 == 2).map(|_| "zhiban_bot"),
    };
    if let Err(error) = parse(text, &ctx) {
        for lang in [Lang::Zh, Lang::En] {
            let message = error.message(lang);
            assert!(!message.trim().is_empty());
            if let Some(kind) = error.kind {
                assert!(message.ends_with(kind.spec().usage(lang)));
            }
        }
    }
});
