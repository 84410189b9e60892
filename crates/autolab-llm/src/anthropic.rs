//! The Anthropic Messages wire format.
//!
//! Request: `POST {base}/v1/messages` with `{model, max_tokens, system?, messages,
//! temperature?, stream}`; system messages go to the top-level `system`. Reply: JSON with
//! `content[*].text` and `usage.input_tokens/output_tokens`, or SSE events `message_start`
//! (input tokens), `content_block_delta` (text), `message_delta` (output tokens) and
//! `message_stop`.

use std::io::BufRead;

use serde_json::{Map, Value, json};

use crate::http::{Failure, Reply, json_number, parse_json, provider_error};
use crate::sse::EventReader;
use crate::{ChatRequest, LlmError, Role};

pub(crate) fn request_body(model: &str, req: &ChatRequest, stream: bool) -> Value {
    let system: Vec<&str> = req
        .messages
        .iter()
        .filter(|m| m.role == Role::System)
        .map(|m| m.content.as_str())
        .collect();
    let messages: Vec<Value> = req
        .messages
        .iter()
        .filter(|m| m.role != Role::System)
        .map(|m| json!({ "role": m.role.as_str(), "content": m.content }))
        .collect();
    let mut body = Map::new();
    body.insert("model".into(), json!(model));
    body.insert("max_tokens".into(), json!(req.max_tokens));
    if !system.is_empty() {
        body.insert("system".into(), json!(system.join("\n\n")));
    }
    body.insert("messages".into(), Value::Array(messages));
    if let Some(t) = req.temperature {
        body.insert("temperature".into(), json_number(t));
    }
    body.insert("stream".into(), json!(stream));
    Value::Object(body)
}

fn tokens(v: &Value, pointer: &str) -> Option<u64> {
    v.pointer(pointer).and_then(Value::as_u64)
}

fn model_of(v: &Value) -> Option<String> {
    v.as_str().filter(|m| !m.is_empty()).map(str::to_string)
}

/// Parses a whole (non-streamed) reply.
pub(crate) fn parse_reply(body: &str) -> Result<Reply, LlmError> {
    let v = parse_json(body)?;
    if let Some(err) = v.get("error").filter(|e| !e.is_null()) {
        return Err(LlmError::Protocol(provider_error(err)));
    }
    let Some(blocks) = v.get("content").and_then(Value::as_array) else {
        return Err(LlmError::Protocol(format!(
            "no content array in the reply: {}",
            crate::error::excerpt(body)
        )));
    };
    let text = blocks
        .iter()
        .filter(|b| b.get("type").and_then(Value::as_str) == Some("text"))
        .filter_map(|b| b.get("text").and_then(Value::as_str))
        .collect();
    let mut reply = Reply {
        text,
        ..Reply::default()
    };
    reply.usage.prompt_tokens = tokens(&v, "/usage/input_tokens").unwrap_or(0);
    reply.usage.completion_tokens = tokens(&v, "/usage/output_tokens").unwrap_or(0);
    reply.model = v.get("model").and_then(model_of);
    Ok(reply)
}

