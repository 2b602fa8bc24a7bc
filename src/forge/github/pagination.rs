//! GitHub pagination: finds the `rel="next"` page in a `Link` header and reduces it to path and
//! query, so the next request goes to our base URL with our token (octocrab would send an
//! absolute next URL off api.github.com unauthenticated). Sends nothing itself.

use axum::http::{HeaderMap, Uri};

/// The most pages read for one listing (3,000 PR files are 30 pages of 100).
pub(crate) const MAX_PAGES: usize = 200;

/// The path and query of the next page, if the `Link` header names one.
pub(crate) fn next_page(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all("link")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .find_map(next_in_link)
}

fn next_in_link(link: &str) -> Option<String> {
    let mut rest = link;
    while let Some(start) = rest.find('<') {
        let after = &rest[start + 1..];
        let end = after.find('>')?;
        let target = &after[..end];
        let params_end = after[end..].find('<').map_or(after.len(), |i| end + i);
        // The parameters run to the next link; the comma separating links is not part of them.
        let params = after[end + 1..params_end].trim().trim_end_matches(',');
        if params.split(';').any(is_rel_next) {
            return path_and_query(target);
        }
        rest = &after[params_end..];
    }
    None
}

fn is_rel_next(param: &str) -> bool {
    let Some((name, value)) = param.trim().split_once('=') else {
        return false;
    };
    name.trim().eq_ignore_ascii_case("rel")
        && value
            .trim()
            .trim_matches('"')
            .split_whitespace()
            .any(|rel| rel.eq_ignore_ascii_case("next"))
}

fn path_and_query(target: &str) -> Option<String> {
    let uri: Uri = target.trim().parse().ok()?;
    let path = uri.path_and_query()?.as_str();
    path.starts_with('/').then(|| path.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn link(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert("link", HeaderValue::from_str(value).unwrap());
        headers
    }

    #[test]
    fn next_is_reduced_to_path_and_query() {
        let headers = link(
            r#"<https://api.github.com/repositories/1/issues/1/comments?per_page=100&page=2>; rel="next", <https://api.github.com/repositories/1/issues/1/comments?per_page=100&page=5>; rel="last""#,
        );
        assert_eq!(
            next_page(&headers).as_deref(),
            Some("/repositories/1/issues/1/comments?per_page=100&page=2")
        );
    }

    #[test]
    fn enterprise_base_paths_are_kept() {
        let headers = link(
            r#"<https://ghe.example.com/api/v3/repos/o/r/pulls/1/files?page=3>; rel="prev", <https://ghe.example.com/api/v3/repos/o/r/pulls/1/files?page=4>; rel="next""#,
        );
        assert_eq!(
            next_page(&headers).as_deref(),
            Some("/api/v3/repos/o/r/pulls/1/files?page=4")
        );
    }

    #[test]
    fn the_last_page_has_no_next() {
        assert_eq!(
            next_page(&link(
                r#"<https://api.github.com/x?page=1>; rel="first", <https://api.github.com/x?page=4>; rel="prev""#
            )),
            None
        );
        assert_eq!(next_page(&HeaderMap::new()), None);
        assert_eq!(next_page(&link("garbage")), None);
    }

    #[test]
    fn relative_targets_and_unquoted_rels_are_understood() {
        assert_eq!(
            next_page(&link("</x?page=2>; rel=next")).as_deref(),
            Some("/x?page=2")
        );
        assert_eq!(
            next_page(&link(r#"<https://h/x?page=2>; rel="nofollow next""#)).as_deref(),
            Some("/x?page=2")
        );
    }
}
