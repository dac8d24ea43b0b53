//! The keys JWTs are signed with: a JSON Web Key Set (RFC 7517) read from a
//! URL or a file, cached, and read again when a token names a key the cache
//! does not hold — at a bounded rate, so a flood of tokens naming made-up
//! keys costs the key server one request per interval, not one per token.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use jsonwebtoken::jwk::{
    AlgorithmParameters, EllipticCurve, Jwk, JwkSet, KeyAlgorithm, PublicKeyUse,
};
use jsonwebtoken::{Algorithm, DecodingKey};
use tokio::time::Instant;

/// The most a key set may weigh: a JWKS holds a handful of keys.
const MAX_JWKS_BYTES: usize = 1024 * 1024;

/// Where the keys come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JwksSource {
    /// An `http://` or `https://` URL answering the key set as JSON (an
    /// identity provider's `jwks_uri`).
    Url(String),
    /// A file holding the key set as JSON, read again as a URL would be
    /// fetched again (rotate keys by replacing the file).
    File(PathBuf),
}

/// Why the key set could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum JwksError {
    /// The JWKS URL is not an `http` or `https` URL with a host.
    #[error("not a JWKS URL: {0}")]
    Url(String),
    /// The URL did not answer, or not with 200, within the timeout.
    #[error("cannot fetch the JWKS: {0}")]
    Fetch(String),
    /// The file could not be read.
    #[error("cannot read the JWKS file {path}: {source}")]
    File {
        /// The file.
        path: PathBuf,
        /// What reading it said.
        source: std::io::Error,
    },
    /// The document is not a JWKS, or is larger than 1 MiB.
    #[error("the JWKS is not a JSON Web Key Set: {0}")]
    Invalid(String),
}

/// A key a token may be verified with: its `kid`, the one algorithm it
/// verifies (a key never verifies another algorithm, so an RSA public key
/// cannot be used as an HMAC secret) and the key itself.
pub(crate) struct Key {
    pub(crate) kid: Option<String>,
    pub(crate) algorithm: Algorithm,
    pub(crate) key: DecodingKey,
}

/// The keys of one reading of the JWKS.
#[derive(Default)]
pub(crate) struct KeySet {
    keys: Vec<Key>,
    /// Which reading: what was verified with another is verified again.
    pub(crate) generation: u64,
}

impl KeySet {
    /// The usable keys of `document`: RSA, P-256 and Ed25519 public keys
    /// meant for signatures. Symmetric keys, encryption keys and other
    /// algorithms are left out (a JWKS is public: a symmetric key in it
    /// would let anyone sign).
    pub(crate) fn parse(document: &[u8]) -> Result<Self, JwksError> {
        let set: JwkSet =
            serde_json::from_slice(document).map_err(|e| JwksError::Invalid(e.to_string()))?;
        let keys = set.keys.iter().filter_map(usable_key).collect();
        Ok(Self {
            keys,
            generation: 0,
        })
    }

    /// The keys that may have signed a token with `kid` (if it names one)
    /// and `algorithm`.
    pub(crate) fn candidates<'a>(
        &'a self,
        kid: Option<&'a str>,
        algorithm: Algorithm,
    ) -> impl Iterator<Item = &'a Key> + 'a {
        self.keys.iter().filter(move |key| {
            key.algorithm == algorithm && (kid.is_none() || key.kid.as_deref() == kid)
        })
    }

    /// How many usable keys there are.
    pub(crate) fn len(&self) -> usize {
        self.keys.len()
    }
}

