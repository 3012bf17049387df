//! Model providers: chat, embeddings, transcription. All but the local embedder speak OpenAI-compatible HTTP.

pub mod chat;
pub mod embeddings;
pub mod transcription;

/// reqwest's top-level message is often just "error sending request"; the cause chain says why.
pub(crate) fn error_chain(err: &dyn std::error::Error) -> String {
    let mut msg = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        msg.push_str(": ");
        msg.push_str(&cause.to_string());
        source = cause.source();
    }
    msg
}

/// The start of an upstream's (possibly huge) body, for an error message.
pub(crate) fn snippet(text: &str, max_chars: usize) -> String {
    let text = text.trim();
    match text.char_indices().nth(max_chars) {
        Some((cut, _)) => format!("{}...", &text[..cut]),
        None => text.to_owned(),
    }
}
