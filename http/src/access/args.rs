//! The JWT flags, for a server binary built with clap (`#[command(flatten)]`);
//! both servers here take them.

use std::path::PathBuf;
use std::time::Duration;

use super::{JwksSource, JwtConfig};

/// How JWT bearer tokens are verified, as command-line flags. Without
/// `--jwt-jwks-url` or `--jwt-jwks-file`, JWTs are not accepted.
#[derive(Debug, Clone, clap::Args)]
pub struct JwtArgs {
    /// Accept JWTs signed by a key of the JWKS at this URL (an identity
    /// provider's `jwks_uri`), fetched at start, again for a token naming a
    /// key not held (at most once per --jwt-jwks-min-refetch-ms), and every
    /// 10 minutes.
    #[arg(long, value_name = "URL", conflicts_with = "jwt_jwks_file")]
    pub jwt_jwks_url: Option<String>,
    /// Accept JWTs signed by a key of the JWKS in this file, read at start
    /// and again as a URL would be fetched again.
    #[arg(long, value_name = "PATH")]
    pub jwt_jwks_file: Option<PathBuf>,
    /// The `iss` every JWT must carry.
    #[arg(long, value_name = "ISSUER")]
    pub jwt_issuer: Option<String>,
    /// The `aud` every JWT must carry (or include).
    #[arg(long, value_name = "AUDIENCE")]
    pub jwt_audience: Option<String>,
    /// Seconds a JWT's `exp` and `nbf` may be off (clock skew).
    #[arg(long, default_value_t = 5)]
    pub jwt_leeway_secs: u64,
    /// The least time between two fetches of the JWKS for tokens naming a
    /// key not held, in milliseconds.
    #[arg(long, default_value_t = 1_000, value_parser = clap::value_parser!(u64).range(1..))]
    pub jwt_jwks_min_refetch_ms: u64,
}

impl JwtArgs {
    /// The configuration the flags say, if they name a JWKS.
    pub fn config(&self) -> Option<JwtConfig> {
        let source = match (&self.jwt_jwks_url, &self.jwt_jwks_file) {
            (Some(url), _) => JwksSource::Url(url.clone()),
            (None, Some(path)) => JwksSource::File(path.clone()),
            (None, None) => return None,
        };
        let mut config = JwtConfig::new(source)
            .leeway(Duration::from_secs(self.jwt_leeway_secs))
            .min_refetch_interval(Duration::from_millis(self.jwt_jwks_min_refetch_ms));
        if let Some(issuer) = &self.jwt_issuer {
            config = config.issuer(issuer);
        }
        if let Some(audience) = &self.jwt_audience {
            config = config.audience(audience);
        }
        Some(config)
    }
}
