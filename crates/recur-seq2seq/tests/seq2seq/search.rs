//! Greedy and beam search on a hand-made decoder with known probabilities
//! and on a small random recurrent decoder.

use std::cell::RefCell;

use burn::tensor::activation::{log_softmax, softmax};
use burn::tensor::{Device, Int, Tensor, TensorData};
use recur_seq2seq::search::{
    Hypothesis, SearchConfig, StepDecoder, StepOutput, beam_search, beam_search_with_max_lens,
    greedy, greedy_with_max_lens,
};

use crate::common::{backends, normal};

const START: usize = 0;
const END: usize = 1;
const A: usize = 2;
const B: usize = 3;
const VOCAB: usize = 4;

/// A decoder whose next-token probabilities are a function of the history
/// (the item's tag followed by the tokens so far); it records how many rows
/// each step ran.
struct TableDecoder {
    table: fn(&[usize]) -> [f32; VOCAB],
    device: Device,
    rows_per_step: RefCell<Vec<usize>>,
}

impl TableDecoder {
    fn new(table: fn(&[usize]) -> [f32; VOCAB], device: Device) -> Self {
        TableDecoder {
            table,
            device,
            rows_per_step: RefCell::new(Vec::new()),
        }
    }
}

fn ints(t: Tensor<1, Int>) -> Vec<usize> {
    let data = t.into_data().convert::<i64>();
    data.try_into_vec::<i64>()
        .unwrap()
        .into_iter()
        .map(|v| v as usize)
        .collect()
}

impl StepDecoder for TableDecoder {
    type State = Vec<Vec<usize>>;

    fn device(&self) -> Device {
        self.device.clone()
    }

    fn step(&self, tokens: Tensor<1, Int>, state: Self::State) -> (StepOutput, Self::State) {
        let tokens = ints(tokens);
        assert_eq!(tokens.len(), state.len());
        self.rows_per_step.borrow_mut().push(tokens.len());
        let state: Vec<Vec<usize>> = state
            .into_iter()
            .zip(tokens)
            .map(|(mut history, token)| {
                assert_ne!(token, END, "a finished hypothesis was extended");
                if token != START {
                    history.push(token);
                }
                history
            })
            .collect();
        let log_probs: Vec<f32> = state
            .iter()
            .flat_map(|history| (self.table)(history).map(f32::ln))
            .collect();
        let n = state.len();
        let output = StepOutput {
            log_probs: Tensor::from_data(TensorData::new(log_probs, [n, VOCAB]), &self.device),
            attention: None,
        };
        (output, state)
    }

    fn select(&self, state: Self::State, indices: Tensor<1, Int>) -> Self::State {
        ints(indices)
            .into_iter()
            .map(|i| state[i].clone())
            .collect()
    }
}

/// Probabilities `[start, end, a, b]` given the history; unlisted tokens 1e-4.
fn probs(end: f32, a: f32, b: f32) -> [f32; VOCAB] {
    [1e-4, end, a, b]
}

/// Tag 10: greedy takes A (0.6) then A, A END = 0.24, but B END = 0.36.
/// Tag 11: A A A END, 0.9 each. Tag 12: END and A tie at 0.5, A END = 0.45.
/// Tag 13: END at once.
fn table(history: &[usize]) -> [f32; VOCAB] {
    match history {
        [10] => probs(1e-4, 0.6, 0.4),
        [10, A] => probs(0.3, 0.4, 0.3),
        [10, B] => probs(0.9, 0.05, 0.05),
        [10, A, A] => probs(1.0, 1e-4, 1e-4),
        [11] | [11, A] | [11, A, A] => probs(0.05, 0.9, 0.05),
        [11, A, A, A] => probs(0.9, 0.05, 0.05),
        [12] => probs(0.5, 0.5, 1e-4),
        [12, A] => probs(0.9, 0.05, 0.05),
        [13] => probs(0.9, 0.05, 0.05),
        _ => probs(0.7, 0.15, 0.15),
    }
}

fn config(beam_size: usize, length_penalty: f32, n_best: usize) -> SearchConfig {
    SearchConfig {
        beam_size,
        length_penalty,
        n_best,
        ..SearchConfig::new(START, END, 10)
    }
}

fn tags(tags: &[usize]) -> Vec<Vec<usize>> {
    tags.iter().map(|&t| vec![t]).collect()
}

fn device() -> Device {
    backends()[0].device()
}

