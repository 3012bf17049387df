//! Sessions and messages over HTTP: JSON, or the turn's frames as Server-Sent Events.

use actix_web::http::header;
use actix_web::web::Bytes;
use actix_web::{HttpRequest, HttpResponse, web};
use futures_util::StreamExt;
use uuid::Uuid;

use super::error::ChatError;
use super::hub::Outbox;
use super::views::{MessageView, SendMessage, ServerFrame, SessionView, TurnView};
use super::{service, store, turn};
use crate::app::AppState;
use crate::auth::AuthUser;
use crate::pagination::{Page, PageQuery};

#[utoipa::path(post, path = "/api/v1/personas/{id}/sessions", tag = "chat", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "the persona")), extensions(("x-min-role" = json!("student"))),
    responses((status = 201, body = SessionView), (status = 404, body = crate::error::ErrorBody)))]
pub async fn create_session(
    state: web::Data<AppState>,
    caller: AuthUser,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ChatError> {
    let session = service::create_session(&state, &caller, *id).await?;
    Ok(HttpResponse::Created().json(SessionView::from(&session)))
}

#[utoipa::path(get, path = "/api/v1/sessions", tag = "chat", security(("bearer" = [])), params(PageQuery),
    extensions(("x-min-role" = json!("student"))),
    responses((status = 200, description = "the caller's own sessions, most recently active first",
        body = Page<SessionView>)))]
pub async fn list_sessions(
    state: web::Data<AppState>,
    caller: AuthUser,
    page: web::Query<PageQuery>,
) -> Result<HttpResponse, ChatError> {
    let (rows, total) = store::list_sessions(&state.db, caller.org_id, caller.user_id, &page).await?;
    let items = rows.iter().map(SessionView::from).collect();
    Ok(HttpResponse::Ok().json(Page { items, page: page.page(), per_page: page.per_page(), total }))
}

#[utoipa::path(get, path = "/api/v1/sessions/{id}/messages", tag = "chat", security(("bearer" = [])),
    params(("id" = Uuid, Path), PageQuery), extensions(("x-min-role" = json!("student"))),
    responses((status = 200, description = "oldest first", body = Page<MessageView>),
        (status = 404, description = "not the caller's session (staff read every session of their org)",
            body = crate::error::ErrorBody)))]
pub async fn list_messages(
    state: web::Data<AppState>,
    caller: AuthUser,
    id: web::Path<Uuid>,
    page: web::Query<PageQuery>,
) -> Result<HttpResponse, ChatError> {
    let session = service::readable(&state, &caller, *id).await?;
    let (rows, total) = store::messages_page(&state.db, session.org_id, session.id, &page).await?;
    let items = rows.into_iter().map(MessageView::from).collect();
    Ok(HttpResponse::Ok().json(Page { items, page: page.page(), per_page: page.per_page(), total }))
}

/// Asks the tutor. The question is stored before the model is called. With `Accept: text/event-stream` the
/// answer streams as SSE events named like the WebSocket frames (`message.accepted`, `avatar.cue`,
/// `answer.delta`, `answer.citation`, `answer.done` or `error`); closing the stream cancels the answer.
#[utoipa::path(post, path = "/api/v1/sessions/{id}/messages", tag = "chat", security(("bearer" = [])),
    params(("id" = Uuid, Path)), request_body = SendMessage, extensions(("x-min-role" = json!("student"))),
    responses((status = 200, body = TurnView), (status = 200, content_type = "text/event-stream",
            description = "the same frames as the WebSocket, one SSE event each"),
        (status = 403, description = "staff may read a student's session, not write in it", body = crate::error::ErrorBody),
        (status = 404, body = crate::error::ErrorBody),
        (status = 409, description = "`turn_in_progress`", body = crate::error::ErrorBody),
        (status = 422, body = crate::error::ErrorBody),
        (status = 502, description = "`llm_unreachable`, `llm_upstream_error`, `llm_interrupted`: the question is \
            kept, the session stays usable", body = crate::error::ErrorBody),
        (status = 504, description = "`llm_timeout`", body = crate::error::ErrorBody)))]
pub async fn send_message(
    state: web::Data<AppState>,
    req: HttpRequest,
    caller: AuthUser,
    id: web::Path<Uuid>,
    body: web::Json<SendMessage>,
) -> Result<HttpResponse, ChatError> {
    let session = service::readable(&state, &caller, *id).await?;
    let accepted = service::accept(&state, &caller, session, &body.content, None).await?;
    let wants_sse = req
        .headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("text/event-stream"));
    if !wants_sse {
        let service::Accepted { turn, guard } = accepted;
        // actix drops this handler when the client hangs up (the server does not keep half-closed connections,
        // see app.rs). The turn runs in its own task so that it still stores what was written, as `cancelled`;
        // the drop guard is what tells it to stop, and its upstream request with it.
        let hung_up = guard.cancel.clone().drop_guard();
        let state = state.into_inner();
        let running = tokio::spawn(async move { turn::run(&state, &turn, &Outbox::discard(), guard).await });
        let result = running.await.map_err(|e| anyhow::anyhow!("the chat turn task failed: {e}"))??;
        hung_up.disarm();
        if let Some(kind) = result.failed {
            return Err(ChatError::Llm(kind));
        }
        let view =
            TurnView { message: result.message, citations: result.citations, cues: result.cues, usage: result.usage };
        return Ok(HttpResponse::Ok().json(view));
    }
    let (outbox, frames) = Outbox::new(state.settings.chat.ws_outbox_frames);
    outbox.frame(&ServerFrame::MessageAccepted { client_id: None, message_id: accepted.turn.question.id });
    let state = state.into_inner();
    tokio::spawn(async move {
        let service::Accepted { turn, guard } = accepted;
        if let Err(err) = turn::run(&state, &turn, &outbox, guard).await {
            outbox.frame(&ServerFrame::error(err.code(), err.api().message));
        }
    });
    let body = tokio_stream_from(frames).map(|frame| {
        Ok::<_, actix_web::Error>(Bytes::from(format!("event: {}\ndata: {}\n\n", frame.event, frame.json)))
    });
    Ok(HttpResponse::Ok()
        .content_type("text/event-stream")
        .insert_header(("cache-control", "no-cache"))
        .insert_header(("x-accel-buffering", "no"))
        .streaming(body))
}

fn tokio_stream_from(
    mut rx: tokio::sync::mpsc::Receiver<super::hub::Outgoing>,
) -> impl futures_util::Stream<Item = super::hub::Outgoing> {
    futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx))
}
