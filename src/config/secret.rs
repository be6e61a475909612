//! Secrets in configuration: written inline (development only), or read from an environment
//! variable or a file so that the TOML file can be shared without them.

use std::fmt;

use serde::Deserialize;

/// Where a secret comes from, as written in the file.
#[derive(Clone, Deserialize)]
#[serde(untagged)]
pub enum SecretSource {
    Inline(String),
    Env { env: String },
    File { file: String },
}

impl fmt::Debug for SecretSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SecretSource::Inline(_) => f.write_str("Inline(***)"),
            SecretSource::Env { env } => write!(f, "Env({env})"),
            SecretSource::File { file } => write!(f, "File({file})"),
        }
    }
}

/// A resolved secret. Its `Debug` never shows the value, so it cannot leak into logs.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl SecretSource {
    /// Read the secret; the error says why in words fit for a config problem report.
    pub fn resolve(&self, env: &dyn Fn(&str) -> Option<String>) -> Result<Secret, String> {
        let value = match self {
            SecretSource::Inline(v) => v.clone(),
            SecretSource::Env { env: name } => {
                env(name).ok_or_else(|| format!("environment variable {name} is not set"))?
            }
            SecretSource::File { file } => std::fs::read_to_string(file)
                .map_err(|e| format!("cannot read secret file {file}: {e}"))?
                .trim_end_matches(['\n', '\r'])
                .to_string(),
        };
        if value.trim().is_empty() {
            return Err("the secret is empty".into());
        }
        Ok(Secret(value))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_env(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn debug_never_shows_the_value() {
        let s = SecretSource::Inline("hunter2".into());
        assert!(!format!("{s:?}").contains("hunter2"));
        assert!(!format!("{:?}", s.resolve(&no_env).unwrap()).contains("hunter2"));
    }

    #[test]
    fn env_and_file_sources() {
        let env = |k: &str| (k == "ZB_TOKEN").then(|| "abc".to_string());
        assert_eq!(SecretSource::Env { env: "ZB_TOKEN".into() }.resolve(&env).unwrap().expose(), "abc");
        let err = SecretSource::Env { env: "MISSING".into() }.resolve(&env).unwrap_err();
        assert!(err.contains("MISSING"), "{err}");
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("token");
        std::fs::write(&path, "from-file\n").unwrap();
        let src = SecretSource::File { file: path.display().to_string() };
        assert_eq!(src.resolve(&no_env).unwrap().expose(), "from-file");
        assert!(SecretSource::Inline("  ".into()).resolve(&no_env).is_err());
    }
}
