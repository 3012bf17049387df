//! Sessions and their history over HTTP.

use actix_web::{HttpResponse, web};
use uuid::Uuid;

use crate::auth::AuthUser;
use crate::chat::error::ChatError;
use crate::chat::service::ChatService;
use crate::chat::views::{MessageView, SessionView};
use crate::error::ErrorBody;
use crate::pagination::{Page, PageQuery};

/// Start a session
///
/// A new session of the caller with a persona; the persona's greeting, if any, is its first message.
#[utoipa::path(post, path = "/api/v1/personas/{id}/sessions", tag = "chat", operation_id = "create_session",
    security(("bearer" = []), ("api_key" = [])), params(("id" = Uuid, Path, description = "the persona")),
    extensions(("x-min-role" = json!("student"))),
    responses((status = 201, description = "the new session", body = SessionView),
        (status = 404, description = "`not_found`: no such persona", body = ErrorBody)))]
pub async fn create_session(
    chat: web::Data<ChatService>,
    caller: AuthUser,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ChatError> {
    let session = chat.create_session(&caller, *id).await?;
    Ok(HttpResponse::Created().json(SessionView::from(&session)))
}

/// List my sessions
///
/// The caller's own sessions, most recently active first.
#[utoipa::path(get, path = "/api/v1/sessions", tag = "chat", operation_id = "list_sessions",
    security(("bearer" = []), ("api_key" = [])), params(PageQuery), extensions(("x-min-role" = json!("student"))),
    responses((status = 200, description = "one page of the caller's sessions", body = Page<SessionView>)))]
pub async fn list_sessions(
    chat: web::Data<ChatService>,
    caller: AuthUser,
    page: PageQuery,
) -> Result<HttpResponse, ChatError> {
    Ok(HttpResponse::Ok().json(chat.list_sessions(&caller, &page).await?))
}

/// Read a session
///
/// Its messages, oldest first. Students read their own sessions; teachers and admins every session of their org.
#[utoipa::path(get, path = "/api/v1/sessions/{id}/messages", tag = "chat", operation_id = "list_messages",
    security(("bearer" = []), ("api_key" = [])), params(("id" = Uuid, Path), PageQuery),
    extensions(("x-min-role" = json!("student"))),
    responses((status = 200, description = "one page of messages, oldest first", body = Page<MessageView>),
        (status = 404, description = "`not_found`: not a session the caller may read", body = ErrorBody)))]
pub async fn list_messages(
    chat: web::Data<ChatService>,
    caller: AuthUser,
    id: web::Path<Uuid>,
    page: PageQuery,
) -> Result<HttpResponse, ChatError> {
    Ok(HttpResponse::Ok().json(chat.messages(&caller, *id, &page).await?))
}
