//! GitHub App credentials: signs the App JWT (RS256) and caches installation tokens per
//! installation until shortly before they expire. Holds no HTTP client: minting is done by the
//! caller. Tokens and the key never appear in `Debug` output or logs.

use std::collections::HashMap;
use std::fmt;
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde::Serialize;

use crate::config::Secret;

/// How long before `expires_at` a cached installation token stops being used.
pub(crate) const TOKEN_REFRESH_MARGIN: Duration = Duration::from_secs(60);
/// GitHub's clock-drift advice: backdate `iat` by a minute.
const JWT_BACKDATE: Duration = Duration::from_secs(60);
/// Below GitHub's hard maximum of ten minutes.
const JWT_LIFETIME: Duration = Duration::from_secs(9 * 60);
/// Used when GitHub's `expires_at` cannot be read: tokens live one hour.
const DOCUMENTED_TOKEN_LIFETIME: Duration = Duration::from_secs(60 * 60);

#[derive(Serialize)]
struct Claims {
    iat: u64,
    exp: u64,
    /// The numeric App id, as octocrab sends it (GitHub also accepts the client id string).
    iss: u64,
}

/// Signs App JWTs.
pub(crate) struct JwtSigner {
    app_id: u64,
    key: EncodingKey,
}

impl fmt::Debug for JwtSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JwtSigner")
            .field("app_id", &self.app_id)
            .field("key", &"[redacted]")
            .finish()
    }
}

impl JwtSigner {
    /// Reads an RSA private key in PEM (PKCS#1 as GitHub hands it out, or PKCS#8).
    pub(crate) fn new(
        app_id: u64,
        private_key_pem: &[u8],
    ) -> Result<Self, jsonwebtoken::errors::Error> {
        Ok(JwtSigner {
            app_id,
            key: EncodingKey::from_rsa_pem(private_key_pem)?,
        })
    }

    /// A JWT valid from one minute before `now` until nine minutes after it.
    pub(crate) fn sign(&self, now: SystemTime) -> Result<Secret, jsonwebtoken::errors::Error> {
        let now = epoch_seconds(now);
        let claims = Claims {
            iat: now.saturating_sub(JWT_BACKDATE.as_secs()),
            exp: now + JWT_LIFETIME.as_secs(),
            iss: self.app_id,
        };
        jsonwebtoken::encode(&Header::new(Algorithm::RS256), &claims, &self.key).map(Secret::new)
    }
}

struct CachedToken {
    token: Secret,
    expires_at: SystemTime,
}

/// Installation tokens by installation id.
#[derive(Default)]
pub(crate) struct TokenCache {
    tokens: Mutex<HashMap<u64, CachedToken>>,
}

impl fmt::Debug for TokenCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let count = self.tokens.lock().map(|t| t.len()).unwrap_or(0);
        f.debug_struct("TokenCache")
            .field("cached", &count)
            .finish()
    }
}

impl TokenCache {
    /// The cached token, unless it expires within [`TOKEN_REFRESH_MARGIN`] of `now`.
    pub(crate) fn get(&self, installation: u64, now: SystemTime) -> Option<Secret> {
        let tokens = self.tokens.lock().ok()?;
        let cached = tokens.get(&installation)?;
        (now + TOKEN_REFRESH_MARGIN < cached.expires_at).then(|| cached.token.clone())
    }

    pub(crate) fn put(&self, installation: u64, token: Secret, expires_at: SystemTime) {
        if let Ok(mut tokens) = self.tokens.lock() {
            tokens.insert(installation, CachedToken { token, expires_at });
        }
    }

    /// Forgets a token GitHub refused (revoked or expired early).
    pub(crate) fn invalidate(&self, installation: u64) {
        if let Ok(mut tokens) = self.tokens.lock() {
            tokens.remove(&installation);
        }
    }
}

/// When a freshly minted token expires: GitHub's `expires_at`, or one hour after `minted_at`
/// when that cannot be read.
pub(crate) fn token_expiry(expires_at: &str, minted_at: SystemTime) -> SystemTime {
    parse_timestamp(expires_at).unwrap_or_else(|| {
        tracing::warn!(
            expires_at,
            "unreadable installation token expiry, assuming one hour"
        );
        minted_at + DOCUMENTED_TOKEN_LIFETIME
    })
}

/// Parses GitHub's UTC timestamps, `2016-07-11T22:14:10Z` (fractional seconds allowed).
pub(crate) fn parse_timestamp(text: &str) -> Option<SystemTime> {
    let text = text.strip_suffix('Z')?;
    let (date, time) = text.split_once('T')?;
    let mut date_parts = date.splitn(3, '-').map(|p| p.parse::<u32>().ok());
    let (year, month, day) = (
        date_parts.next()??,
        date_parts.next()??,
        date_parts.next()??,
    );
    let time = time
        .split_once('.')
        .map_or(time, |(whole, _fraction)| whole);
    let mut time_parts = time.splitn(3, ':').map(|p| p.parse::<u32>().ok());
    let (hour, minute, second) = (
        time_parts.next()??,
        time_parts.next()??,
        time_parts.next()??,
    );
    if !(1..=12).contains(&month)
        || !(1..=31).contains(&day)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return None;
    }
    let days = days_from_civil(i64::from(year), month, day);
    let seconds = days * 86_400 + i64::from(hour * 3600 + minute * 60 + second);
    u64::try_from(seconds)
        .ok()
        .map(|s| UNIX_EPOCH + Duration::from_secs(s))
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month_index = i64::from((month + 9) % 12);
    let day_of_year = (153 * month_index + 2) / 5 + i64::from(day) - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

