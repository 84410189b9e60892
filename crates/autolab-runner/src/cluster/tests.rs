use super::*;

#[test]
fn slurm_states_map_to_exits() {
    use slurm::status;
    assert_eq!(
        status("COMPLETED", Some((0, 0))),
        JobStatus::Done(Exit::Code(0))
    );
    assert_eq!(
        status("FAILED", Some((3, 0))),
        JobStatus::Done(Exit::Code(3))
    );
    assert_eq!(
        status("FAILED", Some((0, 9))),
        JobStatus::Done(Exit::Signal(9))
    );
    assert_eq!(
        status("OUT_OF_MEMORY", Some((0, 0))),
        JobStatus::Done(Exit::Code(1))
    );
    assert_eq!(status("TIMEOUT", None), JobStatus::Done(Exit::TimedOut));
    assert_eq!(status("CANCELLED by 0", None), JobStatus::Cancelled);
    assert_eq!(
        status("NODE_FAIL", None),
        JobStatus::NodeFailure("NODE_FAIL".into())
    );
    assert_eq!(
        status("PREEMPTED", None),
        JobStatus::NodeFailure("PREEMPTED".into())
    );
    assert_eq!(status("PENDING", None), JobStatus::Pending);
    assert_eq!(status("RUNNING", None), JobStatus::Running);
    assert_eq!(status("SUSPENDED", None), JobStatus::Suspended);
}

#[test]
fn lsf_states_map_to_exits() {
    use lsf::status;
    assert_eq!(status("DONE", "-"), JobStatus::Done(Exit::Code(0)));
    assert_eq!(status("EXIT", "3"), JobStatus::Done(Exit::Code(3)));
    assert_eq!(status("EXIT", "-"), JobStatus::Done(Exit::Code(1)));
    assert_eq!(status("PSUSP", "-"), JobStatus::Pending);
    assert_eq!(status("USUSP", "-"), JobStatus::Suspended);
    assert_eq!(status("RUN", "-"), JobStatus::Running);
    assert_eq!(status("PEND", "-"), JobStatus::Pending);
}

#[test]
fn submission_output_is_parsed() {
    assert_eq!(slurm::Slurm.parse_submit("42\n"), Some("42".into()));
    assert_eq!(slurm::Slurm.parse_submit("42;ci\n"), Some("42".into()));
    assert_eq!(slurm::Slurm.parse_submit("sbatch: error\n"), None);
    assert_eq!(
        lsf::Lsf.parse_submit("Job <123> is submitted to queue <normal>.\n"),
        Some("123".into())
    );
    assert_eq!(lsf::Lsf.parse_submit("Request aborted\n"), None);
}

#[test]
fn quoting_and_templates() {
    assert_eq!(shell_quote("abc"), "abc");
    assert_eq!(shell_quote("it's"), "'it'\\''s'");
    assert_eq!(shell_quote(""), "''");
    assert_eq!(
        render(
            "a {x} ${HOME} {y}",
            &[("x", "{y}".into()), ("y", "2".into())]
        ),
        "a {y} ${HOME} 2"
    );
    assert_eq!(minutes_ceil(Duration::from_secs(3)), 1);
    assert_eq!(minutes_ceil(Duration::from_secs(60)), 1);
    assert_eq!(minutes_ceil(Duration::from_millis(60_001)), 2);
    assert!(valid_env_name("AUTOLAB_X1") && !valid_env_name("1X") && !valid_env_name("A-B"));
}

#[test]
fn caps_logs_keeping_head_and_tail() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("log");
    let body: String = (0..1000).map(|i| format!("{i:04}\n")).collect();
    std::fs::write(&p, &body).unwrap();
    assert!(cap_log(&p, 100).unwrap());
    let text = std::fs::read_to_string(&p).unwrap();
    assert!(text.starts_with("0000\n"), "{text}");
    assert!(text.ends_with("0999\n"), "{text}");
    assert!(text.contains("bytes of output omitted"));
    assert!(!cap_log(&p, 1 << 20).unwrap());
}
