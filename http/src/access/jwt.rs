//! JWT bearer tokens: who a caller is (`sub`) and what it may do (its
//! scopes), proved by a signature a key of the JWKS verifies.
//!
//! Accepted: RS256, ES256 and EdDSA, each verified only by a key of its own
//! kind; `exp` required, `nbf` honoured, both with a small leeway; the
//! issuer and audience checked when configured; `sub` required (the audit
//! names the caller by it). Refused: `alg: none`, HMAC (a JWKS is public:
//! an HMAC token "signed" with a public key must not pass), a key the JWKS
//! does not hold after reading it again, and anything that does not parse.

use std::sync::Arc;
use std::time::Duration;

use jsonwebtoken::{Algorithm, Validation};
use serde::Deserialize;
use tokio::time::Instant;

use super::jwks::{Jwks, JwksError, JwksPolicy, JwksSource};

/// The longest token read: a JWT with a handful of claims is far smaller.
const MAX_TOKEN_BYTES: usize = 8 * 1024;

/// Verified tokens kept (each at most [`MAX_TOKEN_BYTES`] and its claims).
const VERIFIED_TOKENS: usize = 10_000;

/// How JWTs are verified.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct JwtConfig {
    /// Where the signing keys come from.
    pub jwks: JwksSource,
    /// The `iss` tokens must carry, if any.
    pub issuer: Option<String>,
    /// The `aud` tokens must carry (or include), if any.
    pub audience: Option<String>,
    /// How far `exp` and `nbf` may be off: clock skew between the issuer
    /// and this server (default 5 s).
    pub leeway: Duration,
    /// How long fetching the JWKS may take (default 5 s).
    pub fetch_timeout: Duration,
    /// The least time between two readings of the JWKS for tokens naming a
    /// key not held (default 1 s): a token with a new key waits at most
    /// this long, and a flood of tokens with made-up keys costs the key
    /// server one request per interval.
    pub min_refetch_interval: Duration,
    /// How old the keys may get before they are read again in the
    /// background (default 10 minutes), so a key removed from the JWKS stops
    /// being accepted.
    pub max_key_age: Duration,
}

impl JwtConfig {
    /// Tokens verified by the keys of `jwks`, with the defaults.
    pub fn new(jwks: JwksSource) -> Self {
        Self {
            jwks,
            issuer: None,
            audience: None,
            leeway: Duration::from_secs(5),
            fetch_timeout: Duration::from_secs(5),
            min_refetch_interval: Duration::from_secs(1),
            max_key_age: Duration::from_secs(600),
        }
    }

    /// Requires `iss` to be `issuer`.
    #[must_use]
    pub fn issuer(mut self, issuer: impl Into<String>) -> Self {
        self.issuer = Some(issuer.into());
        self
    }

    /// Requires `aud` to be (or include) `audience`.
    #[must_use]
    pub fn audience(mut self, audience: impl Into<String>) -> Self {
        self.audience = Some(audience.into());
        self
    }

    /// Sets [`JwtConfig::leeway`].
    #[must_use]
    pub fn leeway(mut self, leeway: Duration) -> Self {
        self.leeway = leeway;
        self
    }

    /// Sets [`JwtConfig::min_refetch_interval`].
    #[must_use]
    pub fn min_refetch_interval(mut self, interval: Duration) -> Self {
        self.min_refetch_interval = interval;
        self
    }

    /// Sets [`JwtConfig::fetch_timeout`].
    #[must_use]
    pub fn fetch_timeout(mut self, timeout: Duration) -> Self {
        self.fetch_timeout = timeout;
        self
    }
}

/// Why a token was refused (logged at DEBUG; the client gets the
/// contract's 401 whatever the reason).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TokenError {
    /// Not three base64url parts, or a header that does not parse.
    #[error("the token is not a JWT")]
    Malformed,
    /// An algorithm other than RS256, ES256 and EdDSA (`none`, HMAC, …).
    #[error("the token's algorithm is not accepted")]
    Algorithm,
    /// No key of the JWKS has the token's `kid` and algorithm.
    #[error("no key of the JWKS verifies the token")]
    UnknownKey,
    /// The signature does not verify.
    #[error("the token's signature does not verify")]
    Signature,
    /// `exp` is past.
    #[error("the token has expired")]
    Expired,
    /// `nbf` is still to come.
    #[error("the token is not valid yet")]
    NotYetValid,
    /// `iss` is not the configured issuer.
    #[error("the token's issuer is not accepted")]
    Issuer,
    /// `aud` does not include the configured audience.
    #[error("the token's audience is not accepted")]
    Audience,
    /// A required claim (`exp`, `sub`) is missing or has the wrong type.
    #[error("the token lacks a required claim")]
    Claims,
}

