//! One pagination shape for every list: `?page=1&per_page=20` in, `{items, page, per_page, total}` out.

use sea_orm::{ConnectionTrait, DbErr, PaginatorTrait, SelectorTrait};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

#[derive(Debug, Clone, Copy, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// 1-based; default 1.
    pub page: Option<u64>,
    /// 1 to 100; default 20.
    pub per_page: Option<u64>,
}

impl PageQuery {
    pub fn page(&self) -> u64 {
        self.page.unwrap_or(1).max(1)
    }

    pub fn per_page(&self) -> u64 {
        self.per_page.unwrap_or(20).clamp(1, 100)
    }

    /// The 0-based page index sea-orm's paginator takes.
    pub fn index(&self) -> u64 {
        self.page() - 1
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
