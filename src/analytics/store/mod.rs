//! The analytics tables: [`writes`] (the batched writer's), [`reads`] (the dashboards'), [`oversight`] (settings,
//! flags, notifications, reports).

pub mod oversight;
pub mod reads;
pub mod writes;
