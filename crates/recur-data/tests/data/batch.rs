//! Padding, masks, shuffling, bucketing and truncated-BPTT windows.

use recur_data::{Batcher, BpttWindows, SplitMix64, pad};
use recur_train::Backend;

#[test]
fn pad_ids_lengths_and_tensors() {
    let batch = pad(&[vec![5, 6, 7], vec![8], vec![]], 0);
    assert_eq!(batch.dims(), [3, 3]);
    assert_eq!(batch.ids, [5, 6, 7, 8, 0, 0, 0, 0, 0]);
    assert_eq!(batch.lengths, [3, 1, 0]);
    assert_eq!(batch.indices, [0, 1, 2]);

    for backend in Backend::for_tests() {
        let device = backend.device();
        let ids = batch.ids_tensor(&device);
        assert_eq!(ids.dims(), [3, 3]);
        assert_eq!(
            ids.into_data()
                .convert::<i64>()
                .try_to_vec::<i64>()
                .unwrap(),
            batch.ids,
            "{backend}"
        );
        let mask = batch.mask(&device);
        assert_eq!(mask.dims(), [3, 3]);
        assert_eq!(
            mask.into_data().try_to_vec::<f32>().unwrap(),
            [1.0, 1.0, 1.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0],
            "{backend}"
        );
    }
}

#[test]
fn pad_with_another_id() {
    let batch = pad(&[vec![1], vec![2, 3]], 9);
    assert_eq!(batch.ids, [1, 9, 2, 3]);
}

#[test]
fn splitmix_is_reproducible_and_in_range() {
    let a: Vec<u64> = {
        let mut rng = SplitMix64::new(1);
        (0..4).map(|_| rng.next_u64()).collect()
    };
    let mut rng = SplitMix64::new(1);
    assert_eq!(a, (0..4).map(|_| rng.next_u64()).collect::<Vec<_>>());
    // The reference sequence of SplitMix64 from seed 0.
    assert_eq!(SplitMix64::new(0).next_u64(), 0xE220_A839_7B1D_CDAF);
    assert!((0..1000).all(|_| rng.below(7) < 7));
}

fn flatten(batches: &[Vec<usize>]) -> Vec<usize> {
    let mut all: Vec<usize> = batches.concat();
    all.sort_unstable();
    all
}

#[test]
fn shuffle_is_deterministic_and_complete() {
    let lengths = vec![1; 103];
    let batcher = Batcher::new(10, 42).unwrap();
    let first = batcher.order(&lengths, 0);
    assert_eq!(first, batcher.order(&lengths, 0));
    assert_eq!(first.len(), 11);
    assert!(first[..10].iter().all(|b| b.len() == 10));
    assert_eq!(first[10].len(), 3);
    assert_eq!(flatten(&first), (0..103).collect::<Vec<_>>());
    assert_ne!(first.concat(), (0..103).collect::<Vec<_>>(), "not shuffled");

    let other_seed = Batcher::new(10, 43).unwrap().order(&lengths, 0);
    assert_ne!(first, other_seed);
    assert_eq!(flatten(&other_seed), (0..103).collect::<Vec<_>>());
    let other_epoch = batcher.order(&lengths, 1);
    assert_ne!(first, other_epoch);
}

#[test]
fn bucketing_groups_similar_lengths() {
    // 400 items of lengths 1..=40, ten of each.
    let lengths: Vec<usize> = (0..400).map(|i| 1 + i % 40).collect();
    let spread = |batches: &[Vec<usize>]| -> usize {
        batches
            .iter()
            .map(|b| {
                let max = b.iter().map(|&i| lengths[i]).max().unwrap();
                let min = b.iter().map(|&i| lengths[i]).min().unwrap();
                max - min
            })
            .sum()
    };
    let plain = Batcher::new(10, 3).unwrap().order(&lengths, 0);
    let bucketed = Batcher::new(10, 3).unwrap().with_bucketing(40);
    let buckets = bucketed.order(&lengths, 0);
    assert_eq!(buckets, bucketed.order(&lengths, 0));
    assert_eq!(flatten(&buckets), (0..400).collect::<Vec<_>>());
    assert!(buckets.iter().all(|b| b.len() == 10));
    // One bucket holds every item: batches are ten equal lengths each.
    assert_eq!(spread(&buckets), 0);
    assert!(spread(&plain) > 40 * 20, "{}", spread(&plain));
    // Batch order is still shuffled, not sorted by length.
    let firsts: Vec<usize> = buckets.iter().map(|b| lengths[b[0]]).collect();
    assert!(firsts.windows(2).any(|w| w[0] > w[1]), "{firsts:?}");
}

