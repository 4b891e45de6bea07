use std::time::Duration;

use recur_train::{
    LineParts, Progress, check_finite, format_bar, format_count, format_duration, format_line,
};

use crate::common::message;

#[test]
fn counts_durations_and_bars() {
    assert_eq!(format_count(0), "0");
    assert_eq!(format_count(999), "999");
    assert_eq!(format_count(2345), "2,345");
    assert_eq!(format_count(1_234_567), "1,234,567");
    assert_eq!(format_duration(Duration::from_secs(42)), "42s");
    assert_eq!(format_duration(Duration::from_secs(62)), "1m02s");
    assert_eq!(format_duration(Duration::from_millis(61_600)), "1m02s");
    assert_eq!(
        format_duration(Duration::from_secs(3 * 3600 + 4 * 60 + 5)),
        "3h04m05s"
    );
    assert_eq!(format_bar(0, 10, 5), "[.....]");
    assert_eq!(format_bar(7, 12, 12), "[#######.....]");
    assert_eq!(format_bar(20, 10, 4), "[####]");
    assert_eq!(format_bar(0, 0, 3), "[###]");
}

#[test]
fn whole_line() {
    let line = format_line(&LineParts {
        epoch: Some((3, 10)),
        done: 1234,
        total: 5000,
        loss: Some(1.2344),
        rate: 2345.4,
        unit: "tok/s",
        eta: Some(Duration::from_secs(62)),
        bar_width: 12,
    });
    assert_eq!(
        line,
        "epoch 3/10 [##..........] 1234/5000 loss 1.234 2,345 tok/s eta 1m02s"
    );
    let line = format_line(&LineParts {
        epoch: None,
        done: 5,
        total: 5,
        loss: None,
        rate: 12.0,
        unit: "seq/s",
        eta: None,
        bar_width: 4,
    });
    assert_eq!(line, "[####] 5/5 12 seq/s");
}

#[test]
fn progress_tracks_steps() {
    let mut p = Progress::new(4, "seq/s")
        .with_epoch(1, 2)
        .with_every_percent(50);
    p.update(2, 64, Some(0.5));
    let line = p.line(std::time::Instant::now());
    assert!(
        line.starts_with("epoch 1/2 [###############...............] 2/4 loss 0.500 "),
        "{line}"
    );
    assert!(line.contains(" seq/s eta "), "{line}");
    p.update(2, 64, None);
    let line = p.line(std::time::Instant::now());
    assert!(
        line.contains("4/4 loss 0.500") && !line.contains("eta"),
        "{line}"
    );
    p.finish();
}

#[test]
fn non_finite_loss_is_an_error() {
    assert_eq!(check_finite("loss", 0.25, 1, 2).unwrap(), 0.25);
    let err = message(check_finite("valid loss", f64::INFINITY, 4, 900));
    assert_eq!(err, "non-finite valid loss (inf) at epoch 4, step 900");
    assert!(check_finite("loss", f64::NAN, 0, 0).is_err());
}
