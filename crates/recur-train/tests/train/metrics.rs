use recur_train::{MetricsLog, read_metrics};

use crate::common::{message, scratch};

const COLUMNS: [&str; 4] = ["epoch", "step", "train_loss", "valid_loss"];

#[test]
fn append_flush_and_read_back() {
    let dir = scratch("metrics-append");
    let path = dir.join("metrics.csv");
    let mut log = MetricsLog::open(&path, &COLUMNS).unwrap();
    log.append(&[1.0, 100.0, 2.5, 2.25]).unwrap();
    // flushed: visible before the log is dropped
    let text = std::fs::read_to_string(&path).unwrap();
    assert_eq!(text, "epoch,step,train_loss,valid_loss\n1,100,2.5,2.25\n");
    log.append(&[2.0, 200.0, 1.5, f64::NAN]).unwrap();
    let err = message(log.append(&[1.0]));
    assert!(
        err.contains("metrics.csv") && err.contains("1 values"),
        "{err}"
    );
    drop(log);

    let metrics = read_metrics(&path).unwrap();
    assert_eq!(metrics.columns, COLUMNS);
    assert_eq!(metrics.rows.len(), 2);
    assert_eq!(metrics.column("train_loss").unwrap(), vec![2.5, 1.5]);
    assert!(metrics.column("valid_loss").unwrap()[1].is_nan());
    assert_eq!(
        metrics.points("epoch", "train_loss").unwrap(),
        vec![(1.0, 2.5), (2.0, 1.5)]
    );
    assert!(metrics.column("bleu").is_none());
}

#[test]
fn reopen_keeps_rows_and_checks_header() {
    let dir = scratch("metrics-reopen");
    let path = dir.join("metrics.csv");
    let mut log = MetricsLog::open(&path, &COLUMNS).unwrap();
    log.append(&[1.0, 10.0, 3.0, 2.0]).unwrap();
    drop(log);
    let mut log = MetricsLog::open(&path, &COLUMNS).unwrap();
    log.append(&[2.0, 20.0, 2.0, 1.0]).unwrap();
    drop(log);
    assert_eq!(read_metrics(&path).unwrap().rows.len(), 2);

    let err = message(MetricsLog::open(&path, &["epoch", "loss"]));
    assert!(err.contains("metrics.csv"), "{err}");
    assert!(
        err.contains("header is `epoch,step,train_loss,valid_loss`, expected `epoch,loss`"),
        "{err}"
    );
}

#[test]
fn killed_mid_row_is_repaired() {
    let dir = scratch("metrics-half");
    let path = dir.join("metrics.csv");
    std::fs::write(&path, "epoch,loss\n1,2.5\n2,1.").unwrap();
    // reading skips the half row
    assert_eq!(read_metrics(&path).unwrap().rows, vec![vec![1.0, 2.5]]);
    // re-opening drops the half row so the next row is whole
    let mut log = MetricsLog::open(&path, &["epoch", "loss"]).unwrap();
    log.append(&[3.0, 1.0]).unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    assert_eq!(text, "epoch,loss\n1,2.5\n3,1\n");
    // a header without its newline is ended
    std::fs::write(&path, "epoch,loss").unwrap();
    let mut log = MetricsLog::open(&path, &["epoch", "loss"]).unwrap();
    log.append(&[1.0, 2.0]).unwrap();
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "epoch,loss\n1,2\n");
}

#[test]
fn bad_lines_name_file_and_line() {
    let dir = scratch("metrics-bad");
    let path = dir.join("m.csv");
    std::fs::write(&path, "epoch,loss\n1,2\n2,x\n3,1\n").unwrap();
    let err = message(read_metrics(&path));
    assert!(err.contains("m.csv:3: not a number: `x`"), "{err}");
    std::fs::write(&path, "epoch,loss\n1,2,3\n").unwrap();
    let err = message(read_metrics(&path));
    assert!(
        err.contains("m.csv:2: 3 values, header has 2 columns"),
        "{err}"
    );
    std::fs::write(&path, "").unwrap();
    assert!(message(read_metrics(&path)).contains("m.csv:1: no header"));
    let err = message(read_metrics(dir.join("missing.csv")));
    assert!(err.contains("missing.csv"), "{err}");
}