impl From<jsonwebtoken::errors::Error> for TokenError {
    fn from(error: jsonwebtoken::errors::Error) -> Self {
        use jsonwebtoken::errors::ErrorKind;
        match error.kind() {
            ErrorKind::InvalidSignature => Self::Signature,
            ErrorKind::ExpiredSignature => Self::Expired,
            ErrorKind::ImmatureSignature => Self::NotYetValid,
            ErrorKind::InvalidIssuer => Self::Issuer,
            ErrorKind::InvalidAudience => Self::Audience,
            ErrorKind::InvalidAlgorithm | ErrorKind::MissingAlgorithm => Self::Algorithm,
            ErrorKind::MissingRequiredClaim(_) | ErrorKind::InvalidSubject | ErrorKind::Json(_) => {
                Self::Claims
            }
            _ => Self::Malformed,
        }
    }
}

/// What a verified token says about its bearer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenClaims {
    /// `sub`: who the token speaks for.
    pub subject: String,
    /// Its scopes, from `scope` (space-separated) and `scp` (an array, or a
    /// space-separated string).
    pub scopes: Vec<String>,
}

/// The claims read from a token's payload.
#[derive(Deserialize)]
struct Payload {
    sub: String,
    exp: f64,
    #[serde(default)]
    nbf: Option<f64>,
    #[serde(default)]
    scope: Option<Scopes>,
    #[serde(default)]
    scp: Option<Scopes>,
}

/// A scope claim in either spelling providers use.
#[derive(Deserialize)]
#[serde(untagged)]
enum Scopes {
    Text(String),
    List(Vec<String>),
}

impl Scopes {
    fn into_vec(self) -> Vec<String> {
        match self {
            Self::Text(text) => text.split_ascii_whitespace().map(str::to_owned).collect(),
            Self::List(list) => list,
        }
    }
}

/// A token verified: its claims, and what must still hold when it is
/// presented again.
struct Verified {
    claims: TokenClaims,
    exp: f64,
    nbf: Option<f64>,
    /// The key set it was verified with.
    generation: u64,
}

impl Verified {
    /// Whether it still holds at `now` (seconds since the epoch), as the
    /// first verification judged `exp` and `nbf`.
    fn holds(&self, now: f64, leeway: f64, generation: u64) -> bool {
        self.generation == generation
            && self.exp >= now - leeway
            && self.nbf.is_none_or(|nbf| nbf <= now + leeway)
    }
}

/// `url` checked as a key server's: `http` or `https` with a host; plain
/// HTTP to a host off loopback is warned of.
fn check_jwks_url(url: &str) -> Result<(), JwksError> {
    let bad = |why: &str| JwksError::Url(format!("{url}: {why}"));
    let parsed = reqwest::Url::parse(url).map_err(|e| bad(&e.to_string()))?;
    let host = parsed
        .host_str()
        .filter(|host| !host.is_empty())
        .ok_or_else(|| bad("no host"))?;
    let loopback = host.eq_ignore_ascii_case("localhost")
        || host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    match parsed.scheme() {
        "https" => Ok(()),
        "http" => {
            if !loopback {
                tracing::warn!(
                    "the JWKS is fetched over plain HTTP: whoever can change it in transit can sign tokens; use https://"
                );
            }
            Ok(())
        }
        other => Err(bad(&format!("scheme {other} (http or https)"))),
    }
}

/// Verifies JWTs against a JWKS. Cheap to share (`Arc` inside).
///
/// A token's signature is verified once (20–60 µs of CPU: more than the
/// rest of a request): the claims of the last 10 000 tokens verified are
/// kept, by the token's text, and served again while the token has not
/// expired and the key set is the one that verified it.
///
/// ```no_run
/// use std::sync::Arc;
///
/// use jobs_http::access::{ApiAccess, JwksSource, JwtConfig, JwtVerifier};
/// use jobs_http::{ApiState, DEFAULT_BODY_READ_TIMEOUT, JobStore};
///
/// async fn api(store: impl JobStore) -> Result<ApiState, Box<dyn std::error::Error>> {
///     let jwks = JwksSource::Url("https://login.example.com/.well-known/jwks.json".into());
///     let verifier = JwtVerifier::load(
///         JwtConfig::new(jwks)
///             .issuer("https://login.example.com/")
///             .audience("jobs-api"),
///     )
///     .await?;
///     // JWTs with scopes; no static token; 100 requests a second.
///     let access = ApiAccess::new(None, Some(100)).with_jwt(verifier);
///     Ok(ApiState::new(Arc::new(store), access, DEFAULT_BODY_READ_TIMEOUT))
/// }
/// ```
#[derive(Clone)]
pub struct JwtVerifier {
    jwks: Arc<Jwks>,
    issuer: Option<String>,
    audience: Option<String>,
    leeway: Duration,
    verified: Arc<quick_cache::sync::Cache<Box<str>, Arc<Verified>>>,
}

impl std::fmt::Debug for JwtVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwtVerifier")
            .field("jwks", &self.jwks)
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .field("leeway", &self.leeway)
            .field("verified_tokens", &self.verified.len())
            .finish()
    }
}

