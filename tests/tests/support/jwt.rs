//! JWTs for tests: signers over the keys in `tests/fixtures/jwt`, the JWKS
//! of their public halves, and the forged tokens a server must refuse.
//! Shared with `server/tests` by `#[path]`.

#![allow(dead_code, unreachable_pub, clippy::unwrap_used, clippy::expect_used)]

use std::time::{SystemTime, UNIX_EPOCH};

use jsonwebtoken::jwk::{Jwk, JwkSet};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

/// The issuer and audience the tests' servers require.
pub const ISSUER: &str = "https://issuer.test";
/// See [`ISSUER`].
pub const AUDIENCE: &str = "jobs-api";

/// A key that signs tokens, and the public JWK that verifies them.
pub struct Signer {
    pub kid: String,
    pub algorithm: Algorithm,
    key: EncodingKey,
    pem: Vec<u8>,
}

fn fixture(name: &str) -> Vec<u8> {
    let path = format!(
        "{}/../tests/fixtures/jwt/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

impl Signer {
    /// RS256 (`n` 1 or 2: two different keys).
    pub fn rs256(n: u8, kid: &str) -> Self {
        let pem = fixture(&format!("rs256-{n}.pem"));
        let key = EncodingKey::from_rsa_pem(&pem).unwrap();
        Self::new(kid, Algorithm::RS256, key, pem)
    }

    /// ES256 (P-256).
    pub fn es256(n: u8, kid: &str) -> Self {
        let pem = fixture(&format!("es256-{n}.pem"));
        let key = EncodingKey::from_ec_pem(&pem).unwrap();
        Self::new(kid, Algorithm::ES256, key, pem)
    }

    /// EdDSA (Ed25519).
    pub fn ed25519(n: u8, kid: &str) -> Self {
        let pem = fixture(&format!("ed25519-{n}.pem"));
        let key = EncodingKey::from_ed_pem(&pem).unwrap();
        Self::new(kid, Algorithm::EdDSA, key, pem)
    }

    fn new(kid: &str, algorithm: Algorithm, key: EncodingKey, pem: Vec<u8>) -> Self {
        Self {
            kid: kid.to_owned(),
            algorithm,
            key,
            pem,
        }
    }

    /// The public JWK, with this signer's `kid`.
    pub fn jwk(&self) -> Jwk {
        let mut jwk = Jwk::from_encoding_key(&self.key, self.algorithm).unwrap();
        jwk.common.key_id = Some(self.kid.clone());
        jwk
    }

    /// `claims` signed, with this signer's `kid`.
    pub fn sign(&self, claims: &Value) -> String {
        let mut header = Header::new(self.algorithm);
        header.kid = Some(self.kid.clone());
        jsonwebtoken::encode(&header, claims, &self.key).unwrap()
    }

    /// `claims` signed, the header naming `kid` instead of this key's.
    pub fn sign_as(&self, kid: Option<&str>, claims: &Value) -> String {
        let mut header = Header::new(self.algorithm);
        header.kid = kid.map(str::to_owned);
        jsonwebtoken::encode(&header, claims, &self.key).unwrap()
    }

    /// The algorithm-confusion forgery: HS256 whose secret is this key's
    /// public JWK as published (what an attacker has), under this `kid`.
    pub fn hs256_with_public_key(&self, claims: &Value) -> String {
        let public = serde_json::to_vec(&self.jwk()).unwrap();
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some(self.kid.clone());
        jsonwebtoken::encode(&header, claims, &EncodingKey::from_secret(&public).unwrap()).unwrap()
    }
}

/// The JWKS document of `signers`' public keys.
pub fn jwks(signers: &[&Signer]) -> Value {
    serde_json::to_value(JwkSet {
        keys: signers.iter().map(|s| s.jwk()).collect(),
    })
    .unwrap()
}

/// Seconds since the epoch.
pub fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// Claims of a valid token for `sub` with `scope` (space-separated).
pub fn claims(sub: &str, scope: &str) -> Value {
    json!({
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": sub,
        "scope": scope,
        "iat": now(),
        "exp": now() + 600,
    })
}

/// `alg: none`: a header and payload, no signature.
pub fn unsigned(kid: &str, claims: &Value) -> String {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let header = json!({"alg": "none", "typ": "JWT", "kid": kid});
    format!(
        "{}.{}.",
        b64.encode(header.to_string()),
        b64.encode(claims.to_string())
    )
}

/// `token` with its signature replaced by `other`'s (same algorithm, right
/// length, wrong signature).
pub fn with_signature_of(token: &str, other: &str) -> String {
    let (message, _) = token.rsplit_once('.').unwrap();
    let (_, signature) = other.rsplit_once('.').unwrap();
    format!("{message}.{signature}")
}
