//! The task generators lay out questions and answers as the paper does.

use recur_data::SplitMix64;
use recur_ntm::{Batch, Task, TaskConfig};

fn step(batch: &Batch, b: usize, t: usize) -> &[f32] {
    let at = (b * batch.time + t) * batch.input_size;
    &batch.input[at..at + batch.input_size]
}

fn answer(batch: &Batch, b: usize, t: usize) -> &[f32] {
    let at = (b * batch.output_steps + t) * batch.output_size;
    &batch.target[at..at + batch.output_size]
}

#[test]
fn copy_is_sequence_delimiter_then_silence() {
    let task = TaskConfig::paper(Task::Copy);
    let batch = task.generate(3, 5, 1, &mut SplitMix64::new(1)).unwrap();
    assert_eq!((batch.time, batch.output_steps), (11, 5));
    assert_eq!((batch.input_size, batch.output_size), (9, 8));
    for b in 0..3 {
        for t in 0..5 {
            assert_eq!(&step(&batch, b, t)[..8], answer(&batch, b, t));
            assert_eq!(step(&batch, b, t)[8], 0.0);
        }
        assert_eq!(step(&batch, b, 5), &[0., 0., 0., 0., 0., 0., 0., 0., 1.]);
        assert!((6..11).all(|t| step(&batch, b, t).iter().all(|v| *v == 0.0)));
    }
    assert!(batch.input.iter().filter(|v| **v == 1.0).count() > 3 * 5);
}

#[test]
fn repeat_copy_repeats_and_marks_the_end() {
    let task = TaskConfig::paper(Task::RepeatCopy);
    let batch = task.generate(2, 3, 4, &mut SplitMix64::new(2)).unwrap();
    assert_eq!((batch.time, batch.output_steps), (3 + 2 + 12 + 1, 13));
    for b in 0..2 {
        for r in 0..4 {
            for t in 0..3 {
                assert_eq!(&step(&batch, b, t)[..8], &answer(&batch, b, r * 3 + t)[..8]);
                assert_eq!(answer(&batch, b, r * 3 + t)[8], 0.0);
            }
        }
        assert_eq!(step(&batch, b, 3)[8], 1.0, "delimiter");
        assert_eq!(step(&batch, b, 4)[9], 0.4, "repeats / max_repeats");
        assert_eq!(answer(&batch, b, 12), &[0., 0., 0., 0., 0., 0., 0., 0., 1.]);
    }
}

#[test]
fn recall_answers_the_item_after_the_query() {
    let task = TaskConfig::paper(Task::Recall);
    let (items, len) = (4, task.item_length);
    let batch = task.generate(8, items, 1, &mut SplitMix64::new(3)).unwrap();
    assert_eq!(batch.time, (items + 1) * (len + 1) + 1 + len);
    let item = |b: usize, k: usize| -> Vec<f32> {
        (0..len)
            .flat_map(|i| step(&batch, b, k * (len + 1) + 1 + i)[..6].to_vec())
            .collect()
    };
    for b in 0..8 {
        for k in 0..items {
            assert_eq!(step(&batch, b, k * (len + 1))[6], 1.0, "item delimiter");
        }
        let query_at = items * (len + 1);
        assert_eq!(step(&batch, b, query_at)[7], 1.0, "query delimiter");
        assert_eq!(
            step(&batch, b, query_at + len + 1)[7],
            1.0,
            "closing query delimiter"
        );
        let query = item(b, items);
        let position = (0..items - 1)
            .find(|&k| item(b, k) == query)
            .expect("the query is one of the items but the last");
        let expected = item(b, position + 1);
        let got: Vec<f32> = (0..len)
            .flat_map(|t| answer(&batch, b, t).to_vec())
            .collect();
        assert_eq!(got, expected);
    }
}

#[test]
fn training_batches_stay_in_range_and_repeat_with_the_seed() {
    let task = TaskConfig::paper(Task::Copy);
    let mut rng = SplitMix64::new(4);
    let lengths: Vec<usize> = (0..200)
        .map(|_| task.sample(1, &mut rng).output_steps)
        .collect();
    assert!(lengths.iter().all(|l| (1..=20).contains(l)));
    assert!(lengths.contains(&1) && lengths.contains(&20));
    let a = task.sample(4, &mut SplitMix64::new(9));
    assert_eq!(a, task.sample(4, &mut SplitMix64::new(9)));
}

#[test]
fn bad_sizes_are_errors() {
    let recall = TaskConfig::paper(Task::Recall);
    let err = recall
        .generate(1, 1, 1, &mut SplitMix64::new(1))
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid configuration: recall needs a size of at least 2, got 1"
    );
    let mut copy = TaskConfig::paper(Task::Copy);
    copy.min_size = 30;
    assert_eq!(
        copy.validate().unwrap_err().to_string(),
        "invalid configuration: sizes must satisfy 1 <= min_size <= max_size, got 30..20"
    );
    assert_eq!("repeat-copy".parse::<Task>(), Ok(Task::RepeatCopy));
}
