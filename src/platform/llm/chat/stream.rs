//! Reading one streamed completion: the events it carries, the first-token and idle limits, and the end.
//!
//! Chunks are read with our own lenient type (`async-openai`'s requires fields such as `id` and `created` that
//! not every compatible server sends).

use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use async_openai::Client;
use async_openai::config::OpenAIConfig;
use async_openai::error::OpenAIError;
use async_openai::types::chat::CreateChatCompletionRequest;
use futures_util::{Stream, StreamExt};
use serde::Deserialize;
use tokio::time::Instant;

use super::{ChatError, ChatEvent, ChatStream, TokenUsage};
use crate::platform::llm::error_chain;

type ChunkStream = Pin<Box<dyn Stream<Item = Result<Chunk, OpenAIError>> + Send>>;

/// The events of one completion; nothing is sent before the first poll.
pub(super) fn events(
    client: Arc<Client<OpenAIConfig>>,
    request: Result<CreateChatCompletionRequest, ChatError>,
    timeout: Duration,
) -> ChatStream {
    let run = Run {
        client,
        request: Some(request),
        chunks: None,
        timeout,
        deadline: None,
        answered: false,
        finish_reason: None,
        pending: VecDeque::new(),
        over: false,
    };
    Box::pin(futures_util::stream::unfold(run, |mut run| async move {
        let item = run.next().await?;
        Some((item, run))
    }))
}

/// One streamed completion. Owns the upstream stream: dropping it closes the connection.
struct Run {
    client: Arc<Client<OpenAIConfig>>,
    request: Option<Result<CreateChatCompletionRequest, ChatError>>,
    chunks: Option<ChunkStream>,
    timeout: Duration,
    /// When the first token is due; set on the first poll, not at creation.
    deadline: Option<Instant>,
    /// A text delta has arrived: from then on `timeout` limits the silence between chunks.
    answered: bool,
    finish_reason: Option<String>,
    pending: VecDeque<ChatEvent>,
    over: bool,
}

impl Run {
    async fn next(&mut self) -> Option<Result<ChatEvent, ChatError>> {
        loop {
            if let Some(event) = self.pending.pop_front() {
                return Some(Ok(event));
            }
            if self.over {
                return None;
            }
            if let Err(err) = self.advance().await {
                self.over = true;
                self.chunks = None; // closes the upstream connection now, not when the consumer drops us
                return Some(Err(err));
            }
        }
    }

    /// Opens the request, or reads one chunk and queues the events it carries.
    async fn advance(&mut self) -> Result<(), ChatError> {
        let deadline = if self.answered {
            Instant::now() + self.timeout
        } else {
            *self.deadline.get_or_insert_with(|| Instant::now() + self.timeout)
        };
        let timed_out = ChatError::Timeout(self.timeout);
        let Some(chunks) = self.chunks.as_mut() else {
            let request =
                self.request.take().unwrap_or(Err(ChatError::InvalidRequest("request already sent".into())))?;
            let opened = tokio::time::timeout_at(deadline, self.client.chat().create_stream_byot(request))
                .await
                .map_err(|_| timed_out)?
                .map_err(open_error)?;
            self.chunks = Some(opened);
            return Ok(());
        };
        match tokio::time::timeout_at(deadline, chunks.next()).await {
            Err(_) => Err(timed_out),
            Ok(Some(Ok(chunk))) => self.absorb(chunk),
            Ok(Some(Err(err))) => Err(ChatError::Interrupted(describe(&err))),
            Ok(None) => {
                // `[DONE]` and a closed connection look alike here; a finish reason tells a whole answer apart.
                let finish_reason = self.finish_reason.take().ok_or_else(|| {
                    ChatError::Interrupted("the stream ended before the model finished its answer".into())
                })?;
                self.pending.push_back(ChatEvent::Done { finish_reason });
                self.over = true;
                Ok(())
            }
        }
    }

    fn absorb(&mut self, chunk: Chunk) -> Result<(), ChatError> {
        if let Some(error) = chunk.error {
            let message =
                error.get("message").and_then(|m| m.as_str()).map_or_else(|| error.to_string(), str::to_owned);
            return Err(ChatError::Interrupted(format!("the endpoint sent an error mid-stream: {message}")));
        }
        // We never ask for `n` > 1, so every choice is the one answer (servers number it 0).
        for choice in chunk.choices {
            if let Some(text) = choice.delta.and_then(|d| d.content).filter(|t| !t.is_empty()) {
                self.answered = true;
                self.pending.push_back(ChatEvent::Delta(text));
            }
            if let Some(reason) = choice.finish_reason {
                self.finish_reason = Some(reason);
            }
        }
        if let Some(usage) = chunk.usage {
            let prompt_tokens = usage.prompt_tokens.unwrap_or(0);
            let completion_tokens = usage.completion_tokens.unwrap_or(0);
            let total_tokens = usage.total_tokens.unwrap_or(prompt_tokens + completion_tokens);
            self.pending.push_back(ChatEvent::Usage(TokenUsage { prompt_tokens, completion_tokens, total_tokens }));
        }
        Ok(())
    }
}

/// An error before the first byte of the stream.
fn open_error(err: OpenAIError) -> ChatError {
    match err {
        OpenAIError::ApiError(api) => {
            ChatError::Upstream { status: api.status_code.as_u16(), message: api.api_error.message }
        }
        OpenAIError::Reqwest(err) => ChatError::Connect(error_chain(&err)),
        OpenAIError::InvalidArgument(message) => ChatError::InvalidRequest(message),
        other => ChatError::Connect(describe(&other)),
    }
}

fn describe(err: &OpenAIError) -> String {
    let text = error_chain(err);
    text.chars().take(500).collect()
}

/// A streamed chunk, read leniently: only what we use, every field optional.
#[derive(Debug, Deserialize)]
struct Chunk {
    #[serde(default)]
    choices: Vec<Choice>,
    #[serde(default)]
    usage: Option<Usage>,
    /// vLLM and OpenAI may send `{"error": {...}}` as a data line when generation fails mid-stream.
    #[serde(default)]
    error: Option<serde_json::Value>,
}

#[derive(Debug, Deserialize)]
struct Choice {
    #[serde(default)]
    delta: Option<Delta>,
    #[serde(default)]
    finish_reason: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Delta {
    #[serde(default)]
    content: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Usage {
    prompt_tokens: Option<u32>,
    completion_tokens: Option<u32>,
    total_tokens: Option<u32>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_without_ids_and_with_null_usage_parse() {
        let chunk: Chunk =
            serde_json::from_str(r#"{"choices":[{"delta":{"content":"Hi"},"finish_reason":null}],"usage":null}"#)
                .unwrap();
        assert_eq!(chunk.choices.len(), 1);
        let usage: Chunk =
            serde_json::from_str(r#"{"choices":[],"usage":{"prompt_tokens":3,"completion_tokens":2}}"#).unwrap();
        assert!(usage.usage.is_some_and(|u| u.total_tokens.is_none() && u.prompt_tokens == Some(3)));
    }
}
