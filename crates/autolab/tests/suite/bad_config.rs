//! Bad lab setups: a clear message, exit code 2, nothing written.

use super::common::*;

#[test]
fn no_config_says_so_and_suggests_init() {
    let lab = TestLab::new();
    lab.write("x", "x");
    lab.commit("x");
    let out = lab.autolab(&["run", "--tag", "t"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("no autolab.toml"), "{err}");
    assert!(err.contains("autolab init"), "{err}");
    assert!(!lab.path().join(".autolab/ledger.db").exists());
}

#[test]
fn invalid_toml_names_file_and_line() {
    let lab = TestLab::new();
    lab.write(
        "autolab.toml",
        "[task]\ncommand = \"x\"\neditable = [\"a\"\n",
    );
    lab.commit("x");
    let out = lab.autolab(&["run", "--tag", "t"]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.contains("autolab.toml:3") || err.contains("autolab.toml:4"),
        "{err}"
    );
}

#[test]
fn unknown_key_suggests_the_right_one() {
    let lab = TestLab::new();
    lab.write("autolab.toml", "[task]\ncommand = \"x\"\ntimout = \"1m\"\n[metrics]\nscore = { l = { goal = \"minimize\" } }\n");
    lab.commit("x");
    let out = lab.autolab(&["run", "--tag", "t"]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.contains("autolab.toml:3"), "{err}");
    assert!(err.contains("unknown key `timout`"), "{err}");
    assert!(err.contains("did you mean `timeout`"), "{err}");
}

#[test]
fn wrong_type_names_the_key_and_line() {
    let lab = TestLab::new();
    lab.write("autolab.toml", "[task]\ncommand = \"x\"\n[metrics]\nscore = { l = { goal = \"minimize\" } }\n[runner]\nparallel = \"many\"\n");
    lab.commit("x");
    let out = lab.autolab(&["run", "--tag", "t"]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.contains("autolab.toml:6"), "{err}");
    assert!(err.contains("parallel"), "{err}");
}

#[test]
fn not_a_git_repository_is_refused_with_a_hint() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("autolab.toml"), "[task]\ncommand = \"x\"\n").unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_autolab"))
        .current_dir(dir.path())
        .args(["run", "--tag", "t"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.contains("not inside a git repository"), "{err}");
    assert!(err.contains("git init"), "{err}");
}

#[test]
fn init_writes_a_valid_config_and_ignores_state_without_touching_tracked_files() {
    let lab = TestLab::new();
    lab.write("train.py", "print('val_loss: 1.0')\n");
    lab.write("prepare.py", "");
    lab.write(
        "params.json",
        "{\"lr\": 0.01, \"hidden\": 16, \"name\": \"x\"}\n",
    );
    lab.write(".gitignore", "*.pyc\n");
    lab.commit("x");
    let out = lab.autolab(&["init"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let toml = lab.read("autolab.toml");
    assert!(toml.contains("command = \"python3 train.py\""), "{toml}");
    assert!(toml.contains("protected = [\"prepare.py\"]"), "{toml}");
    assert!(toml.contains("\"params.json\""), "{toml}");
    assert!(
        toml.contains("lr = { log_float = [1e-3, 1e-1], default = 1e-2 }"),
        "{toml}"
    );
    assert!(
        toml.contains("hidden = { int = [8, 32], default = 16 }"),
        "{toml}"
    );
    assert_eq!(lab.read(".gitignore"), "*.pyc\n");
    let exclude = lab.read(".git/info/exclude");
    assert!(
        exclude.contains(".autolab/") && exclude.contains("results.tsv"),
        "{exclude}"
    );
    // A second init refuses to overwrite.
    assert_eq!(lab.autolab(&["init"]).status.code(), Some(2));
    // And the written config passes doctor's config check.
    let doc = lab.autolab(&["doctor"]);
    assert!(stdout(&doc).contains("is valid"), "{}", stdout(&doc));
}

#[test]
fn doctor_reports_a_missing_program_with_its_fix() {
    let lab = TestLab::new();
    lab.write("autolab.toml", "[task]\ncommand = \"no-such-program-xyz --go\"\neditable = [\"a\"]\n[metrics]\nscore = { l = { goal = \"minimize\" } }\n");
    lab.write("a", "");
    lab.commit("x");
    let out = lab.autolab(&["doctor"]);
    assert_eq!(out.status.code(), Some(1));
    let text = stdout(&out);
    assert!(
        text.contains("FAIL  the command's program `no-such-program-xyz`"),
        "{text}"
    );
    assert!(
        text.contains("fix: install `no-such-program-xyz`"),
        "{text}"
    );
}

#[test]
fn a_param_the_params_file_does_not_have_is_refused_with_the_key_it_meant() {
    let lab = TestLab::new();
    lab.write(
        "train.py",
        "import json\np = json.load(open('params.json'))\nprint('val_loss:', 1 / p['steps'])\n",
    );
    lab.write("params.json", "{\"steps\": 3, \"lr\": 0.1}\n");
    lab.write(
        "autolab.toml",
        "[task]\ncommand = \"python3 train.py\"\neditable = [\"params.json\"]\n\
         [metrics]\nscore = { val_loss = { goal = \"minimize\" } }\n\
         [params]\napply = { json = \"params.json\" }\nlr = { float = [0.01, 1.0] }\nstepz = { int = [1, 9] }\n",
    );
    lab.commit("lab");
    let out = lab.autolab(&["run", "--tag", "t", "--max-experiments", "2"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("autolab.toml:"),
        "names the file and line: {err}"
    );
    assert!(err.contains("`stepz` is not a key of params.json"), "{err}");
    assert!(err.contains("did you mean `steps`"), "{err}");
    assert!(!lab.path().join(".autolab/worktrees").exists());
    let doctor = lab.autolab(&["doctor"]);
    assert!(!doctor.status.success());
    assert!(
        format!("{}{}", stdout(&doctor), stderr(&doctor)).contains("did you mean `steps`"),
        "{}",
        stdout(&doctor)
    );
}

#[test]
fn parallel_out_of_range_is_refused_alike_on_the_command_line_and_in_the_config() {
    let lab = TestLab::with_mode("better", "parallel = 1000\n");
    let out = lab.autolab(&["run", "--tag", "t"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("between 1 and 256"),
        "{}",
        stderr(&out)
    );
    let lab = TestLab::with_mode("better", "");
    for n in ["0", "1000"] {
        let out = lab.autolab(&["run", "--tag", "t", "--parallel", n]);
        assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
        assert!(
            stderr(&out).contains("between 1 and 256"),
            "{}",
            stderr(&out)
        );
    }
    assert!(!lab.path().join(".autolab/ledger.db").exists());
}
