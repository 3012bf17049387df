//! [`OpenAiChat`]: any OpenAI-compatible `/chat/completions` endpoint, streamed, on `async-openai`.
//!
//! Requests use `async-openai`'s types; [`super::stream`] reads the chunks. Under the client sits our HTTP layer
//! ([`super::upstream`]): connect errors retried with backoff, nothing else.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_openai::Client;
use async_openai::config::OpenAIConfig;
use async_openai::types::chat::{
    ChatCompletionRequestAssistantMessage, ChatCompletionRequestMessage, ChatCompletionRequestSystemMessage,
    ChatCompletionRequestUserMessage, ChatCompletionStreamOptions, CreateChatCompletionRequest,
};
use serde::Deserialize;

use super::stream;
use super::upstream::Upstream;
use super::{ChatError, ChatProvider, ChatRequest, ChatRole, ChatStream};

/// Which request field carries the length limit. OpenAI deprecated `max_tokens` and its reasoning models reject
/// it, while Ollama (and older llama.cpp servers) understand only `max_tokens`; no one field suits all.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MaxTokensParam {
    #[default]
    MaxTokens,
    MaxCompletionTokens,
}

#[derive(Clone)]
pub struct OpenAiChatConfig {
    /// API root without `/chat/completions`, e.g. `https://api.openai.com/v1` or `http://localhost:11434/v1`.
    pub base_url: String,
    /// Bearer token; empty for local servers that need none.
    pub api_key: String,
    /// The model for requests that name none.
    pub model: String,
    /// Limit for one TCP (and TLS) connect.
    pub connect_timeout: Duration,
    /// Longest wait from the call to the first token, connect retries included; also the longest silence
    /// tolerated between two chunks once the answer has started.
    pub first_token_timeout: Duration,
    /// Extra attempts after a failure to connect. Nothing else is retried.
    pub max_retries: u32,
    /// Delay before the first retry; doubles per retry.
    pub initial_backoff: Duration,
    pub max_tokens_param: MaxTokensParam,
}

impl OpenAiChatConfig {
    pub fn new(base_url: impl Into<String>, api_key: impl Into<String>, model: impl Into<String>) -> Self {
        Self {
            base_url: base_url.into(),
            api_key: api_key.into(),
            model: model.into(),
            connect_timeout: Duration::from_secs(10),
            first_token_timeout: Duration::from_secs(60),
            max_retries: 2,
            initial_backoff: Duration::from_millis(250),
            max_tokens_param: MaxTokensParam::MaxTokens,
        }
    }
}

// Hand-written so the key never reaches a log.
impl fmt::Debug for OpenAiChatConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OpenAiChatConfig")
            .field("base_url", &self.base_url)
            .field("api_key", &if self.api_key.is_empty() { "<none>" } else { "<redacted>" })
            .field("model", &self.model)
            .field("connect_timeout", &self.connect_timeout)
            .field("first_token_timeout", &self.first_token_timeout)
            .field("max_retries", &self.max_retries)
            .field("max_tokens_param", &self.max_tokens_param)
            .finish_non_exhaustive()
    }
}

pub struct OpenAiChat {
    client: Arc<Client<OpenAIConfig>>,
    model: String,
    first_token_timeout: Duration,
    max_tokens_param: MaxTokensParam,
}

impl fmt::Debug for OpenAiChat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OpenAiChat").field("model", &self.model).finish_non_exhaustive()
    }
}

impl OpenAiChat {
    /// Checks the config and builds the client; contacts nobody. A bad setting fails here, at start-up.
    pub fn new(config: OpenAiChatConfig) -> anyhow::Result<Self> {
        let base = config.base_url.trim().trim_end_matches('/').to_owned();
        match url::Url::parse(&base) {
            Ok(url) if matches!(url.scheme(), "http" | "https") => {}
            _ => anyhow::bail!("llm.base_url {:?} is not an http(s) URL", config.base_url),
        }
        anyhow::ensure!(!config.model.trim().is_empty(), "llm.model must name the default model");
        // async-openai builds the Authorization header with `unwrap()`: a key with a newline would panic there.
        anyhow::ensure!(
            config.api_key.bytes().all(|b| b.is_ascii_graphic()),
            "llm.api_key has characters a header cannot carry (a stray newline?)"
        );
        anyhow::ensure!(config.first_token_timeout > Duration::ZERO, "llm.first_token_timeout_secs must be positive");
        let http = reqwest::Client::builder()
            .connect_timeout(config.connect_timeout)
            // No overall timeout: an answer may stream for minutes. The first-token and idle limits live in
            // the stream, where "slow" and "stuck" can be told apart.
            .build()?;
        let upstream =
            Upstream { http: http.clone(), max_retries: config.max_retries, initial_backoff: config.initial_backoff };
        // Every field set explicitly: `OpenAIConfig::new()` would otherwise pick up OPENAI_* variables.
        let openai = OpenAIConfig::new()
            .with_api_base(base)
            .with_api_key(config.api_key.clone())
            .with_org_id(String::new())
            .with_project_id(String::new());
        let client = Client::build(http, openai).with_http_service(upstream);
        Ok(Self {
            client: Arc::new(client),
            model: config.model.trim().to_owned(),
            first_token_timeout: config.first_token_timeout,
            max_tokens_param: config.max_tokens_param,
        })
    }