/// The key `jwk` describes, if it is one a token here may be signed with.
fn usable_key(jwk: &Jwk) -> Option<Key> {
    if matches!(jwk.common.public_key_use, Some(PublicKeyUse::Encryption)) {
        return None;
    }
    let (algorithm, key) = match &jwk.algorithm {
        AlgorithmParameters::RSA(_) => (Algorithm::RS256, DecodingKey::from_jwk(jwk).ok()?),
        AlgorithmParameters::EllipticCurve(ec) if ec.curve == EllipticCurve::P256 => {
            (Algorithm::ES256, DecodingKey::from_jwk(jwk).ok()?)
        }
        AlgorithmParameters::OctetKeyPair(okp) if okp.curve == EllipticCurve::Ed25519 => {
            (Algorithm::EdDSA, DecodingKey::from_jwk(jwk).ok()?)
        }
        _ => return None,
    };
    // A key that names its algorithm verifies that one only.
    let named = match jwk.common.key_algorithm {
        None => None,
        Some(KeyAlgorithm::RS256) => Some(Algorithm::RS256),
        Some(KeyAlgorithm::ES256) => Some(Algorithm::ES256),
        Some(KeyAlgorithm::EdDSA) => Some(Algorithm::EdDSA),
        Some(_) => return None,
    };
    if named.is_some_and(|named| named != algorithm) {
        return None;
    }
    Some(Key {
        kid: jwk.common.key_id.clone(),
        algorithm,
        key,
    })
}

/// How the key set is read and kept.
#[derive(Debug, Clone)]
pub(crate) struct JwksPolicy {
    pub(crate) fetch_timeout: Duration,
    pub(crate) min_refetch_interval: Duration,
    pub(crate) max_age: Duration,
}

/// The cached key set and the rules for reading it again.
pub(crate) struct Jwks {
    source: JwksSource,
    policy: JwksPolicy,
    client: reqwest::Client,
    keys: RwLock<Arc<KeySet>>,
    /// When the last reading started (`None`: never). Held while a reading
    /// runs, so readings never overlap.
    last_reading: tokio::sync::Mutex<Option<Instant>>,
    /// A reading because the keys are old is under way.
    refreshing: AtomicBool,
    readings: AtomicU64,
}

impl std::fmt::Debug for Jwks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Jwks")
            .field("source", &self.source)
            .field("keys", &self.current().len())
            .finish_non_exhaustive()
    }
}

impl Jwks {
    pub(crate) fn new(source: JwksSource, policy: JwksPolicy) -> Result<Self, JwksError> {
        let client = reqwest::Client::builder()
            .timeout(policy.fetch_timeout)
            .redirect(reqwest::redirect::Policy::limited(3))
            .build()
            .map_err(|e| JwksError::Fetch(e.to_string()))?;
        Ok(Self {
            source,
            policy,
            client,
            keys: RwLock::new(Arc::new(KeySet::default())),
            last_reading: tokio::sync::Mutex::new(None),
            refreshing: AtomicBool::new(false),
            readings: AtomicU64::new(0),
        })
    }