/// Reads a streamed reply to its end.
pub(crate) fn read_stream(input: impl BufRead) -> Result<Reply, Failure> {
    let mut events = EventReader::new(input);
    let mut reply = Reply::default();
    let mut stopped = false;
    while let Some(event) = events.next_event().map_err(Failure::io)? {
        let v = parse_json(&event.data).map_err(Failure::fatal)?;
        let kind = v
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or(event.name.as_str());
        match kind {
            "message_start" => {
                reply.model = v.pointer("/message/model").and_then(model_of);
                if let Some(n) = tokens(&v, "/message/usage/input_tokens") {
                    reply.usage.prompt_tokens = n;
                }
                if let Some(n) = tokens(&v, "/message/usage/output_tokens") {
                    reply.usage.completion_tokens = n;
                }
            }
            "content_block_delta"
                if v.pointer("/delta/type").and_then(Value::as_str) == Some("text_delta") =>
            {
                let piece = v.pointer("/delta/text").and_then(Value::as_str);
                reply.text.push_str(piece.unwrap_or_default());
            }
            "message_delta" => {
                // Counts here are cumulative: they replace the ones from message_start.
                if let Some(n) = tokens(&v, "/usage/output_tokens") {
                    reply.usage.completion_tokens = n;
                }
                if let Some(n) = tokens(&v, "/usage/input_tokens") {
                    reply.usage.prompt_tokens = n;
                }
            }
            "message_stop" => {
                stopped = true;
                break;
            }
            "error" => {
                let err = v.get("error").unwrap_or(&Value::Null);
                let overloaded = matches!(
                    err.get("type").and_then(Value::as_str),
                    Some("overloaded_error" | "api_error")
                );
                let error = LlmError::Protocol(provider_error(err));
                return Err(Failure {
                    error,
                    retryable: overloaded,
                    retry_after: None,
                });
            }
            _ => {} // ping, content_block_start, content_block_stop, future events
        }
    }
    if !stopped {
        return Err(Failure::retryable(LlmError::Transport(
            "the event stream ended before `message_stop`".into(),
        )));
    }
    Ok(reply)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Message, Usage};

    #[test]
    fn system_messages_go_to_the_top_level_field() {
        let mut req = ChatRequest::new(
            vec![
                Message::system("rule one"),
                Message::user("hi"),
                Message::assistant("hello"),
                Message::system("rule two"),
                Message::user("again"),
            ],
            100,
        );
        req.temperature = Some(0.3);
        let body = request_body("claude-sonnet-4-5", &req, false);
        assert_eq!(
            body,
            json!({
                "model": "claude-sonnet-4-5",
                "max_tokens": 100,
                "system": "rule one\n\nrule two",
                "messages": [
                    {"role": "user", "content": "hi"},
                    {"role": "assistant", "content": "hello"},
                    {"role": "user", "content": "again"}
                ],
                "temperature": 0.3,
                "stream": false
            })
        );
        let bare = request_body("m", &ChatRequest::new(vec![Message::user("x")], 1), true);
        assert!(bare.get("system").is_none() && bare.get("temperature").is_none());
        assert_eq!(bare["stream"], json!(true));
    }

    #[test]
    fn parses_a_json_reply_joining_text_blocks() {
        let r = parse_reply(
            r#"{"id":"msg_1","type":"message","role":"assistant","model":"claude-x",
                "content":[{"type":"text","text":"Hel"},{"type":"tool_use","id":"t"},{"type":"text","text":"lo"}],
                "stop_reason":"end_turn","usage":{"input_tokens":20,"output_tokens":4}}"#,
        )
        .unwrap();
        assert_eq!(r.text, "Hello");
        assert_eq!(
            r.usage,
            Usage {
                prompt_tokens: 20,
                completion_tokens: 4
            }
        );
        assert_eq!(r.model.as_deref(), Some("claude-x"));
    }

    #[test]
    fn garbage_and_missing_fields_are_protocol_errors() {
        for body in [
            "",
            "Service Unavailable",
            r#"{"type":"message"}"#,
            r#"{"type":"error","error":{"type":"invalid_request_error","message":"bad"}}"#,
        ] {
            assert!(
                matches!(parse_reply(body), Err(LlmError::Protocol(_))),
                "{body:?}"
            );
        }
    }

    const STREAM: &str = "event: message_start\n\
data: {\"type\":\"message_start\",\"message\":{\"id\":\"m\",\"model\":\"claude-y\",\"content\":[],\"usage\":{\"input_tokens\":25,\"output_tokens\":1}}}\n\n\
event: content_block_start\n\
data: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n\
event: ping\n\
data: {\"type\": \"ping\"}\n\n\
event: content_block_delta\n\
data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"Hi\"}}\n\n\
event: content_block_delta\n\
data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\" there\"}}\n\n\
event: content_block_stop\n\
data: {\"type\":\"content_block_stop\",\"index\":0}\n\n\
event: message_delta\n\
data: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\"},\"usage\":{\"output_tokens\":15}}\n\n\
event: message_stop\n\
data: {\"type\":\"message_stop\"}\n\n";

    #[test]
    fn reads_a_stream() {
        let r = read_stream(STREAM.as_bytes()).unwrap();
        assert_eq!(r.text, "Hi there");
        assert_eq!(
            r.usage,
            Usage {
                prompt_tokens: 25,
                completion_tokens: 15
            }
        );
        assert_eq!(r.model.as_deref(), Some("claude-y"));
    }

    #[test]
    fn a_stream_without_message_stop_is_retryable() {
        let cut = &STREAM[..STREAM.find("event: message_delta").unwrap()];
        let f = read_stream(cut.as_bytes()).unwrap_err();
        assert!(f.retryable && matches!(f.error, LlmError::Transport(_)));
    }

    #[test]
    fn an_overloaded_error_event_is_retryable_others_are_not() {
        let overloaded = "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}\n\n";
        let f = read_stream(overloaded.as_bytes()).unwrap_err();
        assert!(f.retryable);
        assert!(f.error.to_string().contains("Overloaded"));
        let invalid = "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"invalid_request_error\",\"message\":\"no\"}}\n\n";
        assert!(!read_stream(invalid.as_bytes()).unwrap_err().retryable);
    }
}
