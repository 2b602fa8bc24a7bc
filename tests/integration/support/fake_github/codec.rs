//! Encodings the fake GitHub needs: App JWT verification, timestamps, percent-decoding,
//! pagination `Link` headers and GitHub-style tarballs.

use std::collections::BTreeMap;
use std::time::{SystemTime, UNIX_EPOCH};

use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;

#[derive(Deserialize)]
struct Claims {
    iat: u64,
    exp: u64,
    iss: serde_json::Value,
}

/// Checks an App JWT the way GitHub does: RS256, signed by the App's key, `iss` = the App id
/// (number or string), issued in the past, expiring in the future but within ten minutes.
pub fn verify_app_jwt(token: &str, public_key_pem: &str, app_id: u64) -> Result<(), String> {
    let key = DecodingKey::from_rsa_pem(public_key_pem.as_bytes()).map_err(|e| e.to_string())?;
    let mut validation = Validation::new(Algorithm::RS256);
    validation.leeway = 0;
    // `iss` is checked below: GitHub accepts it as a number, which jsonwebtoken does not read.
    validation.set_required_spec_claims(&["exp"]);
    let claims = jsonwebtoken::decode::<Claims>(token, &key, &validation)
        .map_err(|e| format!("invalid JWT: {e}"))?
        .claims;
    let now = now_secs();
    let issuer_ok =
        claims.iss.as_u64() == Some(app_id) || claims.iss.as_str() == Some(&app_id.to_string());
    if !issuer_ok {
        return Err(format!(
            "'Issuer' claim ('iss') must be the App id, got {}",
            claims.iss
        ));
    }
    if claims.iat > now {
        return Err(
            "'Issued at' claim ('iat') must be an Integer representing a time in the past."
                .to_owned(),
        );
    }
    if claims.exp > now + 600 {
        return Err("'Expiration time' claim ('exp') is too far in the future".to_owned());
    }
    Ok(())
}

pub fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// `2016-07-11T22:14:10Z`.
pub fn timestamp(time: SystemTime) -> String {
    let secs = time
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let (days, rest) = (secs / 86_400, secs % 86_400);
    // H. Hinnant's civil_from_days.
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    )
}

/// Decodes `%XX` escapes of a URL path.
pub fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2]))
        {
            out.push((h * 16 + l) as u8);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Query parameters, decoded.
pub fn query_params(query: Option<&str>) -> BTreeMap<String, String> {
    query
        .unwrap_or_default()
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect()
}

/// One page of `items` per GitHub's rules (`per_page` default 30, max 100; `page` from 1) and
/// the `Link` header with absolute URLs under `url` (the API URL and path, optionally with the
/// query parameters the links keep, such as a listing's filters).
pub fn paginate<T: Clone>(
    items: &[T],
    query: &BTreeMap<String, String>,
    url: &str,
) -> (Vec<T>, Option<String>) {
    let per_page = query
        .get("per_page")
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(30)
        .clamp(1, 100);
    let page = query
        .get("page")
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(1)
        .max(1);
    let last = items.len().div_ceil(per_page).max(1);
    let slice = items
        .iter()
        .skip((page - 1) * per_page)
        .take(per_page)
        .cloned()
        .collect();
    let separator = if url.contains('?') { '&' } else { '?' };
    let link_to = |p: usize, rel: &str| {
        format!("<{url}{separator}per_page={per_page}&page={p}>; rel=\"{rel}\"")
    };
    let mut links = Vec::new();
    if page > 1 {
        links.push(link_to(page - 1, "prev"));
        links.push(link_to(1, "first"));
    }
    if page < last {
        links.push(link_to(page + 1, "next"));
        links.push(link_to(last, "last"));
    }
    (slice, (!links.is_empty()).then(|| links.join(", ")))
}

/// A gzipped tarball with GitHub's top directory `{owner}-{repo}-{sha7}/`.
pub fn tarball(repo: &str, sha: &str, files: &BTreeMap<String, Vec<u8>>) -> Vec<u8> {
    let short: String = sha.chars().take(7).collect();
    crate::support::tar_gz::tar_gz(&format!("{}-{short}", repo.replace('/', "-")), files)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_rfc3339_utc() {
        assert_eq!(timestamp(UNIX_EPOCH), "1970-01-01T00:00:00Z");
        assert_eq!(
            timestamp(UNIX_EPOCH + std::time::Duration::from_secs(1_468_275_250)),
            "2016-07-11T22:14:10Z"
        );
        assert_eq!(
            timestamp(UNIX_EPOCH + std::time::Duration::from_secs(1_709_208_000)),
            "2024-02-29T12:00:00Z"
        );
    }

    #[test]
    fn percent_escapes_decode() {
        assert_eq!(percent_decode("a%20dir/x%231.ts"), "a dir/x#1.ts");
        assert_eq!(percent_decode("%C3%A9"), "é");
        assert_eq!(percent_decode("100%"), "100%");
    }

    #[test]
    fn pages_link_forward_and_back() {
        let items: Vec<u32> = (0..75).collect();
        let query = query_params(Some("per_page=30&page=2"));
        let (page, link) = paginate(&items, &query, "http://h/x");
        assert_eq!(page.first(), Some(&30));
        assert_eq!(page.len(), 30);
        let link = link.unwrap();
        assert!(
            link.contains("<http://h/x?per_page=30&page=3>; rel=\"next\""),
            "{link}"
        );
        assert!(link.contains("rel=\"prev\""));
        let (last, link) = paginate(
            &items,
            &query_params(Some("per_page=30&page=3")),
            "http://h/x",
        );
        assert_eq!(last.len(), 15);
        assert!(!link.unwrap().contains("next"));
        let (all, link) = paginate(&items, &query_params(None), "http://h/x");
        assert_eq!(all.len(), 30, "default page size");
        assert!(link.is_some());
        let (_, link) = paginate(&items, &query, "http://h/x?state=open&base=main");
        assert!(
            link.unwrap()
                .contains("<http://h/x?state=open&base=main&per_page=30&page=3>; rel=\"next\""),
        );
    }
}
