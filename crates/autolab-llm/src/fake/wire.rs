//! The fake server's HTTP/1.1: reading one request, writing one reply.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::TcpStream;

use serde_json::{Value, json};

use super::{FakeReply, Recorded};

/// Bodies larger than this are refused (the connection is dropped).
const MAX_BODY: usize = 64 << 20;

fn invalid(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what.to_string())
}

fn read_line(input: &mut impl BufRead) -> io::Result<String> {
    let mut line = String::new();
    if input.read_line(&mut line)? == 0 {
        return Err(io::ErrorKind::UnexpectedEof.into());
    }
    Ok(line.trim_end_matches(['\r', '\n']).to_string())
}

pub(super) fn read_request(stream: &mut TcpStream) -> io::Result<Recorded> {
    let mut input = BufReader::new(stream);
    let request_line = read_line(&mut input)?;
    let mut parts = request_line.split_whitespace();
    let (Some(method), Some(path)) = (parts.next(), parts.next()) else {
        return Err(invalid("bad request line"));
    };
    let (method, path) = (method.to_string(), path.to_string());
    let mut headers = Vec::new();
    loop {
        let line = read_line(&mut input)?;
        if line.is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            headers.push((name.trim().to_string(), value.trim().to_string()));
        }
    }
    let header = |name: &str| {
        headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    };
    let chunked = header("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked"));
    let body = if chunked {
        read_chunked(&mut input)?
    } else {
        let len: usize = header("content-length")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        if len > MAX_BODY {
            return Err(invalid("body too large"));
        }
        let mut body = vec![0; len];
        input.read_exact(&mut body)?;
        body
    };
    let body = String::from_utf8_lossy(&body).into_owned();
    Ok(Recorded {
        method,
        path,
        headers,
        body,
    })
}

fn read_chunked(input: &mut impl BufRead) -> io::Result<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        let size_line = read_line(input)?;
        let size_hex = size_line.split(';').next().unwrap_or_default().trim();
        let size = usize::from_str_radix(size_hex, 16).map_err(|_| invalid("bad chunk size"))?;
        if size == 0 {
            while !read_line(input)?.is_empty() {} // trailers
            return Ok(body);
        }
        if body.len() + size > MAX_BODY {
            return Err(invalid("body too large"));
        }
        let start = body.len();
        body.resize(start + size, 0);
        input.read_exact(&mut body[start..])?;
        read_line(input)?; // the CRLF after the chunk
    }
}

fn reason(code: u16) -> &'static str {
    match code {
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        408 => "Request Timeout",
        413 => "Payload Too Large",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        529 => "Overloaded",
        _ => "Status",
    }
}

fn write_whole(
    out: &mut impl Write,
    status: u16,
    content_type: &str,
    extra: &str,
    body: &str,
) -> io::Result<()> {
    write!(
        out,
        "HTTP/1.1 {status} {}\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\n{extra}connection: close\r\n\r\n{body}",
        reason(status),
        body.len()
    )?;
    out.flush()
}

/// Sends `events` (each a complete SSE event, blank line included) as one chunk each.
fn write_events(out: &mut impl Write, events: &[String]) -> io::Result<()> {
    write!(
        out,
        "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncache-control: no-cache\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n"
    )?;
    out.flush()?;
    for event in events {
        write!(out, "{:x}\r\n{event}\r\n", event.len())?;
        out.flush()?;
    }
    write!(out, "0\r\n\r\n")?;
    out.flush()
}

fn data(v: &Value) -> String {
    format!("data: {v}\n\n")
}

fn named(name: &str, v: &Value) -> String {
    format!("event: {name}\ndata: {v}\n\n")
}

