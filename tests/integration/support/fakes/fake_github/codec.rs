//! Encodings the fake GitHub needs: App JWT verification, timestamps and query parameters as
//! GitHub writes and reads them, pagination `Link` headers and GitHub-style tarballs.

use std::collections::BTreeMap;
use std::time::SystemTime;

use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;

use super::fake_http::{self, now_secs};

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

/// `2016-07-11T22:14:10Z`.
pub fn timestamp(time: SystemTime) -> String {
    fake_http::timestamp(time, "Z")
}

/// Query parameters, decoded (a `+` stays a `+`).
pub fn query_params(query: Option<&str>) -> BTreeMap<String, String> {
    fake_http::query_params(query, false)
}

/// One page of `items` per GitHub's rules (`per_page` default 30, max 100; `page` from 1) and
/// the `Link` header with absolute URLs under `url` (the API URL and path, optionally with the
/// query parameters the links keep, such as a listing's filters).
pub fn paginate<T: Clone>(
    items: &[T],
    query: &BTreeMap<String, String>,
    url: &str,
) -> (Vec<T>, Option<String>) {
    let fake_http::Page {
        items: slice,
        page,
        per_page,
        last,
    } = fake_http::page(items, query, 30);
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
    super::fake_http::tar_gz(&format!("{}-{short}", repo.replace('/', "-")), files)
}

#[cfg(test)]
mod tests {
    use super::*;

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