pub(crate) fn epoch_seconds(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &[u8] = include_bytes!("../../../tests/fixtures/keys/test-app.private-key.pem");
    const PUBLIC: &[u8] = include_bytes!("../../../tests/fixtures/keys/test-app.public-key.pem");

    #[derive(serde::Deserialize)]
    struct Decoded {
        iat: u64,
        exp: u64,
        iss: u64,
    }

    #[test]
    fn jwt_is_rs256_backdated_and_short_lived() {
        let signer = JwtSigner::new(4242, KEY).unwrap();
        let now = SystemTime::now();
        let jwt = signer.sign(now).unwrap();
        let key = jsonwebtoken::DecodingKey::from_rsa_pem(PUBLIC).unwrap();
        let decoded = jsonwebtoken::decode::<Decoded>(
            jwt.expose(),
            &key,
            &jsonwebtoken::Validation::new(Algorithm::RS256),
        )
        .unwrap();
        let now = epoch_seconds(now);
        assert_eq!(decoded.header.alg, Algorithm::RS256);
        assert_eq!(decoded.claims.iss, 4242);
        assert_eq!(decoded.claims.iat, now - 60);
        assert_eq!(decoded.claims.exp, now + 540);
        assert!(
            decoded.claims.exp - decoded.claims.iat <= 600,
            "GitHub rejects JWTs living over 10 minutes"
        );
    }

    #[test]
    fn jwt_does_not_verify_with_another_key() {
        let other = include_bytes!("../../../tests/fixtures/keys/other-app.private-key.pem");
        let jwt = JwtSigner::new(4242, other)
            .unwrap()
            .sign(SystemTime::now())
            .unwrap();
        let key = jsonwebtoken::DecodingKey::from_rsa_pem(PUBLIC).unwrap();
        assert!(
            jsonwebtoken::decode::<Decoded>(
                jwt.expose(),
                &key,
                &jsonwebtoken::Validation::new(Algorithm::RS256)
            )
            .is_err()
        );
    }

    #[test]
    fn a_broken_key_is_refused_at_construction() {
        assert!(
            JwtSigner::new(
                1,
                b"-----BEGIN RSA PRIVATE KEY-----\nnope\n-----END RSA PRIVATE KEY-----\n"
            )
            .is_err()
        );
    }

    #[test]
    fn secrets_and_signers_are_redacted_in_debug() {
        let secret = Secret::new("ghs_supersecret");
        assert!(!format!("{secret:?}").contains("supersecret"));
        let signer = JwtSigner::new(7, KEY).unwrap();
        let shown = format!("{signer:?}");
        assert!(shown.contains("redacted") && !shown.contains("BEGIN"));
    }

    #[test]
    fn cache_serves_until_the_refresh_margin() {
        let cache = TokenCache::default();
        let now = UNIX_EPOCH + Duration::from_secs(1_000_000);
        cache.put(1, Secret::new("t1"), now + Duration::from_secs(3600));
        assert_eq!(
            cache.get(1, now).map(|s| s.expose().to_owned()),
            Some("t1".to_owned())
        );
        assert!(cache.get(2, now).is_none(), "per installation");
        assert!(cache.get(1, now + Duration::from_secs(3600 - 61)).is_some());
        assert!(
            cache.get(1, now + Duration::from_secs(3600 - 60)).is_none(),
            "refreshed 60 s early"
        );
        cache.invalidate(1);
        assert!(cache.get(1, now).is_none());
    }

    #[test]
    fn timestamps_parse_like_github_writes_them() {
        let at = |s: &str| parse_timestamp(s).map(epoch_seconds);
        assert_eq!(at("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(at("2016-07-11T22:14:10Z"), Some(1_468_275_250));
        assert_eq!(at("2024-02-29T12:00:00.123Z"), Some(1_709_208_000));
        assert_eq!(
            at("2016-07-11T22:14:10+02:00"),
            None,
            "only UTC is written by GitHub"
        );
        assert_eq!(at("2016-13-11T22:14:10Z"), None);
        assert_eq!(at("yesterday"), None);
    }

    #[test]
    fn unreadable_expiry_falls_back_to_one_hour() {
        let minted = UNIX_EPOCH + Duration::from_secs(500);
        assert_eq!(
            token_expiry("garbage", minted),
            minted + Duration::from_secs(3600)
        );
        assert_eq!(
            epoch_seconds(token_expiry("1970-01-01T00:01:00Z", minted)),
            60
        );
    }
}
