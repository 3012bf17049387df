//! The HTTP layer under `async-openai`'s client: our retry policy and our error mapping instead of its own.
//!
//! `async-openai`'s default executor retries 429s and 5xx three times. For a student waiting on an answer that is
//! the wrong trade: a 500 from a model server usually repeats, and three backed-off retries eat the whole
//! first-token budget. So only failures to connect are retried here (the request never reached the server, so
//! repeating it cannot double-bill or double-answer); every HTTP answer, and anything after the stream started,
//! is final.
//!
//! It also reads a non-success answer itself: `async-openai` turns a 4xx body that is not OpenAI's JSON error
//! shape (an HTML 404 from a wrong base URL, a proxy's text) into a deserialisation error that has lost the
//! status, and the status is what the chat layer reports.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use async_openai::error::{ApiError, ApiErrorResponse, OpenAIError};
use async_openai::middleware::HttpRequestFactory;
use serde::Deserialize;

use crate::platform::llm::error_chain;

#[derive(Clone, Debug)]
pub(super) struct Upstream {
    pub http: reqwest::Client,
    /// Extra attempts after a connect failure.
    pub max_retries: u32,
    /// Delay before the first retry; doubles per retry.
    pub initial_backoff: Duration,
}

type ResponseFuture = Pin<Box<dyn Future<Output = Result<reqwest::Response, OpenAIError>> + Send + 'static>>;

impl tower::Service<HttpRequestFactory> for Upstream {
    type Response = reqwest::Response;
    type Error = OpenAIError;
    type Future = ResponseFuture;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: HttpRequestFactory) -> Self::Future {
        let this = self.clone();
        Box::pin(async move { this.send(request).await })
    }
}

impl Upstream {
    async fn send(&self, factory: HttpRequestFactory) -> Result<reqwest::Response, OpenAIError> {
        let mut retries = 0;
        loop {
            // The factory rebuilds the request (its body is not cloneable) for every attempt.
            let request = factory.build().await?;
            match self.http.execute(request).await {
                Ok(response) if response.status().is_success() => return Ok(response),
                Ok(response) => return Err(status_error(response).await),
                Err(err) if err.is_connect() && retries < self.max_retries => {
                    let delay = self.backoff(retries);
                    retries += 1;
                    tracing::warn!(error = %error_chain(&err), retries, delay_ms = delay.as_millis() as u64,
                        "chat endpoint unreachable; retrying");
                    tokio::time::sleep(delay).await;
                }
                Err(err) => return Err(OpenAIError::Reqwest(err)),
            }
        }
    }

    fn backoff(&self, retries: u32) -> Duration {
        self.initial_backoff.saturating_mul(1 << retries.min(10)).min(Duration::from_secs(10))
    }
}

/// The status and the message of an error answer: from OpenAI's `{"error": {"message"}}` when the body has it,
/// otherwise the start of the raw body.
async fn status_error(response: reqwest::Response) -> OpenAIError {
    #[derive(Deserialize)]
    struct Wrapped {
        error: Detail,
    }
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Detail {
        Object { message: String },
        Text(String),
    }
    let status_code = response.status();
    let body = response.text().await.unwrap_or_default();
    let message = match serde_json::from_str::<Wrapped>(&body) {
        Ok(Wrapped { error: Detail::Object { message } | Detail::Text(message) }) => message,
        Err(_) => body.chars().take(300).collect(),
    };
    OpenAIError::ApiError(ApiErrorResponse { status_code, api_error: ApiError { message, ..ApiError::default() } })
}
