//! Sessions and their history over HTTP.

use actix_web::{HttpResponse, web};
use uuid::Uuid;

use crate::auth::AuthUser;
use crate::chat::error::ChatError;
use crate::chat::service::ChatService;
use crate::chat::views::{MessageView, SessionFilter, SessionSummary, SessionView};
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

/// List sessions
///
/// The caller's own sessions, most recently active first; with `scope=org`, teachers and admins list every
/// session of their organisation. Either may be narrowed to one student, one persona and a span of activity.
#[utoipa::path(get, path = "/api/v1/sessions", tag = "chat", operation_id = "list_sessions",
    security(("bearer" = []), ("api_key" = [])), params(PageQuery, SessionFilter),
    extensions(("x-min-role" = json!("student"))),
    responses((status = 200, description = "one page of sessions", body = Page<SessionSummary>),
        (status = 403, description = "`forbidden`: a student asked for `scope=org`", body = ErrorBody)))]
pub async fn list_sessions(
    chat: web::Data<ChatService>,
    caller: AuthUser,
    page: PageQuery,
    filter: web::Query<SessionFilter>,
) -> Result<HttpResponse, ChatError> {
    Ok(HttpResponse::Ok().json(chat.list_sessions(&caller, &filter, &page).await?))
}

/// Get a session
///
/// Who it is between, its title and size. Students read their own sessions; teachers and admins every session
/// of their org.
#[utoipa::path(get, path = "/api/v1/sessions/{id}", tag = "chat", operation_id = "get_session",
    security(("bearer" = []), ("api_key" = [])), params(("id" = Uuid, Path)),
    extensions(("x-min-role" = json!("student"))),
    responses((status = 200, description = "the session", body = SessionSummary),
        (status = 404, description = "`not_found`: not a session the caller may read", body = ErrorBody)))]
pub async fn get_session(
    chat: web::Data<ChatService>,
    caller: AuthUser,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ChatError> {
    Ok(HttpResponse::Ok().json(chat.session(&caller, *id).await?))
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
