//! API keys for live trading: from environment variables or a key file that only its owner
//! can read (mode 0600, or stricter); anything else refuses to start.
//!
//! The key file is TOML:
//!
//! ```toml
//! api_key = "…"
//! secret = "…"                       # an HMAC-SHA256 key
//! # or, for an Ed25519 key:
//! # ed25519_private_key_file = "binance-ed25519.pem"   # also 0600; relative to this file
//! ```
//!
//! The environment variables are `TICKWIRE_BINANCE_API_KEY` and either
//! `TICKWIRE_BINANCE_SECRET` or `TICKWIRE_BINANCE_ED25519_KEY_FILE`.
//!
//! No error message, `Debug` output or log line ever holds key material: errors name the file
//! or the variable at fault, and [`Credentials`] prints the API key's last four characters only.

use std::path::{Path, PathBuf};

use super::sign::{KeyError, Signer};

/// The API key variable.
pub const ENV_API_KEY: &str = "TICKWIRE_BINANCE_API_KEY";
/// The HMAC secret variable.
pub const ENV_SECRET: &str = "TICKWIRE_BINANCE_SECRET";
/// The Ed25519 private key file variable.
pub const ENV_ED25519_FILE: &str = "TICKWIRE_BINANCE_ED25519_KEY_FILE";

/// Where the keys come from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KeySource {
    /// The environment variables above.
    Env,
    /// A key file.
    File(PathBuf),
}

/// Why the keys could not be loaded (one sentence; never the key itself).
#[derive(Debug, thiserror::Error)]
pub enum CredentialError {
    /// A variable is missing or empty.
    #[error("live trading needs the environment variable {0} (or venue.keys = \"file:PATH\")")]
    MissingVar(&'static str),
    /// The key file cannot be read.
    #[error("cannot read key file {path}: {reason}")]
    Read {
        /// File.
        path: String,
        /// Cause (from the OS).
        reason: String,
    },
    /// Others may read or write the key file.
    #[error("key file {path} has mode {mode:04o}: it must be readable by its owner only (chmod 600 {path})")]
    Permissions {
        /// File.
        path: String,
        /// Its permission bits.
        mode: u32,
    },
    /// The key file is not the expected TOML.
    #[error("key file {path}: {reason}")]
    Format {
        /// File.
        path: String,
        /// What is wrong (a key name, never a value).
        reason: String,
    },
    /// The key material is unusable.
    #[error("{origin}: {source}")]
    Key {
        /// File or variable.
        origin: String,
        /// Why.
        source: KeyError,
    },
}

/// An API key and the signer for its secret.
pub struct Credentials {
    api_key: String,
    signer: Signer,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Credentials({}, {:?})", self.key_hint(), self.signer)
    }
}

impl Credentials {
    /// Keys given directly (tests, and the loaders below).
    pub fn new(api_key: String, signer: Signer) -> Self {
        Self { api_key, signer }
    }

    /// The API key, for the `X-MBX-APIKEY` header only.
    pub fn api_key(&self) -> &str {
        &self.api_key
    }

    /// The signer.
    pub fn signer(&self) -> &Signer {
        &self.signer
    }

    /// `…abcd`: enough to tell keys apart in a journal, useless to anyone else.
    pub fn key_hint(&self) -> String {
        let n = self.api_key.chars().count();
        let tail: String = self.api_key.chars().skip(n.saturating_sub(4)).collect();
        format!("…{tail}")
    }

    /// Loads the keys from `source`.
    pub fn load(source: &KeySource) -> Result<Self, CredentialError> {
        match source {
            KeySource::Env => Self::from_env(|k| std::env::var(k).ok()),
            KeySource::File(p) => Self::from_file(p),
        }
    }

    /// From variables looked up by `var`.
    pub fn from_env(var: impl Fn(&str) -> Option<String>) -> Result<Self, CredentialError> {
        let get = |k: &'static str| var(k).filter(|v| !v.trim().is_empty());
        let api_key = get(ENV_API_KEY).ok_or(CredentialError::MissingVar(ENV_API_KEY))?;
        let signer = if let Some(secret) = get(ENV_SECRET) {
            Signer::hmac(secret.trim().as_bytes()).map_err(|source| CredentialError::Key {
                origin: ENV_SECRET.into(),
                source,
            })?
        } else if let Some(file) = get(ENV_ED25519_FILE) {
            ed25519_file(Path::new(file.trim()))?
        } else {
            return Err(CredentialError::MissingVar(ENV_SECRET));
        };
        Ok(Self::new(api_key.trim().to_string(), signer))
    }