impl JwtVerifier {
    /// A verifier for `config`, with the JWKS read once. A JWKS file that
    /// cannot be read, or a document that is not a JWKS, is an error; a
    /// URL that does not answer yet is not (it is logged, and read again
    /// when the first token arrives), so the server can start before its
    /// identity provider.
    pub async fn load(config: JwtConfig) -> Result<Self, JwksError> {
        if let JwksSource::Url(url) = &config.jwks {
            check_jwks_url(url)?;
        }
        let jwks = Jwks::new(
            config.jwks.clone(),
            JwksPolicy {
                fetch_timeout: config.fetch_timeout,
                min_refetch_interval: config.min_refetch_interval,
                max_age: config.max_key_age,
            },
        )?;
        match jwks.reload().await {
            Ok(count) => tracing::info!(keys = count, "JWKS read"),
            Err(err @ JwksError::Fetch(_)) => {
                tracing::warn!(%err, "JWKS not read yet; tokens are refused until it is");
            }
            Err(err) => return Err(err),
        }
        Ok(Self {
            jwks: Arc::new(jwks),
            issuer: config.issuer,
            audience: config.audience,
            leeway: config.leeway,
            verified: Arc::new(quick_cache::sync::Cache::new(VERIFIED_TOKENS)),
        })
    }

    /// How many times the JWKS was read so far.
    pub fn jwks_readings(&self) -> u64 {
        self.jwks.readings()
    }

    /// The claims of `token` if it verifies.
    pub async fn verify(&self, token: &str) -> Result<TokenClaims, TokenError> {
        let arrived = Instant::now();
        if token.len() > MAX_TOKEN_BYTES {
            return Err(TokenError::Malformed);
        }
        if self.jwks.claim_refresh() {
            let jwks = Arc::clone(&self.jwks);
            tokio::spawn(async move { jwks.refresh().await });
        }
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64());
        let leeway = self.leeway.as_secs_f64();
        if let Some(verified) = self.verified.get(token)
            && verified.holds(now, leeway, self.jwks.current().generation)
        {
            return Ok(verified.claims.clone());
        }
        let header = jsonwebtoken::decode_header(token).map_err(|_| TokenError::Malformed)?;
        let algorithm = header.alg;
        if !matches!(
            algorithm,
            Algorithm::RS256 | Algorithm::ES256 | Algorithm::EdDSA
        ) {
            return Err(TokenError::Algorithm);
        }
        let kid = header.kid.as_deref();
        let mut keys = self.jwks.current();
        if keys.candidates(kid, algorithm).next().is_none() {
            keys = self.jwks.refetch_since(arrived).await;
        }
        let validation = self.validation(algorithm);
        let mut outcome = Err(TokenError::UnknownKey);
        for key in keys.candidates(kid, algorithm) {
            match jsonwebtoken::decode::<Payload>(token, &key.key, &validation) {
                Ok(data) => {
                    outcome = Ok(data.claims);
                    break;
                }
                // Without a `kid`, another key may verify it.
                Err(err) => outcome = Err(TokenError::from(err)),
            }
            if !matches!(outcome, Err(TokenError::Signature)) {
                break;
            }
        }
        let payload = outcome?;
        if payload.sub.is_empty() {
            return Err(TokenError::Claims);
        }
        let mut scopes = payload.scope.map(Scopes::into_vec).unwrap_or_default();
        scopes.extend(payload.scp.map(Scopes::into_vec).unwrap_or_default());
        let claims = TokenClaims {
            subject: payload.sub,
            scopes,
        };
        self.verified.insert(
            token.into(),
            Arc::new(Verified {
                claims: claims.clone(),
                exp: payload.exp,
                nbf: payload.nbf,
                generation: keys.generation,
            }),
        );
        Ok(claims)
    }

    fn validation(&self, algorithm: Algorithm) -> Validation {
        let mut validation = Validation::new(algorithm);
        validation.leeway = self.leeway.as_secs();
        validation.validate_nbf = true;
        let mut required = vec!["exp", "sub"];
        if let Some(issuer) = &self.issuer {
            validation.set_issuer(&[issuer]);
            required.push("iss");
        }
        match &self.audience {
            Some(audience) => {
                validation.set_audience(&[audience]);
                required.push("aud");
            }
            None => validation.validate_aud = false,
        }
        validation.set_required_spec_claims(&required);
        validation
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jwks_urls_are_checked() {
        for url in [
            "https://login.example.com/.well-known/jwks.json",
            "http://127.0.0.1:8080/jwks.json",
            "http://localhost/jwks",
            "http://[::1]:9000/k",
            "http://login.example.com/jwks",
        ] {
            assert!(check_jwks_url(url).is_ok(), "{url}");
        }
        for url in [
            "login.example.com/jwks",
            "ftp://example.com/jwks",
            "https://",
            "file:///etc/jwks",
        ] {
            assert!(
                matches!(check_jwks_url(url), Err(JwksError::Url(_))),
                "{url}"
            );
        }
    }
}