#[test]
fn batches_pad_the_shuffled_items() {
    let sequences = vec![vec![1], vec![2, 2], vec![3, 3, 3], vec![4, 4, 4, 4]];
    let batcher = Batcher::new(3, 5).unwrap().with_bucketing(1);
    let batches: Vec<_> = batcher.batches(&sequences, 0, 0).collect();
    let order = batcher.order(&[1, 2, 3, 4], 0);
    assert_eq!(batches.len(), 2);
    for (batch, indices) in batches.iter().zip(&order) {
        assert_eq!(&batch.indices, indices);
        let lengths: Vec<usize> = indices.iter().map(|&i| i + 1).collect();
        assert_eq!(batch.lengths, lengths);
        assert_eq!(batch.time, *lengths.iter().max().unwrap());
        for (row, &i) in indices.iter().enumerate() {
            let row = &batch.ids[row * batch.time..(row + 1) * batch.time];
            assert!(row[..=i].iter().all(|&id| id == i as i64 + 1));
            assert!(row[i + 1..].iter().all(|&id| id == 0));
        }
    }
}

#[test]
fn bad_batch_arguments() {
    assert_eq!(
        Batcher::new(0, 1).unwrap_err().to_string(),
        "batch size must be positive"
    );
    assert_eq!(
        BpttWindows::new(&[1, 2, 3], 0, 2).unwrap_err().to_string(),
        "batch and window must be positive"
    );
    assert_eq!(
        BpttWindows::new(&[1, 2, 3], 3, 2).unwrap_err().to_string(),
        "a stream of 3 tokens is too short for 3 rows"
    );
}

#[test]
fn bptt_windows_continue_each_row() {
    // 23 tokens, 3 rows: row length (23 - 1) / 3 = 7; token 22 is dropped.
    let tokens: Vec<usize> = (0..23).collect();
    let windows: Vec<_> = BpttWindows::new(&tokens, 3, 3).unwrap().collect();
    assert_eq!(BpttWindows::new(&tokens, 3, 3).unwrap().num_windows(), 3);
    assert_eq!(windows.len(), 3);
    assert_eq!(
        windows.iter().map(|w| w.time).collect::<Vec<_>>(),
        [3, 3, 1]
    );
    assert_eq!(windows[0].input, [0, 1, 2, 7, 8, 9, 14, 15, 16]);
    assert_eq!(windows[0].target, [1, 2, 3, 8, 9, 10, 15, 16, 17]);
    assert_eq!(windows[1].input, [3, 4, 5, 10, 11, 12, 17, 18, 19]);
    assert_eq!(windows[2].input, [6, 13, 20]);
    assert_eq!(windows[2].target, [7, 14, 21]);
    for b in 0..3 {
        // Concatenating a row's windows gives a contiguous slice of the stream.
        let row: Vec<i64> = windows
            .iter()
            .flat_map(|w| w.input[b * w.time..(b + 1) * w.time].to_vec())
            .collect();
        let start = (b * 7) as i64;
        assert_eq!(row, (start..start + 7).collect::<Vec<_>>());
        for pair in windows.windows(2) {
            let (k, next) = (&pair[0], &pair[1]);
            // The first input of window k + 1 is the last target of window k.
            assert_eq!(next.input[b * next.time], k.target[(b + 1) * k.time - 1]);
        }
    }

    for backend in Backend::for_tests() {
        let device = backend.device();
        assert_eq!(windows[0].input_tensor(&device).dims(), [3, 3]);
        assert_eq!(windows[2].target_tensor(&device).dims(), [3, 1]);
    }
}
