//! The OpenAI-compatible chat provider against the in-process fake endpoint (`fake_llm`): streaming, usage,
//! timeouts, retries only on connect errors, and cancellation that reaches the upstream connection.

use std::time::{Duration, Instant};

use bwenge::platform::llm::chat::{
    ChatError, ChatErrorKind, ChatEvent, ChatMessage, ChatProvider, ChatRequest, MaxTokensParam, OpenAiChat,
    OpenAiChatConfig, TokenUsage,
};
use futures_util::StreamExt;

use crate::fake_llm::{FakeLlm, Script};
use crate::helpers::spawn_app_with;

fn provider(base_url: &str, edit: impl FnOnce(&mut OpenAiChatConfig)) -> OpenAiChat {
    let mut config = OpenAiChatConfig::new(base_url, "sk-test", "default-model");
    config.first_token_timeout = Duration::from_secs(5);
    config.initial_backoff = Duration::from_millis(50);
    edit(&mut config);
    OpenAiChat::new(config).unwrap()
}

fn question() -> ChatRequest {
    ChatRequest {
        messages: vec![ChatMessage::system("You are a patient tutor."), ChatMessage::user("What is photosynthesis?")],
        ..ChatRequest::default()
    }
}

/// Every item of the stream, until it ends.
async fn collect(chat: &OpenAiChat, request: ChatRequest) -> Vec<Result<ChatEvent, ChatError>> {
    chat.stream(request).collect().await
}

#[tokio::test]
async fn streams_deltas_then_usage_then_done_and_sends_the_settings() {
    let fake = FakeLlm::start(vec![Script::stream(&["Plants ", "make ", "sugar."])]).await;
    let chat = provider(&fake.base_url, |_| {});
    let request = ChatRequest {
        model: Some("persona-model".into()),
        temperature: Some(0.3),
        max_tokens: Some(200),
        ..question()
    };
    let events = collect(&chat, request).await;
    let events: Vec<ChatEvent> = events.into_iter().map(Result::unwrap).collect();
    assert_eq!(
        events,
        vec![
            ChatEvent::Delta("Plants ".into()),
            ChatEvent::Delta("make ".into()),
            ChatEvent::Delta("sugar.".into()),
            ChatEvent::Usage(TokenUsage { prompt_tokens: 11, completion_tokens: 7, total_tokens: 18 }),
            ChatEvent::Done { finish_reason: "stop".into() },
        ]
    );
    let sent = &fake.requests()[0];
    assert_eq!(sent["model"], "persona-model");
    assert_eq!(sent["stream"], true);
    assert_eq!(sent["stream_options"]["include_usage"], true);
    assert!((sent["temperature"].as_f64().unwrap() - 0.3).abs() < 1e-6);
    assert_eq!(sent["max_tokens"], 200);
    assert_eq!(sent["messages"][0]["role"], "system");
    assert_eq!(sent["messages"][1]["content"], "What is photosynthesis?");
    assert_eq!(sent["__authorization"], "bearer sk-test");
}

#[tokio::test]
async fn the_default_model_and_max_completion_tokens_when_configured() {
    let fake = FakeLlm::start(vec![Script::stream(&["Hi"])]).await;
    let chat = provider(&fake.base_url, |c| c.max_tokens_param = MaxTokensParam::MaxCompletionTokens);
    let events = collect(&chat, ChatRequest { max_tokens: Some(50), ..question() }).await;
    assert!(matches!(events.last(), Some(Ok(ChatEvent::Done { .. }))), "{events:?}");
    let sent = &fake.requests()[0];
    assert_eq!(sent["model"], "default-model");
    assert_eq!(sent["max_completion_tokens"], 50);
    assert!(sent.get("max_tokens").is_none());
}

#[tokio::test]
async fn an_error_status_is_an_upstream_error_and_is_not_retried() {
    let body = r#"{"error":{"message":"The model `nope` does not exist","type":"invalid_request_error"}}"#;
    let fake = FakeLlm::start(vec![Script::Status(404, body.into())]).await;
    let events = collect(&provider(&fake.base_url, |c| c.max_retries = 3), question()).await;
    assert_eq!(events.len(), 1, "{events:?}");
    let err = events[0].as_ref().unwrap_err();
    assert_eq!(*err, ChatError::Upstream { status: 404, message: "The model `nope` does not exist".into() });

    let fake = FakeLlm::start(vec![Script::Status(500, "<html>overloaded</html>".into())]).await;
    let events = collect(&provider(&fake.base_url, |c| c.max_retries = 3), question()).await;
    let err = events[0].as_ref().unwrap_err();
    assert_eq!(err.kind(), ChatErrorKind::Upstream);
    assert_eq!(err.code(), "llm_upstream_error");
    assert!(matches!(err, ChatError::Upstream { status: 500, message } if message.contains("overloaded")));
    assert_eq!(fake.requests().len(), 1, "a 500 is final: no retry");
}

#[tokio::test]
async fn refused_connections_are_retried_with_backoff_then_reported() {
    let url = FakeLlm::refusing().await;
    let started = Instant::now();
    let events = collect(&provider(&url, |c| c.max_retries = 2), question()).await;
    let err = events[0].as_ref().unwrap_err();
    assert_eq!(err.kind(), ChatErrorKind::Connect, "{err}");
    assert_eq!(err.code(), "llm_unreachable");
    // Two retries after 50 ms and 100 ms.
    assert!(started.elapsed() >= Duration::from_millis(150), "{:?}", started.elapsed());
}

