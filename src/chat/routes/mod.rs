//! The chat routes: thin handlers over [`super::service::ChatService`].

pub mod messages;
pub mod sessions;
pub mod ws;

use actix_web::web;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/personas/{id}/sessions").post(sessions::create_session))
        .service(web::resource("/sessions").get(sessions::list_sessions))
        .service(web::resource("/sessions/{id}").get(sessions::get_session))
        .service(web::resource("/sessions/{id}/messages").get(sessions::list_messages).post(messages::send_message))
        .service(web::resource("/chat/ws").get(ws::connect));
}