#[test]
fn beam_search_finds_the_best_sequence_greedy_misses() {
    let decoder = TableDecoder::new(table, device());
    let greedy = greedy(&decoder, tags(&[10]), 1, &config(1, 0.0, 1));
    assert_eq!(greedy[0].tokens, [A, A]);
    assert!((greedy[0].log_prob - 0.24f32.ln()).abs() < 1e-5);

    let beam = beam_search(&decoder, tags(&[10]), 1, &config(2, 0.0, 2));
    assert_eq!(beam[0][0].tokens, [B]);
    assert!((beam[0][0].log_prob - 0.36f32.ln()).abs() < 1e-5);
    assert_eq!(beam[0][1].tokens, [A, A], "n-best holds the runner-up");
    assert!(beam[0].iter().all(|h| h.finished));
}

#[test]
fn length_penalty_is_gnmts_and_can_prefer_longer_outputs() {
    let decoder = TableDecoder::new(table, device());
    let plain = beam_search(&decoder, tags(&[12]), 1, &config(2, 0.0, 1));
    assert_eq!(plain[0][0].tokens, Vec::<usize>::new());

    let alpha = 1.0;
    let penalised = beam_search(&decoder, tags(&[12]), 1, &config(2, alpha, 2));
    let [long, short] = [&penalised[0][0], &penalised[0][1]];
    assert_eq!(
        (long.tokens.as_slice(), short.tokens.as_slice()),
        (&[A][..], &[][..])
    );
    // len counts the end token: ((5 + 2) / 6)^alpha and ((5 + 1) / 6)^alpha.
    let lp = |len: f32| ((5.0 + len) / 6.0f32).powf(alpha);
    assert!((long.score - 0.45f32.ln() / lp(2.0)).abs() < 1e-5);
    assert!((short.score - 0.5f32.ln() / lp(1.0)).abs() < 1e-5);
    assert!((config(1, 0.6, 1).penalty(3) - (8.0f32 / 6.0).powf(0.6)).abs() < 1e-6);
}

#[test]
fn finished_hypotheses_stop_growing() {
    // Tag 13 ends at the first step, tag 11 after four: the steps after the
    // first run only tag 11's rows.
    let decoder = TableDecoder::new(table, device());
    let out = greedy(&decoder, tags(&[13, 11]), 2, &config(1, 0.0, 1));
    assert_eq!(out[0].tokens, Vec::<usize>::new());
    assert_eq!(out[1].tokens, [A, A, A]);
    assert_eq!(*decoder.rows_per_step.borrow(), [2, 1, 1, 1]);

    let decoder = TableDecoder::new(table, device());
    let out = beam_search(&decoder, tags(&[13, 11]), 2, &config(2, 0.0, 1));
    assert_eq!(out[0][0].tokens, Vec::<usize>::new());
    assert_eq!(out[1][0].tokens, [A, A, A]);
    let rows = decoder.rows_per_step.borrow();
    assert_eq!(rows[0], 2, "one row per item before the beam expands");
    assert!(
        rows[1..].iter().all(|&n| n <= 2),
        "tag 13 stopped: {rows:?}"
    );

    // Hypotheses cut at max_len are marked unfinished and hold max_len tokens.
    let short = SearchConfig {
        max_len: 2,
        ..config(1, 0.0, 1)
    };
    let out = greedy(&TableDecoder::new(table, device()), tags(&[11]), 1, &short);
    assert_eq!(
        (out[0].tokens.as_slice(), out[0].finished),
        (&[A, A][..], false)
    );
}

/// A small random recurrent decoder on real tensors:
/// `h' = tanh(E[token] + h W)`, `log p = log_softmax(h' U)`; its attention is
/// `softmax` of the first three features of `h'`.
struct RandomDecoder {
    embedding: Tensor<2>,
    recurrent: Tensor<2>,
    output: Tensor<2>,
    device: Device,
}

const HIDDEN: usize = 8;
const WORDS: usize = 7;

impl RandomDecoder {
    fn new(device: &Device) -> Self {
        RandomDecoder {
            embedding: normal([WORDS, HIDDEN], 11, device),
            recurrent: normal([HIDDEN, HIDDEN], 12, device) * 0.5,
            output: normal([HIDDEN, WORDS], 13, device) * 1.5,
            device: device.clone(),
        }
    }
}

impl StepDecoder for RandomDecoder {
    type State = Tensor<2>;

    fn device(&self) -> Device {
        self.device.clone()
    }

