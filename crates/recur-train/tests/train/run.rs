use std::time::{Duration, UNIX_EPOCH};

use recur_train::{RunDir, utc_timestamp};
use serde::{Deserialize, Serialize};

use crate::common::{message, scratch};

#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct Config {
    lr: f64,
    hidden: usize,
}

#[test]
fn timestamps_are_utc() {
    assert_eq!(utc_timestamp(UNIX_EPOCH), "19700101-000000");
    // 2000-02-29 12:34:56 UTC (a leap day)
    let t = UNIX_EPOCH + Duration::from_secs(951_827_696);
    assert_eq!(utc_timestamp(t), "20000229-123456");
    // 2026-11-27 16:31:00 UTC
    let t = UNIX_EPOCH + Duration::from_secs(1_795_797_060);
    assert_eq!(utc_timestamp(t), "20261127-163100");
    // 2100-03-01 00:00:00 (2100 is not a leap year)
    let t = UNIX_EPOCH + Duration::from_secs(4_107_542_400);
    assert_eq!(utc_timestamp(t), "21000301-000000");
}

#[test]
fn create_write_config_and_reopen() {
    let root = scratch("run-create");
    let run = RunDir::create(&root, "charlm").unwrap();
    let parent = root.join("runs").join("charlm");
    assert_eq!(run.path().parent().unwrap(), parent);
    let name = run
        .path()
        .file_name()
        .unwrap()
        .to_str()
        .unwrap()
        .to_string();
    assert_eq!(name.len(), 15, "{name}");
    assert_eq!(&name[8..9], "-");
    assert!(
        name.chars()
            .filter(|c| *c != '-')
            .all(|c| c.is_ascii_digit())
    );
    for dir in [run.checkpoints(), run.plots(), run.samples()] {
        assert!(dir.is_dir(), "{}", dir.display());
    }
    assert_eq!(run.metrics(), run.path().join("metrics.csv"));

    // not a run yet: no config.json
    let err = message(RunDir::open(run.path(), "charlm"));
    assert!(err.contains("not a run folder"), "{err}");

    let config = Config {
        lr: 0.002,
        hidden: 128,
    };
    run.write_config(&config).unwrap();
    let reopened = RunDir::open(run.path(), "charlm").unwrap();
    assert_eq!(reopened, run);
    assert_eq!(reopened.read_config::<Config>().unwrap(), config);
    let text = std::fs::read_to_string(run.config()).unwrap();
    assert!(
        text.starts_with("{\n  \"system\": \"charlm\",\n  \"lr\": 0.002,\n  \"hidden\": 128"),
        "the system first, then the fields in order: {text}"
    );

    // Another system's run is refused, naming both.
    let err = message(RunDir::open(run.path(), "translate"));
    assert!(err.ends_with("a run of charlm, not of translate"), "{err}");
}

#[test]
fn same_second_gets_a_suffix() {
    let root = scratch("run-suffix");
    let runs: Vec<RunDir> = (0..3)
        .map(|_| RunDir::create(&root, "ntm").unwrap())
        .collect();
    let mut paths: Vec<_> = runs.iter().map(|r| r.path().to_path_buf()).collect();
    paths.dedup();
    assert_eq!(paths.len(), 3);
    let names: Vec<String> = paths
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    // unless the clock ticked in between, the later ones carry -1, -2
    if names[0] == names[1][..15] && names[1].len() > 15 {
        assert_eq!(&names[1][15..], "-1");
    }
}
