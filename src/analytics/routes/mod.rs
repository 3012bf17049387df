//! The analytics routes: thin handlers over [`super::service::AnalyticsService`].

pub mod alerts;
pub mod dashboards;
pub mod events;
pub mod reports;

use actix_web::web;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/events").post(events::record))
        .service(web::resource("/analytics/overview").get(dashboards::overview))
        .service(web::resource("/analytics/students").get(dashboards::students))
        .service(web::resource("/analytics/students/{id}").get(dashboards::student))
        .service(web::resource("/analytics/personas/{id}").get(dashboards::persona))
        .service(web::resource("/analytics/stuck").get(dashboards::stuck))
        .service(web::resource("/analytics/gaps").get(dashboards::gaps))
        .service(web::resource("/analytics/reports/weekly").get(reports::weekly))
        .service(web::resource("/analytics/settings").get(alerts::settings).put(alerts::update_settings))
        .service(web::resource("/alerts").get(alerts::list))
        .service(web::resource("/alerts/summary").get(alerts::summary))
        .service(web::resource("/alerts/read-all").post(alerts::read_all))
        .service(web::resource("/alerts/{id}/read").post(alerts::read));
}