    fn step(&self, tokens: Tensor<1, Int>, state: Tensor<2>) -> (StepOutput, Tensor<2>) {
        let h = (self.embedding.clone().select(0, tokens) + state.matmul(self.recurrent.clone()))
            .tanh();
        let log_probs = log_softmax(h.clone().matmul(self.output.clone()), 1);
        let attention = Some(softmax(h.clone().narrow(1, 0, 3), 1));
        (
            StepOutput {
                log_probs,
                attention,
            },
            h,
        )
    }

    fn select(&self, state: Tensor<2>, indices: Tensor<1, Int>) -> Tensor<2> {
        state.select(0, indices)
    }
}

fn same(what: &str, a: &Hypothesis, b: &Hypothesis) {
    assert_eq!(a.tokens, b.tokens, "{what}");
    assert_eq!(a.finished, b.finished, "{what}");
    assert!(
        (a.log_prob - b.log_prob).abs() < 1e-4,
        "{what}: {a:?} vs {b:?}"
    );
    assert!((a.score - b.score).abs() < 1e-4, "{what}: {a:?} vs {b:?}");
    assert_eq!(a.attention.len(), b.attention.len(), "{what}");
    for (x, y) in a.attention.iter().zip(&b.attention) {
        assert!(x.iter().zip(y).all(|(x, y)| (x - y).abs() < 1e-4), "{what}");
    }
}

#[test]
fn beam_of_one_equals_greedy() {
    for backend in backends() {
        let device = backend.device();
        let decoder = RandomDecoder::new(&device);
        let batch = 4;
        let state = normal([batch, HIDDEN], 14, &device);
        let settings = SearchConfig::new(0, 1, 8);
        let greedy = greedy(&decoder, state.clone(), batch, &settings);
        let beam = beam_search(&decoder, state, batch, &settings);
        for (b, (g, beam)) in greedy.iter().zip(&beam).enumerate() {
            assert_eq!(beam.len(), 1);
            same(&format!("{backend} item {b}"), g, &beam[0]);
            assert_eq!(
                g.attention.len(),
                g.tokens.len(),
                "one attention row per token"
            );
        }
    }
}

#[test]
fn batched_search_equals_one_item_at_a_time() {
    for backend in backends() {
        let device = backend.device();
        let decoder = RandomDecoder::new(&device);
        let batch = 3;
        let state = normal([batch, HIDDEN], 15, &device);
        let settings = config(3, 0.6, 2);
        let settings = SearchConfig {
            max_len: 6,
            ..settings
        };
        let greedy_all = greedy(&decoder, state.clone(), batch, &settings);
        let beam_all = beam_search(&decoder, state.clone(), batch, &settings);
        for b in 0..batch {
            let one = state.clone().narrow(0, b, 1);
            let what = format!("{backend} item {b}");
            same(
                &what,
                &greedy_all[b],
                &greedy(&decoder, one.clone(), 1, &settings)[0],
            );
            let beam_one = beam_search(&decoder, one, 1, &settings);
            assert_eq!(beam_all[b].len(), beam_one[0].len(), "{what}");
            for (x, y) in beam_all[b].iter().zip(&beam_one[0]) {
                same(&what, x, y);
            }
            // n-best is sorted, best first.
            assert!(beam_all[b].windows(2).all(|w| w[0].score >= w[1].score));
        }
    }
}

#[test]
fn step_limits_per_item_equal_each_item_alone_with_its_limit() {
    for backend in backends() {
        let device = backend.device();
        let decoder = RandomDecoder::new(&device);
        // Limits below, at and above where the items end on their own, and
        // an item allowed no step.
        let max_lens = [2, 0, 7, 4];
        let batch = max_lens.len();
        let state = normal([batch, HIDDEN], 16, &device);
        let settings = config(3, 0.6, 2);
        let greedy_all = greedy_with_max_lens(&decoder, state.clone(), &max_lens, &settings);
        let beam_all = beam_search_with_max_lens(&decoder, state.clone(), &max_lens, &settings);
        for (b, &max_len) in max_lens.iter().enumerate() {
            let one = state.clone().narrow(0, b, 1);
            let alone = SearchConfig {
                max_len,
                ..settings
            };
            let what = format!("{backend} item {b} (limit {max_len})");
            let greedy_one = &greedy(&decoder, one.clone(), 1, &alone)[0];
            same(&what, &greedy_all[b], greedy_one);
            assert!(greedy_all[b].tokens.len() <= max_len, "{what}");
            let beam_one = beam_search(&decoder, one, 1, &alone);
            assert_eq!(beam_all[b].len(), beam_one[0].len(), "{what}");
            for (x, y) in beam_all[b].iter().zip(&beam_one[0]) {
                same(&what, x, y);
            }
        }
    }
}
