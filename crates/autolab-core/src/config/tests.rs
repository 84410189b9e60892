use std::path::Path;

use super::*;

const GOOD: &str = r#"
[task]
goal = "Lower the loss."
command = "python3 train.py"
editable = ["train.py", "params.json"]
protected = ["prepare.py"]
timeout = "2m"

[metrics]
sources = [{ kind = "lines" }, { kind = "json", file = "final_info.json", pointer = "/*/means" }]
score = { val_loss = { weight = 1.0, goal = "minimize" }, acc = { goal = "maximize" } }

[params]
apply = { json = "params.json" }
lr = { log_float = [1e-4, 1.0], default = 0.05 }
hidden = { int = [4, 128], default = 16 }
activation = { choice = ["tanh", "relu"], default = "tanh" }

[runner]
kind = "local"
parallel = 2
"#;

fn parse(text: &str) -> Result<Config, ConfigError> {
    Config::parse(Path::new("autolab.toml"), text)
}

#[test]
fn parses_the_design_example() {
    let c = parse(GOOD).unwrap();
    assert_eq!(c.task.timeout, Duration::from_secs(120));
    assert_eq!(c.metrics.primary, "val_loss");
    assert_eq!(c.score_goal(), Goal::Maximize);
    assert_eq!(c.runner.parallel, 2);
    let p = c.params.unwrap();
    assert_eq!(p.apply, Apply::Json("params.json".into()));
    assert_eq!(p.space.len(), 3);
    assert_eq!(p.space[0].name, "lr");
    assert_eq!(p.space[1].kind, ParamKind::Int { low: 4, high: 128 });
}

#[test]
fn unknown_key_names_line_and_suggests() {
    let text = "[task]\ncomand = \"x\"\n";
    let e = parse(text).unwrap_err();
    assert_eq!(e.line, Some(2));
    assert_eq!(e.message, "unknown key `comand`");
    assert!(
        e.hint
            .as_deref()
            .unwrap()
            .contains("did you mean `command`"),
        "{e:?}"
    );
}

#[test]
fn wrong_type_names_line_and_key() {
    let text = "[task]\ncommand = \"x\"\n[metrics]\nscore = { l = { goal = \"minimize\" } }\n[runner]\nparallel = \"two\"\n";
    let e = parse(text).unwrap_err();
    assert_eq!(e.line, Some(6), "{e:?}");
    assert_eq!(e.key.as_deref(), Some("parallel"));
}

#[test]
fn invalid_toml_names_line() {
    let e = parse("[task\ncommand = 1").unwrap_err();
    assert_eq!(e.line, Some(1), "{e:?}");
}

#[test]
fn validation_errors_locate_their_key() {
    let text = "[task]\ncommand = \"x\"\n\n[metrics]\nscore = { l = { goal = \"minimize\" } }\nprimary = \"acc\"\n";
    let e = parse(text).unwrap_err();
    assert_eq!(e.line, Some(6));
    assert_eq!(e.key.as_deref(), Some("metrics.primary"));
    assert!(e.hint.unwrap().contains("l"));
}

#[test]
fn missing_score_is_an_error_with_hint() {
    let e = parse("[task]\ncommand = \"x\"\n").unwrap_err();
    assert!(e.message.contains("no scored metric"));
    assert!(e.hint.is_some());
}

#[test]
fn bad_param_range_is_an_error() {
    let text = "[task]\ncommand = \"x\"\n[metrics]\nscore = { l = { goal = \"minimize\" } }\n[params]\napply = { json = \"p.json\" }\nlr = { log_float = [0.0, 1.0] }\n";
    let e = parse(text).unwrap_err();
    assert_eq!(e.line, Some(7), "{e:?}");
}
