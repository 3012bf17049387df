//! The analytics tables: [`writes`] (the batched writer's), [`reads`] (the dashboards'), [`org_totals`] (the
//! whole-org rollups both use), [`oversight`] (settings, flags, notifications, reports).

pub mod org_totals;
pub mod oversight;
pub mod reads;
pub mod writes;
