//! For scripts/bench.sh: writes a JWKS (the public halves of the test keys
//! in tests/fixtures/jwt) to the path given and prints a token signed with
//! the RS256 key, valid for a day, scopes `jobs:read jobs:manage`.
//!
//!     jwt-token <jwks path> [rs256|es256|eddsa]

use std::time::{SystemTime, UNIX_EPOCH};

use jsonwebtoken::jwk::{Jwk, JwkSet};
use jsonwebtoken::{Algorithm, EncodingKey, Header};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let path = args
        .next()
        .ok_or("usage: jwt-token <jwks path> [rs256|es256|eddsa]")?;
    let which = args.next().unwrap_or_else(|| "rs256".to_owned());
    let fixtures = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/fixtures/jwt");
    let (algorithm, file) = match which.as_str() {
        "rs256" => (Algorithm::RS256, "rs256-1.pem"),
        "es256" => (Algorithm::ES256, "es256-1.pem"),
        "eddsa" => (Algorithm::EdDSA, "ed25519-1.pem"),
        other => return Err(format!("unknown algorithm {other}").into()),
    };
    let pem = std::fs::read(format!("{fixtures}/{file}"))?;
    let key = match algorithm {
        Algorithm::RS256 => EncodingKey::from_rsa_pem(&pem)?,
        Algorithm::ES256 => EncodingKey::from_ec_pem(&pem)?,
        _ => EncodingKey::from_ed_pem(&pem)?,
    };
    let mut jwk = Jwk::from_encoding_key(&key, algorithm)?;
    jwk.common.key_id = Some("bench".to_owned());
    std::fs::write(&path, serde_json::to_vec(&JwkSet { keys: vec![jwk] })?)?;
    let now = SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs();
    let mut header = Header::new(algorithm);
    header.kid = Some("bench".to_owned());
    let claims = serde_json::json!({
        "sub": "bench", "scope": "jobs:read jobs:manage", "iat": now, "exp": now + 86_400,
    });
    println!("{}", jsonwebtoken::encode(&header, &claims, &key)?);
    Ok(())
}
