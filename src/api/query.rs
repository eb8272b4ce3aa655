//! Common query parameters of list endpoints (spec §1.5): `page`, `limit`, `sort`, and the
//! pagination object that is present only when `page` or `limit` was given.

use super::envelope::{ApiError, Pagination};
use std::collections::HashMap;

pub type Query = HashMap<String, String>;

pub struct Paging {
    page: usize,
    limit: usize,
    explicit: bool,
    desc: bool,
}

fn positive(q: &Query, key: &str, default: usize, max: usize) -> Result<usize, ApiError> {
    match q.get(key) {
        None => Ok(default),
        Some(v) => match v.trim().parse::<usize>() {
            Ok(n) if (1..=max).contains(&n) => Ok(n),
            _ => Err(ApiError::field(
                key,
                format!("{key} must be an integer between 1 and {max}, got '{v}'"),
            )),
        },
    }
}

/// Paging with the spec's default order: newest (highest ID) first.
pub fn paging(q: &Query) -> Result<Paging, ApiError> {
    paging_with_default(q, true)
}

/// Paging for lists without IDs (partitions), which read best in their natural order.
pub fn paging_with_default(q: &Query, desc_default: bool) -> Result<Paging, ApiError> {
    paging_with(q, desc_default, 20)
}

/// Paging with its own default order and page size.
pub fn paging_with(q: &Query, desc_default: bool, limit: usize) -> Result<Paging, ApiError> {
    let desc = match q.get("sort").map(|s| s.to_ascii_lowercase()) {
        None => desc_default,
        Some(s) if s == "desc" => true,
        Some(s) if s == "asc" => false,
        Some(s) => {
            return Err(ApiError::field(
                "sort",
                format!("sort must be asc or desc, got '{s}'"),
            ))
        }
    };
    Ok(Paging {
        page: positive(q, "page", 1, 1_000_000)?,
        limit: positive(q, "limit", limit, 1000)?,
        explicit: q.contains_key("page") || q.contains_key("limit"),
        desc,
    })
}

impl Paging {
    /// Items before the requested page.
    pub fn offset(&self) -> usize {
        (self.page - 1) * self.limit
    }
    pub fn limit(&self) -> usize {
        self.limit
    }
    pub fn desc(&self) -> bool {
        self.desc
    }
    /// The pagination object of a list of `total` items (only when `page` or `limit` was
    /// given).
    pub fn meta(&self, total: usize) -> Option<Pagination> {
        let pages = total.div_ceil(self.limit);
        self.explicit.then_some(Pagination {
            current_page: self.page as u64,
            total_pages: pages as u64,
            total_items: total as u64,
            items_per_page: self.limit as u64,
            has_next_page: self.page < pages,
            has_previous_page: self.page > 1,
        })
    }
}

/// Orders `items` (given ascending by ID) and cuts the requested page.
pub fn paginate<T>(mut items: Vec<T>, p: &Paging) -> (Vec<T>, Option<Pagination>) {
    if p.desc {
        items.reverse();
    }
    if !p.explicit {
        return (items, None);
    }
    let meta = p.meta(items.len());
    let page: Vec<T> = items.into_iter().skip(p.offset()).take(p.limit).collect();
    (page, meta)
}

/// A list answer: `items` (given ascending) ordered and cut to the requested page.
pub fn page_answer<T: serde::Serialize>(
    items: Vec<T>,
    p: &Paging,
    message: &str,
) -> super::envelope::ApiResult {
    let (page, pagination) = paginate(items, p);
    Ok(super::envelope::success(
        actix_web::http::StatusCode::OK,
        message,
        Some(page),
        pagination,
    ))
}

/// `true`/`false` flags (default false).
pub fn flag(q: &Query, key: &str) -> Result<bool, ApiError> {
    match q.get(key).map(|s| s.to_ascii_lowercase()) {
        None => Ok(false),
        Some(s) if s == "true" || s == "1" => Ok(true),
        Some(s) if s == "false" || s == "0" => Ok(false),
        Some(s) => Err(ApiError::field(
            key,
            format!("{key} must be true or false, got '{s}'"),
        )),
    }
}

/// Digits-only path identifiers (spec §1.4); anything else is a 400.
pub fn numeric_id(raw: &str, what: &str) -> Result<i64, ApiError> {
    raw.parse::<i64>()
        .ok()
        .filter(|n| *n > 0 && raw.bytes().all(|b| b.is_ascii_digit()))
        .ok_or_else(|| {
            ApiError::bad_request(format!(
                "URL parameter validation failed: {what} must be a numeric ID, got '{raw}'"
            ))
        })
}

/// A `center` filter (comma list of IDs and names) matches this appliance?
pub fn center_filter_matches(q: &Query, id: i64, name: &str) -> bool {
    match q.get("center") {
        None => true,
        Some(list) => list
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .any(|c| crate::domain::job::Ref::parse_ident(c).matches(id, name)),
    }
}
