//! Asking the tutor over HTTP: the answer as JSON, or its frames as Server-Sent Events.

use actix_web::http::header;
use actix_web::web::Bytes;
use actix_web::{HttpRequest, HttpResponse, web};
use futures_util::StreamExt;
use uuid::Uuid;

use crate::auth::AuthUser;
use crate::chat::error::ChatError;
use crate::chat::hub::{Outbox, Outgoing};
use crate::chat::service::{Accepted, ChatService};
use crate::chat::views::{FrameSse, SendMessage, ServerFrame, TurnView};
use crate::error::ErrorBody;
use crate::http::Json;

/// Ask the tutor
///
/// The question is stored before the model is called. With `Accept: text/event-stream` the answer streams as SSE
/// events named like the WebSocket frames (`message.accepted`, `avatar.cue`, `answer.delta`, `answer.citation`,
/// `answer.done` or `error`); closing the stream, or hanging up on a JSON request, cancels the answer.
#[utoipa::path(post, path = "/api/v1/sessions/{id}/messages", tag = "chat", operation_id = "send_message",
    security(("bearer" = []), ("api_key" = [])), params(("id" = Uuid, Path)), request_body = SendMessage,
    extensions(("x-min-role" = json!("student"))),
    responses((status = 200, description = "the answer (JSON), or with `Accept: text/event-stream` the same frames \
            as the WebSocket, one SSE event each",
            content((TurnView = "application/json"), (FrameSse = "text/event-stream"))),
        (status = 402, description = "`quota_exceeded`: the plan's monthly messages are used up", body = ErrorBody),
        (status = 403, description = "`forbidden`: staff may read a student's session, not write in it",
            body = ErrorBody),
        (status = 404, description = "`not_found`", body = ErrorBody),
        (status = 409, description = "`turn_in_progress`", body = ErrorBody),
        (status = 422, description = "`invalid_request` (empty or too long) or `invalid_body`", body = ErrorBody),
        (status = 502, description = "`llm_unreachable`, `llm_upstream_error`, `llm_interrupted`: the question is \
            kept, the session stays usable", body = ErrorBody),
        (status = 504, description = "`llm_timeout`", body = ErrorBody)))]
pub async fn send_message(
    chat: web::Data<ChatService>,
    req: HttpRequest,
    caller: AuthUser,
    id: web::Path<Uuid>,
    body: Json<SendMessage>,
) -> Result<HttpResponse, ChatError> {
    let session = chat.readable(&caller, *id).await?;
    let accepted = chat.accept(&caller, session, &body.content, None).await?;
    let wants_sse = req
        .headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("text/event-stream"));
    if wants_sse { Ok(stream(&chat, accepted)) } else { answer(chat.into_inner(), accepted).await }
}

/// The whole answer as JSON. actix drops this handler when the client hangs up (the server does not keep
/// half-closed connections, see app.rs). The turn runs in its own task so that it still stores what was written,
/// as `cancelled`; the drop guard is what tells it to stop, and its upstream request with it.
async fn answer(chat: std::sync::Arc<ChatService>, accepted: Accepted) -> Result<HttpResponse, ChatError> {
    let hung_up = accepted.guard.cancel.clone().drop_guard();
    let running = tokio::spawn(async move { chat.answer(accepted, &Outbox::discard()).await });
    let result = running.await.map_err(|e| anyhow::anyhow!("the chat turn task failed: {e}"))??;
    hung_up.disarm();
    if let Some(kind) = result.failed {
        return Err(ChatError::Llm(kind));
    }
    let view =
        TurnView { message: result.message, citations: result.citations, cues: result.cues, usage: result.usage };
    Ok(HttpResponse::Ok().json(view))
}

/// The turn's frames as Server-Sent Events; a client that closes the stream cancels the answer.
fn stream(chat: &ChatService, accepted: Accepted) -> HttpResponse {
    let (outbox, mut frames) = Outbox::new(chat.outbox_frames());
    outbox.frame(&ServerFrame::MessageAccepted { client_id: None, message_id: accepted.turn.question.id });
    chat.answer_in_background(accepted, outbox);
    let body = futures_util::stream::poll_fn(move |cx| frames.poll_recv(cx)).map(|frame: Outgoing| {
        Ok::<_, actix_web::Error>(Bytes::from(format!("event: {}\ndata: {}\n\n", frame.event, frame.json)))
    });
    HttpResponse::Ok()
        .content_type("text/event-stream")
        .insert_header(("cache-control", "no-cache"))
        .insert_header(("x-accel-buffering", "no"))
        .streaming(body)
}
