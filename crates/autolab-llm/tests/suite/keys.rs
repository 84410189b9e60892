use std::process::Command;

use autolab_llm::fake::{FakeReply, FakeServer};
use autolab_llm::{LlmError, Provider, ProviderConfig};

use super::{ask, cfg};

const UNSET_VAR: &str = "AUTOLAB_LLM_TEST_KEY_THAT_IS_NEVER_SET";

#[test]
fn missing_key_names_the_variable() {
    for provider in [Provider::OpenAi, Provider::Anthropic] {
        let mut cfg = ProviderConfig::new(provider, "m");
        cfg.api_key_env = Some(UNSET_VAR.into());
        let err = autolab_llm::client(&cfg).err().unwrap();
        assert!(
            matches!(err, LlmError::MissingKey { ref var } if var == UNSET_VAR),
            "{err:?}"
        );
        assert!(err.to_string().contains(UNSET_VAR), "{err}");
    }
}

#[test]
fn missing_default_key_names_the_provider_variable() {
    for (provider, var) in [
        (Provider::OpenAi, "OPENAI_API_KEY"),
        (Provider::Anthropic, "ANTHROPIC_API_KEY"),
    ] {
        if std::env::var_os(var).is_some() {
            continue; // a real key on this machine: nothing to check
        }
        let err = autolab_llm::client(&ProviderConfig::new(provider, "m"))
            .err()
            .unwrap();
        assert!(
            matches!(err, LlmError::MissingKey { var: ref v } if v == var),
            "{err:?}"
        );
    }
}

#[test]
fn a_local_openai_compatible_server_needs_no_key() {
    let server = FakeServer::start(vec![FakeReply::openai("local")]);
    for url in [server.url(), server.url().replace("127.0.0.1", "localhost")] {
        let cfg = cfg(Provider::OpenAi, "qwen2.5-coder:7b", &format!("{url}/v1"));
        assert!(autolab_llm::client(&cfg).is_ok(), "{url}");
    }
    let local = server.url().replace("127.0.0.1", "localhost");
    let cfg = cfg(Provider::OpenAi, "qwen2.5-coder:7b", &local);
    let reply = autolab_llm::client(&cfg)
        .unwrap()
        .complete(&ask("hi"))
        .unwrap();
    assert_eq!(reply.text, "local");
    assert_eq!(reply.cost_usd, 0.0, "unknown local models cost nothing");
    assert_eq!(server.requests()[0].header("authorization"), None);
}

#[test]
fn a_local_server_with_an_explicit_key_variable_still_needs_it() {
    let server = FakeServer::start(vec![]);
    let mut cfg = cfg(Provider::OpenAi, "m", &server.url());
    cfg.api_key_env = Some(UNSET_VAR.into());
    assert!(matches!(
        autolab_llm::client(&cfg),
        Err(LlmError::MissingKey { .. })
    ));
}

const CHILD_URL: &str = "AUTOLAB_LLM_TEST_CHILD_URL";
const CHILD_KEY: &str = "AUTOLAB_LLM_TEST_CHILD_KEY";

/// Setting an environment variable in a multi-threaded test process is unsound, so this
/// test runs itself again as a child process with the key in the child's environment.
#[test]
fn the_key_is_read_from_the_configured_variable() {
    if let Ok(url) = std::env::var(CHILD_URL) {
        let mut cfg = cfg(Provider::OpenAi, "m", &url);
        cfg.api_key_env = Some(CHILD_KEY.into());
        autolab_llm::client(&cfg)
            .unwrap()
            .complete(&ask("hi"))
            .unwrap();
        return;
    }
    let server = FakeServer::start(vec![FakeReply::openai("ok")]);
    let status = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "suite::keys::the_key_is_read_from_the_configured_variable",
        ])
        .args(["--test-threads=1", "--quiet"])
        .env(CHILD_URL, server.url())
        .env(CHILD_KEY, "  sk-from-the-environment\n")
        .stdout(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
    let requests = server.requests();
    assert_eq!(requests.len(), 1, "the child ran the test");
    assert_eq!(
        requests[0].header("authorization"),
        Some("Bearer sk-from-the-environment")
    );
}
