//! The OpenAI chat-completions wire format.
//!
//! Request: `POST {base}/chat/completions` with `{model, messages, max_tokens, temperature?,
//! stream}` (plus `stream_options.include_usage` when streaming). Reply: JSON with
//! `choices[0].message.content` and `usage`, or SSE `data:` chunks with
//! `choices[0].delta.content`, a usage chunk, then `data: [DONE]`.

use std::io::BufRead;

use serde_json::{Map, Value, json};

use crate::http::{Failure, Reply, json_number, parse_json, provider_error};
use crate::sse::EventReader;
use crate::{ChatRequest, LlmError, Usage};

/// OpenAI's reasoning models reject `max_tokens` (they take `max_completion_tokens`) and any
/// temperature but the default.
fn is_reasoning_model(model: &str) -> bool {
    let name = model
        .rsplit('/')
        .next()
        .unwrap_or(model)
        .to_ascii_lowercase();
    ["o1", "o3", "o4", "gpt-5"]
        .iter()
        .any(|p| name.starts_with(p))
}

pub(crate) fn request_body(model: &str, req: &ChatRequest, stream: bool) -> Value {
    let messages: Vec<Value> = req
        .messages
        .iter()
        .map(|m| json!({ "role": m.role.as_str(), "content": m.content }))
        .collect();
    let mut body = Map::new();
    body.insert("model".into(), json!(model));
    body.insert("messages".into(), Value::Array(messages));
    let reasoning = is_reasoning_model(model);
    let max_key = if reasoning {
        "max_completion_tokens"
    } else {
        "max_tokens"
    };
    body.insert(max_key.into(), json!(req.max_tokens));
    if let Some(t) = req.temperature.filter(|_| !reasoning) {
        body.insert("temperature".into(), json_number(t));
    }
    body.insert("stream".into(), json!(stream));
    if stream {
        body.insert("stream_options".into(), json!({ "include_usage": true }));
    }
    Value::Object(body)
}

fn usage_of(v: &Value) -> Usage {
    Usage {
        prompt_tokens: v.get("prompt_tokens").and_then(Value::as_u64).unwrap_or(0),
        completion_tokens: v
            .get("completion_tokens")
            .and_then(Value::as_u64)
            .unwrap_or(0),
    }
}

fn model_of(v: &Value) -> Option<String> {
    v.get("model")
        .and_then(Value::as_str)
        .filter(|m| !m.is_empty())
        .map(str::to_string)
}

/// Parses a whole (non-streamed) reply.
pub(crate) fn parse_reply(body: &str) -> Result<Reply, LlmError> {
    let v = parse_json(body)?;
    if let Some(err) = v.get("error").filter(|e| !e.is_null()) {
        return Err(LlmError::Protocol(provider_error(err)));
    }
    let message = v.pointer("/choices/0/message").ok_or_else(|| {
        LlmError::Protocol(format!(
            "no choices[0].message in the reply: {}",
            crate::error::excerpt(body)
        ))
    })?;
    let text = match message.get("content") {
        Some(Value::String(s)) => s.clone(),
        _ => {
            let why = match message.get("refusal").and_then(Value::as_str) {
                Some(refusal) => format!("the model refused: {refusal}"),
                None => format!(
                    "no text in choices[0].message.content: {}",
                    crate::error::excerpt(body)
                ),
            };
            return Err(LlmError::Protocol(why));
        }
    };
    Ok(Reply {
        text,
        usage: v.get("usage").map(usage_of).unwrap_or_default(),
        model: model_of(&v),
    })
}

