//! GitLab pagination: the next page number from `x-next-page` (offset pagination), and the cap
//! on pages read for one listing. Sends nothing itself.

use reqwest::header::HeaderMap;

/// The most pages read for one listing (5,000 notes per MR are 50 pages of 100).
pub(crate) const MAX_PAGES: usize = 200;

/// The next page number from `x-next-page` (empty on the last page).
pub(crate) fn next_page(headers: &HeaderMap) -> Option<u64> {
    headers
        .get("x-next-page")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::forge::http::headers;

    #[test]
    fn next_pages_come_from_x_next_page() {
        assert_eq!(next_page(&headers(&[("x-next-page", "3")])), Some(3));
        assert_eq!(next_page(&headers(&[("x-next-page", "")])), None);
        assert_eq!(next_page(&HeaderMap::new()), None);
    }
}