    /// The keys as last read.
    pub(crate) fn current(&self) -> Arc<KeySet> {
        self.keys.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// How many times the key set was read (fetched or loaded).
    pub(crate) fn readings(&self) -> u64 {
        self.readings.load(Ordering::Relaxed)
    }

    /// Reads the key set now, keeping the old keys when that fails.
    pub(crate) async fn reload(&self) -> Result<usize, JwksError> {
        let mut last = self.last_reading.lock().await;
        *last = Some(Instant::now());
        self.read_into_cache().await
    }

    /// The keys after a reading that started after `arrived` (a token with
    /// a key the cache lacks came then): one reading serves every token
    /// waiting for it, and readings start at least the minimum interval
    /// apart, so a token may wait for up to that interval.
    pub(crate) async fn refetch_since(&self, arrived: Instant) -> Arc<KeySet> {
        let mut last = self.last_reading.lock().await;
        if last.is_some_and(|started| started >= arrived) {
            return self.current();
        }
        if let Some(started) = *last {
            tokio::time::sleep_until(started + self.policy.min_refetch_interval).await;
        }
        *last = Some(Instant::now());
        if let Err(err) = self.read_into_cache().await {
            tracing::warn!(%err, "JWKS not read again; the keys held stay in use");
        }
        self.current()
    }

    /// Whether the keys are older than their maximum age, and no reading
    /// for that reason runs yet (the caller is then to start one).
    pub(crate) fn claim_refresh(&self) -> bool {
        let Ok(last) = self.last_reading.try_lock() else {
            return false;
        };
        let stale = last.is_none_or(|started| started.elapsed() >= self.policy.max_age);
        stale && !self.refreshing.swap(true, Ordering::AcqRel)
    }

    /// Reads the key set because it is old (after [`Self::claim_refresh`]).
    pub(crate) async fn refresh(&self) {
        if let Err(err) = self.reload().await {
            tracing::warn!(%err, "JWKS not read again; the keys held stay in use");
        }
        self.refreshing.store(false, Ordering::Release);
    }

    async fn read_into_cache(&self) -> Result<usize, JwksError> {
        self.readings.fetch_add(1, Ordering::Relaxed);
        let document = match &self.source {
            JwksSource::Url(url) => self.fetch(url).await?,
            JwksSource::File(path) => {
                tokio::fs::read(path)
                    .await
                    .map_err(|source| JwksError::File {
                        path: path.clone(),
                        source,
                    })?
            }
        };
        if document.len() > MAX_JWKS_BYTES {
            return Err(JwksError::Invalid("larger than 1 MiB".to_owned()));
        }
        let mut keys = KeySet::parse(&document)?;
        let count = keys.len();
        // A set with keys is the truth (a key left out is revoked); one with
        // none that verify is a mistake or a lie, not a revocation of all.
        if count == 0 {
            return Err(JwksError::Invalid(
                "no RS256, ES256 or EdDSA signing key in it".to_owned(),
            ));
        }
        let mut held = self.keys.write().unwrap_or_else(|e| e.into_inner());
        keys.generation = held.generation + 1;
        *held = Arc::new(keys);
        drop(held);
        tracing::debug!(keys = count, "JWKS read");
        Ok(count)
    }

    async fn fetch(&self, url: &str) -> Result<Vec<u8>, JwksError> {
        let failed = |e: reqwest::Error| JwksError::Fetch(e.without_url().to_string());
        let read = async {
            let mut response = self
                .client
                .get(url)
                .header(reqwest::header::ACCEPT, "application/json")
                .send()
                .await
                .map_err(failed)?;
            if !response.status().is_success() {
                return Err(JwksError::Fetch(format!(
                    "the key server answered {}",
                    response.status()
                )));
            }
            let mut body = Vec::new();
            while let Some(chunk) = response.chunk().await.map_err(failed)? {
                if body.len() + chunk.len() > MAX_JWKS_BYTES {
                    return Err(JwksError::Invalid("larger than 1 MiB".to_owned()));
                }
                body.extend_from_slice(&chunk);
            }
            Ok(body)
        };
        tokio::time::timeout(self.policy.fetch_timeout, read)
            .await
            .map_err(|_| {
                JwksError::Fetch(format!(
                    "no answer within {} ms",
                    self.policy.fetch_timeout.as_millis()
                ))
            })?
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_public_signing_keys_of_the_three_algorithms_are_kept() {
        let document = serde_json::json!({"keys": [
            {"kty": "oct", "kid": "hmac", "k": "c2VjcmV0"},
            {"kty": "EC", "kid": "p256", "crv": "P-256",
             "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
             "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"},
            {"kty": "EC", "kid": "p256-enc", "use": "enc", "crv": "P-256",
             "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
             "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"},
            {"kty": "OKP", "kid": "ed", "crv": "Ed25519",
             "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"},
            {"kty": "OKP", "kid": "ed-named-rs", "alg": "RS256", "crv": "Ed25519",
             "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"},
        ]});
        let set = KeySet::parse(document.to_string().as_bytes()).unwrap();
        let kids: Vec<_> = set.keys.iter().filter_map(|k| k.kid.as_deref()).collect();
        assert_eq!(kids, ["p256", "ed"]);
        assert_eq!(set.candidates(Some("p256"), Algorithm::ES256).count(), 1);
        assert_eq!(
            set.candidates(Some("p256"), Algorithm::RS256).count(),
            0,
            "a key verifies its own algorithm only"
        );
        assert_eq!(set.candidates(None, Algorithm::EdDSA).count(), 1);
        assert!(KeySet::parse(b"{\"nokeys\": 1}").is_err());
        assert!(KeySet::parse(b"not json").is_err());
    }
}