    fn wire_request(&self, request: ChatRequest) -> Result<CreateChatCompletionRequest, ChatError> {
        if request.messages.is_empty() {
            return Err(ChatError::InvalidRequest("no messages".into()));
        }
        if let Some(t) = request.temperature
            && !(0.0..=2.0).contains(&t)
        {
            return Err(ChatError::InvalidRequest(format!("temperature {t} is outside 0..=2")));
        }
        if request.max_tokens == Some(0) {
            return Err(ChatError::InvalidRequest("max_tokens must be positive".into()));
        }
        let messages = request
            .messages
            .into_iter()
            .map(|m| match m.role {
                ChatRole::System => ChatCompletionRequestSystemMessage::from(m.content).into(),
                ChatRole::User => ChatCompletionRequestUserMessage::from(m.content).into(),
                ChatRole::Assistant => ChatCompletionRequestAssistantMessage::from(m.content).into(),
            })
            .collect::<Vec<ChatCompletionRequestMessage>>();
        let model = request.model.filter(|m| !m.trim().is_empty()).unwrap_or_else(|| self.model.clone());
        #[allow(deprecated)] // `max_tokens`: see MaxTokensParam
        let (max_tokens, max_completion_tokens) = match self.max_tokens_param {
            MaxTokensParam::MaxTokens => (request.max_tokens, None),
            MaxTokensParam::MaxCompletionTokens => (None, request.max_tokens),
        };
        #[allow(deprecated)]
        Ok(CreateChatCompletionRequest {
            messages,
            model,
            temperature: request.temperature,
            max_tokens,
            max_completion_tokens,
            stream: Some(true),
            // The usage chunk arrives before `[DONE]`; it is how the chat layer records what an answer cost.
            stream_options: Some(ChatCompletionStreamOptions { include_usage: Some(true), include_obfuscation: None }),
            ..CreateChatCompletionRequest::default()
        })
    }
}

impl ChatProvider for OpenAiChat {
    fn default_model(&self) -> &str {
        &self.model
    }

    fn stream(&self, request: ChatRequest) -> ChatStream {
        stream::events(Arc::clone(&self.client), self.wire_request(request), self.first_token_timeout)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::platform::llm::chat::ChatMessage;

    fn chat() -> OpenAiChat {
        OpenAiChat::new(OpenAiChatConfig::new("http://127.0.0.1:9/v1", "", "tutor-model")).unwrap()
    }

    #[test]
    fn config_mistakes_fail_at_start() {
        let bad = |edit: fn(&mut OpenAiChatConfig)| {
            let mut config = OpenAiChatConfig::new("http://localhost:11434/v1", "key", "llama3");
            edit(&mut config);
            OpenAiChat::new(config).is_err()
        };
        assert!(!bad(|_| {}));
        assert!(bad(|c| c.base_url = "localhost:11434".into()));
        assert!(bad(|c| c.base_url = "ftp://host/v1".into()));
        assert!(bad(|c| c.model = " ".into()));
        assert!(bad(|c| c.api_key = "sk-abc\n".into()));
        assert!(bad(|c| c.first_token_timeout = Duration::ZERO));
    }

    #[test]
    fn wire_request_streams_with_usage_and_the_default_model() {
        let request = ChatRequest {
            messages: vec![ChatMessage::system("Be brief."), ChatMessage::user("Hi")],
            temperature: Some(0.5),
            max_tokens: Some(64),
            ..ChatRequest::default()
        };
        let wire = serde_json::to_value(chat().wire_request(request).unwrap()).unwrap();
        assert_eq!(wire["model"], "tutor-model");
        assert_eq!(wire["stream"], true);
        assert_eq!(wire["stream_options"]["include_usage"], true);
        assert_eq!(wire["max_tokens"], 64);
        assert!(wire.get("max_completion_tokens").is_none());
        assert_eq!(wire["messages"][0]["role"], "system");
        assert_eq!(wire["messages"][1]["content"], "Hi");
    }

    #[test]
    fn invalid_requests_are_refused_before_sending() {
        let empty = ChatRequest::default();
        assert!(matches!(chat().wire_request(empty), Err(ChatError::InvalidRequest(_))));
        let hot =
            ChatRequest { messages: vec![ChatMessage::user("x")], temperature: Some(2.5), ..ChatRequest::default() };
        assert!(matches!(chat().wire_request(hot), Err(ChatError::InvalidRequest(_))));
    }
}