pub(super) fn write_reply(
    out: &mut impl Write,
    reply: &FakeReply,
    request: &Recorded,
) -> io::Result<()> {
    let model = request
        .json()
        .and_then(|v| v.get("model").and_then(Value::as_str).map(str::to_string))
        .unwrap_or_else(|| "fake-model".to_string());
    match reply {
        FakeReply::OpenAi {
            text,
            prompt_tokens: p,
            completion_tokens: c,
        } => {
            let body = json!({
                "id": "chatcmpl-fake",
                "object": "chat.completion",
                "created": 0,
                "model": model,
                "choices": [{
                    "index": 0,
                    "message": {"role": "assistant", "content": text},
                    "finish_reason": "stop"
                }],
                "usage": {"prompt_tokens": p, "completion_tokens": c, "total_tokens": p + c}
            });
            write_whole(out, 200, "application/json", "", &body.to_string())
        }
        FakeReply::OpenAiSse {
            chunks,
            prompt_tokens: p,
            completion_tokens: c,
        } => {
            let chunk = |delta: Value, finish: Value| {
                data(&json!({
                    "id": "chatcmpl-fake",
                    "object": "chat.completion.chunk",
                    "created": 0,
                    "model": model,
                    "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]
                }))
            };
            let mut events = vec![chunk(
                json!({"role": "assistant", "content": ""}),
                Value::Null,
            )];
            events.extend(
                chunks
                    .iter()
                    .map(|t| chunk(json!({ "content": t }), Value::Null)),
            );
            events.push(chunk(json!({}), json!("stop")));
            events.push(data(&json!({
                "id": "chatcmpl-fake",
                "object": "chat.completion.chunk",
                "created": 0,
                "model": model,
                "choices": [],
                "usage": {"prompt_tokens": p, "completion_tokens": c, "total_tokens": p + c}
            })));
            events.push("data: [DONE]\n\n".to_string());
            write_events(out, &events)
        }
        FakeReply::Anthropic {
            text,
            input_tokens,
            output_tokens,
        } => {
            let body = json!({
                "id": "msg_fake",
                "type": "message",
                "role": "assistant",
                "model": model,
                "content": [{"type": "text", "text": text}],
                "stop_reason": "end_turn",
                "stop_sequence": null,
                "usage": {"input_tokens": input_tokens, "output_tokens": output_tokens}
            });
            write_whole(out, 200, "application/json", "", &body.to_string())
        }
        FakeReply::AnthropicSse {
            chunks,
            input_tokens,
            output_tokens,
        } => {
            let mut events = vec![
                named(
                    "message_start",
                    &json!({"type": "message_start", "message": {
                        "id": "msg_fake", "type": "message", "role": "assistant", "model": model,
                        "content": [], "stop_reason": null, "stop_sequence": null,
                        "usage": {"input_tokens": input_tokens, "output_tokens": 1}
                    }}),
                ),
                named(
                    "content_block_start",
                    &json!({"type": "content_block_start", "index": 0,
                            "content_block": {"type": "text", "text": ""}}),
                ),
                named("ping", &json!({"type": "ping"})),
            ];
            events.extend(chunks.iter().map(|t| {
                named(
                    "content_block_delta",
                    &json!({"type": "content_block_delta", "index": 0,
                            "delta": {"type": "text_delta", "text": t}}),
                )
            }));
            events.push(named(
                "content_block_stop",
                &json!({"type": "content_block_stop", "index": 0}),
            ));
            events.push(named(
                "message_delta",
                &json!({"type": "message_delta",
                        "delta": {"stop_reason": "end_turn", "stop_sequence": null},
                        "usage": {"output_tokens": output_tokens}}),
            ));
            events.push(named("message_stop", &json!({"type": "message_stop"})));
            write_events(out, &events)
        }
        FakeReply::Status {
            code,
            retry_after,
            body,
        } => {
            let content_type = if body.trim_start().starts_with('{') {
                "application/json"
            } else {
                "text/plain; charset=utf-8"
            };
            let extra = retry_after
                .map(|s| format!("retry-after: {s}\r\n"))
                .unwrap_or_default();
            write_whole(out, *code, content_type, &extra, body)
        }
        FakeReply::Raw {
            status,
            content_type,
            body,
        } => write_whole(out, *status, content_type, "", body),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunked_bodies_are_decoded() {
        let mut input = "4\r\nWiki\r\n5;ext=1\r\npedia\r\n0\r\n\r\n".as_bytes();
        assert_eq!(read_chunked(&mut input).unwrap(), b"Wikipedia");
    }

    #[test]
    fn status_replies_carry_retry_after() {
        let mut out = Vec::new();
        let reply = FakeReply::Status {
            code: 429,
            retry_after: Some(3),
            body: "{}".into(),
        };
        let request = Recorded {
            method: "POST".into(),
            path: "/".into(),
            headers: vec![],
            body: String::new(),
        };
        write_reply(&mut out, &reply, &request).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(
            text.starts_with("HTTP/1.1 429 Too Many Requests\r\n"),
            "{text}"
        );
        assert!(text.contains("retry-after: 3\r\n") && text.contains("application/json"));
    }
}