    /// From a key file (0600 or stricter).
    pub fn from_file(path: &Path) -> Result<Self, CredentialError> {
        let text = read_private(path)?;
        let shown = path.display().to_string();
        let fmt = |reason: &str| CredentialError::Format {
            path: shown.clone(),
            reason: reason.to_string(),
        };
        // Parse errors from the TOML parser quote the offending line, which may be the key:
        // only the fact is reported.
        let doc: toml::Table = text
            .parse()
            .map_err(|_| fmt("not valid TOML (expected api_key = \"…\" and secret = \"…\")"))?;
        for k in doc.keys() {
            if !matches!(
                k.as_str(),
                "api_key" | "secret" | "ed25519_private_key_file"
            ) {
                return Err(fmt(&format!(
                    "unknown key `{k}` (api_key, secret, ed25519_private_key_file)"
                )));
            }
        }
        let str_of = |k: &str| doc.get(k).and_then(|v| v.as_str()).map(str::trim);
        let api_key = str_of("api_key")
            .filter(|s| !s.is_empty())
            .ok_or_else(|| fmt("no api_key"))?;
        let signer = match (str_of("secret"), str_of("ed25519_private_key_file")) {
            (Some(s), None) => {
                Signer::hmac(s.as_bytes()).map_err(|source| CredentialError::Key {
                    origin: shown.clone(),
                    source,
                })?
            }
            (None, Some(f)) => {
                let f = Path::new(f);
                let f = if f.is_relative() {
                    path.parent().unwrap_or(Path::new(".")).join(f)
                } else {
                    f.to_path_buf()
                };
                ed25519_file(&f)?
            }
            _ => {
                return Err(fmt(
                    "give exactly one of secret and ed25519_private_key_file",
                ))
            }
        };
        Ok(Self::new(api_key.to_string(), signer))
    }
}

fn ed25519_file(path: &Path) -> Result<Signer, CredentialError> {
    let pem = read_private(path)?;
    Signer::ed25519_pem(&pem).map_err(|source| CredentialError::Key {
        origin: path.display().to_string(),
        source,
    })
}

/// Reads a file that must be readable by its owner only.
fn read_private(path: &Path) -> Result<String, CredentialError> {
    let shown = path.display().to_string();
    let meta = std::fs::metadata(path).map_err(|e| CredentialError::Read {
        path: shown.clone(),
        reason: e.to_string(),
    })?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(CredentialError::Permissions { path: shown, mode });
        }
    }
    #[cfg(not(unix))]
    let _ = meta;
    std::fs::read_to_string(path).map_err(|e| CredentialError::Read {
        path: shown,
        reason: e.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j";
    const KEY: &str = "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A";

    fn scratch(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("tw-keys-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[cfg(unix)]
    fn chmod(p: &Path, mode: u32) {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap();
    }

    #[test]
    fn keys_come_from_the_environment_and_never_show() {
        let env = |k: &str| match k {
            ENV_API_KEY => Some(KEY.to_string()),
            ENV_SECRET => Some(SECRET.to_string()),
            _ => None,
        };
        let c = Credentials::from_env(env).unwrap();
        assert_eq!(c.api_key(), KEY);
        let shown = format!("{c:?}");
        assert!(!shown.contains(SECRET) && !shown.contains(KEY), "{shown}");
        assert!(shown.contains("…Eh8A"), "{shown}");
        let e = Credentials::from_env(|k| (k == ENV_API_KEY).then(|| KEY.to_string()))
            .unwrap_err()
            .to_string();
        assert!(e.contains(ENV_SECRET) && !e.contains(KEY), "{e}");
    }

    #[cfg(unix)]
    #[test]
    fn a_key_file_others_can_read_is_refused() {
        let d = scratch("perm");
        let f = d.join("binance.toml");
        std::fs::write(&f, format!("api_key = \"{KEY}\"\nsecret = \"{SECRET}\"\n")).unwrap();
        chmod(&f, 0o644);
        let e = Credentials::from_file(&f).unwrap_err().to_string();
        assert!(e.contains("mode 0644") && e.contains("chmod 600"), "{e}");
        assert!(!e.contains(SECRET) && !e.contains(KEY), "{e}");
        chmod(&f, 0o600);
        let c = Credentials::from_file(&f).unwrap();
        assert_eq!(
            c.signer().sign(b"symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC&quantity=1&price=0.1&recvWindow=5000&timestamp=1499827319559"),
            "c8db56825ae71d6d79447849e617115f4a920fa2acdcab2b053c4b2838bd6b71"
        );
        chmod(&f, 0o400);
        assert!(Credentials::from_file(&f).is_ok());
        let _ = std::fs::remove_dir_all(&d);
    }

    #[cfg(unix)]
    #[test]
    fn a_broken_key_file_says_what_is_wrong_without_quoting_it() {
        let d = scratch("broken");
        let f = d.join("k.toml");
        for (text, want) in [
            (
                format!("api_key = \"{KEY}\"\nsecret = {SECRET}\n"),
                "not valid TOML",
            ),
            (format!("api_key = \"{KEY}\"\n"), "exactly one of"),
            (format!("secret = \"{SECRET}\"\n"), "no api_key"),
            (
                format!("api_key = \"{KEY}\"\nsecrte = \"{SECRET}\"\n"),
                "unknown key `secrte`",
            ),
        ] {
            std::fs::write(&f, &text).unwrap();
            chmod(&f, 0o600);
            let e = Credentials::from_file(&f).unwrap_err().to_string();
            assert!(e.contains(want), "{e}");
            assert!(!e.contains(SECRET) && !e.contains(KEY), "{e}");
        }
        let e = Credentials::from_file(&d.join("missing.toml"))
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("cannot read key file"), "{e}");
        let _ = std::fs::remove_dir_all(&d);
    }
}