/// Reads a streamed reply to its end.
pub(crate) fn read_stream(input: impl BufRead) -> Result<Reply, Failure> {
    let mut events = EventReader::new(input);
    let mut reply = Reply::default();
    let (mut done, mut finished) = (false, false);
    while let Some(event) = events.next_event().map_err(Failure::io)? {
        let data = event.data.trim();
        if data == "[DONE]" {
            done = true;
            break;
        }
        let v = parse_json(data).map_err(Failure::fatal)?;
        if let Some(err) = v.get("error").filter(|e| !e.is_null()) {
            return Err(Failure::fatal(LlmError::Protocol(provider_error(err))));
        }
        if reply.model.is_none() {
            reply.model = model_of(&v);
        }
        if let Some(usage) = v.get("usage").filter(|u| u.is_object()) {
            reply.usage = usage_of(usage);
        }
        if let Some(choice) = v.pointer("/choices/0") {
            if let Some(piece) = choice.pointer("/delta/content").and_then(Value::as_str) {
                reply.text.push_str(piece);
            }
            finished |= choice.get("finish_reason").is_some_and(|r| !r.is_null());
        }
    }
    if !done && !finished {
        return Err(Failure::retryable(LlmError::Transport(
            "the event stream ended before `data: [DONE]`".into(),
        )));
    }
    Ok(reply)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Message;

    #[test]
    fn body_has_explicit_max_tokens_and_stream_options() {
        let mut req = ChatRequest::new(vec![Message::system("be brief"), Message::user("hi")], 77);
        req.temperature = Some(0.7);
        let body = request_body("gpt-4o-mini", &req, true);
        assert_eq!(
            body,
            json!({
                "model": "gpt-4o-mini",
                "messages": [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hi"}],
                "max_tokens": 77,
                "temperature": 0.7,
                "stream": true,
                "stream_options": {"include_usage": true}
            })
        );
        let plain = request_body("m", &ChatRequest::new(vec![Message::user("x")], 5), false);
        assert_eq!(plain["stream"], json!(false));
        assert!(plain.get("temperature").is_none() && plain.get("stream_options").is_none());
    }

    #[test]
    fn reasoning_models_get_max_completion_tokens_and_no_temperature() {
        let mut req = ChatRequest::new(vec![Message::user("x")], 5);
        req.temperature = Some(0.2);
        let body = request_body("o3-mini", &req, false);
        assert_eq!(body["max_completion_tokens"], json!(5));
        assert!(body.get("max_tokens").is_none() && body.get("temperature").is_none());
    }

    #[test]
    fn parses_a_json_reply() {
        let r = parse_reply(
            r#"{"model":"gpt-4o-mini-2024","choices":[{"message":{"role":"assistant","content":"hello"}}],
                "usage":{"prompt_tokens":12,"completion_tokens":3,"total_tokens":15}}"#,
        )
        .unwrap();
        assert_eq!(r.text, "hello");
        assert_eq!(
            r.usage,
            Usage {
                prompt_tokens: 12,
                completion_tokens: 3
            }
        );
        assert_eq!(r.model.as_deref(), Some("gpt-4o-mini-2024"));
    }

    #[test]
    fn missing_usage_counts_as_zero() {
        let r = parse_reply(r#"{"choices":[{"message":{"content":"x"}}]}"#).unwrap();
        assert_eq!(r.usage, Usage::default());
    }

    #[test]
    fn garbage_and_missing_fields_are_protocol_errors() {
        for body in [
            "<html>bad gateway</html>",
            "{}",
            r#"{"choices":[]}"#,
            r#"{"choices":[{"message":{"content":null}}]}"#,
            r#"{"error":{"message":"quota","type":"insufficient_quota"}}"#,
        ] {
            assert!(
                matches!(parse_reply(body), Err(LlmError::Protocol(_))),
                "{body}"
            );
        }
        let Err(LlmError::Protocol(msg)) = parse_reply("<html>bad gateway</html>") else {
            panic!()
        };
        assert!(msg.contains("bad gateway"), "{msg}");
    }

    #[test]
    fn reads_a_stream_with_usage_chunk() {
        let stream = "data: {\"model\":\"m1\",\"choices\":[{\"delta\":{\"role\":\"assistant\",\"content\":\"\"}}]}\n\n\
                      data: {\"choices\":[{\"delta\":{\"content\":\"Hel\"}}]}\n\n\
                      : keep-alive\n\n\
                      data: {\"choices\":[{\"delta\":{\"content\":\"lo\"},\"finish_reason\":null}]}\n\n\
                      data: {\"choices\":[{\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n\
                      data: {\"choices\":[],\"usage\":{\"prompt_tokens\":9,\"completion_tokens\":2}}\n\n\
                      data: [DONE]\n\n";
        let r = read_stream(stream.as_bytes()).unwrap();
        assert_eq!(r.text, "Hello");
        assert_eq!(
            r.usage,
            Usage {
                prompt_tokens: 9,
                completion_tokens: 2
            }
        );
        assert_eq!(r.model.as_deref(), Some("m1"));
    }

    #[test]
    fn a_cut_stream_is_a_retryable_transport_failure() {
        let f =
            read_stream("data: {\"choices\":[{\"delta\":{\"content\":\"Hel\"}}]}\n\n".as_bytes())
                .unwrap_err();
        assert!(f.retryable);
        assert!(matches!(f.error, LlmError::Transport(_)));
    }

    #[test]
    fn a_garbage_chunk_is_a_protocol_failure() {
        let f = read_stream("data: {not json\n\n".as_bytes()).unwrap_err();
        assert!(!f.retryable);
        assert!(matches!(f.error, LlmError::Protocol(_)));
    }
}