#[tokio::test]
async fn a_server_that_comes_up_during_the_retries_answers() {
    let fake = FakeLlm::start_late(Duration::from_millis(120), vec![Script::stream(&["Late ", "but here."])]).await;
    let events = collect(&provider(&fake.base_url, |c| c.max_retries = 4), question()).await;
    let text: String = events
        .iter()
        .filter_map(|e| match e {
            Ok(ChatEvent::Delta(t)) => Some(t.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(text, "Late but here.", "{events:?}");
    assert_eq!(fake.requests().len(), 1);
}

#[tokio::test]
async fn no_first_token_in_time_is_a_timeout_and_closes_the_upstream_request() {
    let fake = FakeLlm::start(vec![Script::HangBeforeFirstToken]).await;
    let chat = provider(&fake.base_url, |c| c.first_token_timeout = Duration::from_millis(300));
    let started = Instant::now();
    let events = collect(&chat, question()).await;
    let waited = started.elapsed();
    assert_eq!(events.len(), 1, "{events:?}");
    let err = events[0].as_ref().unwrap_err();
    assert_eq!(err.kind(), ChatErrorKind::Timeout);
    assert_eq!(err.code(), "llm_timeout");
    assert!(waited >= Duration::from_millis(300) && waited < Duration::from_secs(3), "{waited:?}");
    assert!(fake.wait_disconnects(1, Duration::from_secs(3)).await, "the hung request was not closed");
    assert_eq!(fake.requests().len(), 1, "a timeout is not retried");
}

#[tokio::test]
async fn a_stall_mid_answer_is_a_timeout_after_the_deltas() {
    let fake = FakeLlm::start(vec![Script::StreamThenHang { deltas: vec!["Half an ".into()] }]).await;
    let chat = provider(&fake.base_url, |c| c.first_token_timeout = Duration::from_millis(300));
    let events = collect(&chat, question()).await;
    assert_eq!(events[0], Ok(ChatEvent::Delta("Half an ".into())));
    assert_eq!(events[1].as_ref().unwrap_err().kind(), ChatErrorKind::Timeout);
    assert_eq!(events.len(), 2);
    assert!(fake.wait_disconnects(1, Duration::from_secs(3)).await);
}

#[tokio::test]
async fn dropping_the_stream_mid_answer_closes_the_upstream_request() {
    let fake = FakeLlm::start(vec![Script::StreamThenHang { deltas: vec!["Once ".into(), "upon ".into()] }]).await;
    let chat = provider(&fake.base_url, |_| {});
    let mut stream = chat.stream(question());
    assert_eq!(stream.next().await.unwrap(), Ok(ChatEvent::Delta("Once ".into())));
    assert_eq!(fake.disconnects(), 0);
    let dropped = Instant::now();
    drop(stream); // the student cancelled, or went away
    assert!(fake.wait_disconnects(1, Duration::from_secs(2)).await, "upstream never saw the cancellation");
    println!("upstream saw the hang-up {:?} after the drop", dropped.elapsed());
}

#[tokio::test]
async fn dropping_the_stream_while_waiting_for_the_first_token_closes_the_upstream_request() {
    let fake = FakeLlm::start(vec![Script::HangBeforeFirstToken]).await;
    let chat = provider(&fake.base_url, |_| {});
    let mut stream = chat.stream(question());
    let waited = tokio::time::timeout(Duration::from_millis(200), stream.next()).await;
    assert!(waited.is_err(), "nothing should arrive from a hanging server");
    drop(stream);
    assert!(fake.wait_disconnects(1, Duration::from_secs(2)).await);
}

#[tokio::test]
async fn a_stream_cut_before_its_finish_is_interrupted_not_done() {
    let fake = FakeLlm::start(vec![Script::StreamThenCut { deltas: vec!["Photo".into()] }]).await;
    let events = collect(&provider(&fake.base_url, |_| {}), question()).await;
    assert_eq!(events[0], Ok(ChatEvent::Delta("Photo".into())));
    let err = events.last().unwrap().as_ref().unwrap_err();
    assert_eq!(err.kind(), ChatErrorKind::Interrupted, "{events:?}");
    assert_eq!(err.code(), "llm_interrupted");
}

#[tokio::test]
async fn the_app_has_a_provider_only_when_an_endpoint_is_configured() {
    let app = spawn_app_with(|_| {}).await;
    assert!(app.backends.llm.is_none(), "no base_url: the extractive tutor, never a fake");

    let fake = FakeLlm::start(vec![Script::stream(&["Configured."])]).await;
    let url = fake.base_url.clone();
    let app = spawn_app_with(move |s| {
        s.llm.base_url = url;
        s.llm.model = "school-model".into();
    })
    .await;
    let llm = app.backends.llm.clone().expect("a provider");
    assert_eq!(llm.default_model(), "school-model");
    let events: Vec<_> = llm.stream(question()).collect().await;
    assert_eq!(events[0], Ok(ChatEvent::Delta("Configured.".into())));
    assert_eq!(fake.requests()[0]["model"], "school-model");
}

#[tokio::test]
async fn an_endpoint_without_a_model_stops_the_start() {
    let result = bwenge::Application::build({
        let mut settings = crate::helpers::test_settings(&crate::helpers::test_data_dir()).await;
        settings.llm.base_url = "http://127.0.0.1:9/v1".into();
        settings
    })
    .await;
    let err = result.err().expect("a start-up error");
    assert!(format!("{err:#}").contains("llm.model"), "{err:#}");
}
