//! The chat WebSocket's upgrade: authenticate, then hand the connection to [`crate::chat::socket`].

use actix_web::http::Method;
use actix_web::{HttpRequest, HttpResponse, web};

use crate::auth::AuthError;
use crate::chat::service::ChatService;
use crate::chat::socket::Connection;
use crate::error::ErrorBody;

/// The sub-protocol a browser offers next to `bearer.<token>`, and the one the server answers with.
pub const PROTOCOL: &str = "bwenge";

/// Open the chat WebSocket
///
/// Live sessions: JSON frames in both directions, described by the `ClientFrame` and `ServerFrame` schemas of this
/// document (and the README's protocol section).
#[utoipa::path(get, path = "/api/v1/chat/ws", tag = "chat", operation_id = "open_chat_socket",
    security(("bearer" = []), ("api_key" = [])),
    params(("token" = Option<String>, Query, description = "the access token, when the client cannot send a \
        header; or offer the sub-protocols `bwenge` and `bearer.<token>`")),
    extensions(("x-min-role" = json!("student"))),
    responses((status = 101, description = "switching to the WebSocket protocol"),
        (status = 400, description = "`bad_request`: not a WebSocket upgrade request", body = ErrorBody)))]
pub async fn connect(
    chat: web::Data<ChatService>,
    req: HttpRequest,
    body: web::Payload,
) -> Result<HttpResponse, actix_web::Error> {
    let token = token(&req).ok_or(AuthError::MissingToken)?;
    let caller = chat.auth.authenticate(&token, &Method::GET).await?;
    let (response, session, stream) = actix_ws::handle_with_protocols(&req, body, &[PROTOCOL])?;
    let limit = chat.backends.config.chat.ws_max_frame_bytes;
    let stream = stream.max_frame_size(limit).aggregate_continuations().max_continuation_size(limit);
    let connection = Connection::new(chat.get_ref().clone(), caller);
    actix_web::rt::spawn(connection.run(session, stream));
    Ok(response)
}

/// `?token=`, the `bearer.<token>` sub-protocol (browsers cannot set headers on a WebSocket), or the usual
/// `Authorization: Bearer` header (other clients can).
fn token(req: &HttpRequest) -> Option<String> {
    let from_query = url::form_urlencoded::parse(req.query_string().as_bytes())
        .find(|(k, _)| k == "token")
        .map(|(_, v)| v.into_owned());
    let from_protocol = || {
        req.headers()
            .get_all(actix_web::http::header::SEC_WEBSOCKET_PROTOCOL)
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .find_map(|p| p.trim().strip_prefix("bearer.").map(str::to_owned))
    };
    let from_header = || {
        let value = req.headers().get(actix_web::http::header::AUTHORIZATION)?.to_str().ok()?;
        let (scheme, token) = value.split_once(' ')?;
        scheme.eq_ignore_ascii_case("bearer").then(|| token.trim().to_owned())
    };
    from_query.or_else(from_protocol).or_else(from_header).filter(|t| !t.is_empty())
}
