//! `zhiban people bind PERSON`: a one-time code the person sends to the bot to bind their IM
//! account (绑定账号).

use std::process::ExitCode;

use clap::Subcommand;

use super::{ConfigArgs, load};
use crate::chat::identity;
use crate::domain::PersonId;

#[derive(Debug, clap::Args)]
pub struct PeopleArgs {
    #[command(subcommand)]
    what: PeopleWhat,
}

#[derive(Debug, Subcommand)]
enum PeopleWhat {
    /// Print a one-time binding code for a person (by id, as in the catalogue).
    Bind {
        /// The person's id.
        person: String,
        #[command(flatten)]
        config: ConfigArgs,
    },
}

pub async fn run(args: PeopleArgs) -> anyhow::Result<ExitCode> {
    match args.what {
        PeopleWhat::Bind { person, config } => {
            let config = match load(&config) {
                Ok(c) => c,
                Err(e) => {
                    eprint!("{e}");
                    return Ok(ExitCode::from(2));
                }
            };
            let Some(p) = config.catalogue.person(&person) else {
                eprintln!("zhiban: no person has the id '{person}' in {}", config.file.display());
                return Ok(ExitCode::from(2));
            };
            let store = crate::app::open_store(&config).await?;
            let now = jiff::Timestamp::now();
            let expires = now + config.chat.bind_code_ttl;
            let code = identity::issue_code(&store, &PersonId(p.id.clone()), now, expires).await?;
            let until = expires.to_zoned_datetime(config.server.timezone.clone()).strftime("%Y-%m-%d %H:%M");
            println!("绑定码 / binding code for {} ({}): {code}", p.name, p.id);
            println!("请本人在与机器人的私聊中发送 / send it to the bot in a private chat: 绑定 {code}");
            println!("有效期至 / valid until {until}, once.");
            Ok(ExitCode::SUCCESS)
        }
    }
}
