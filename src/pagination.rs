//! One pagination shape for every list: `?page=1&per_page=20` in, `{items, page, per_page, total}` out.
//!
//! [`PageQuery`] is an extractor that checks its bounds: a page past [`MAX_PAGE`] or a `per_page` outside 1 to
//! [`MAX_PER_PAGE`] is refused with 422 `out_of_range`, never clamped silently, and every offset computed from it
//! fits the database's integers.

use actix_web::dev::Payload;
use actix_web::http::StatusCode;
use actix_web::{FromRequest, HttpRequest};
use futures_util::future::{Ready, ready};
use sea_orm::{ConnectionTrait, DbErr, PaginatorTrait, SelectorTrait};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::error::ApiError;

pub const MAX_PAGE: u64 = 1_000_000;
pub const MAX_PER_PAGE: u64 = 100;
const DEFAULT_PER_PAGE: u64 = 20;

#[derive(Debug, Clone, Copy, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// 1-based; default 1.
    #[param(minimum = 1, maximum = 1_000_000)]
    pub page: Option<u64>,
    /// Default 20.
    #[param(minimum = 1, maximum = 100)]
    pub per_page: Option<u64>,
}

impl PageQuery {
    pub fn page(&self) -> u64 {
        self.page.unwrap_or(1)
    }

    pub fn per_page(&self) -> u64 {
        self.per_page.unwrap_or(DEFAULT_PER_PAGE)
    }

    /// The 0-based page index sea-orm's paginator takes.
    pub fn index(&self) -> u64 {
        self.page().saturating_sub(1)
    }

    fn check(self) -> Result<Self, ApiError> {
        let out_of_range = |what: String| ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "out_of_range", what);
        if !(1..=MAX_PAGE).contains(&self.page()) {
            return Err(out_of_range(format!("page must be 1 to {MAX_PAGE}")));
        }
        if !(1..=MAX_PER_PAGE).contains(&self.per_page()) {
            return Err(out_of_range(format!("per_page must be 1 to {MAX_PER_PAGE}")));
        }
        Ok(self)
    }
}

impl FromRequest for PageQuery {
    type Error = ApiError;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let parsed = actix_web::web::Query::<PageQuery>::from_query(req.query_string())
            .map_err(|err| ApiError::bad_request("invalid_query", err.to_string()))
            .and_then(|query| query.into_inner().check());
        ready(parsed)
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub page: u64,
    pub per_page: u64,
    pub total: u64,
}

impl<T> Page<T> {
    /// The page `query` asks for of `select`'s rows, each turned into a view by `view`, with the total count.
    pub async fn fetch<'db, C, P, S>(
        select: P,
        db: &'db C,
        query: &PageQuery,
        view: impl FnMut(S::Item) -> T,
    ) -> Result<Self, DbErr>
    where
        C: ConnectionTrait,
        P: PaginatorTrait<'db, C, Selector = S>,
        S: SelectorTrait + 'db,
    {
        let paginator = select.paginate(db, query.per_page());
        let total = paginator.num_items().await?;
        let items = paginator.fetch_page(query.index()).await?.into_iter().map(view).collect();
        Ok(Self { items, page: query.page(), per_page: query.per_page(), total })
    }

    /// A page of already-fetched items (for lists assembled from more than one query).
    pub fn of(items: Vec<T>, query: &PageQuery, total: u64) -> Self {
        Self { items, page: query.page(), per_page: query.per_page(), total }
    }
}

#[cfg(test)]
mod tests {
    use actix_web::test::TestRequest;

    use super::*;

    async fn extract(query: &str) -> Result<PageQuery, ApiError> {
        let req = TestRequest::default().uri(&format!("/x?{query}")).to_http_request();
        PageQuery::from_request(&req, &mut Payload::None).await
    }

    #[tokio::test]
    async fn pages_are_bounded_and_refused_outside_not_clamped() {
        let fine = extract("page=3&per_page=100").await.unwrap();
        assert_eq!((fine.page(), fine.per_page(), fine.index()), (3, 100, 2));
        let default = extract("").await.unwrap();
        assert_eq!((default.page(), default.per_page()), (1, 20));
        for bad in ["page=0", "per_page=0", "per_page=101", "page=9223372036854775806", "page=1000001"] {
            let err = extract(bad).await.unwrap_err();
            assert_eq!((err.status.as_u16(), err.code), (422, "out_of_range"), "{bad}");
        }
        for malformed in ["page=abc", "page=-1", "per_page=1.5", "page=99999999999999999999999"] {
            let err = extract(malformed).await.unwrap_err();
            assert_eq!((err.status.as_u16(), err.code), (400, "invalid_query"), "{malformed}");
        }
    }
}
