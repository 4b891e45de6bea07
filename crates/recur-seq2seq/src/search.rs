//! Decoding: batched greedy search and beam search over any decoder that can
//! be run one token at a time ([`StepDecoder`]).
//!
//! Both run the decoder on the device for all live hypotheses of all batch
//! items at once, and choose tokens on the host from the `[n, vocab]`
//! log-probabilities. Hypotheses are scored with GNMT's length penalty (Wu et
//! al., 2016, eq. 14): `score = log_prob / lp(len)`, `lp(len) = ((5 + len) /
//! 6)^alpha`, where `len` counts the output tokens plus the end token when
//! the hypothesis finished; `alpha = 0` scores by log-probability alone.

use burn::tensor::{Device, Int, Tensor, TensorData};
use serde::{Deserialize, Serialize};

/// What a [`StepDecoder`] returns for one step.
#[derive(Debug, Clone)]
pub struct StepOutput {
    /// Log-probabilities of the next token, `[n, vocab]`.
    pub log_probs: Tensor<2>,
    /// The attention weights this step used, `[n, src_len]` (`None` for
    /// decoders without attention); kept for pictures.
    pub attention: Option<Tensor<2>>,
}

/// A decoder that can be run one token at a time for `n` hypotheses.
pub trait StepDecoder {
    /// Everything carried from one step to the next (recurrent state,
    /// attention keys, ...), `n` rows.
    type State: Clone;

    /// The device the decoder's tensors live on; token tensors are built there.
    fn device(&self) -> Device;

    /// One step: `tokens` (`[n]`) is the previous token of each hypothesis;
    /// returns the scores of the next token and the new state.
    fn step(&self, tokens: Tensor<1, Int>, state: Self::State) -> (StepOutput, Self::State);

    /// Keeps or duplicates rows `indices` (`[m]`, values < n) of a state for
    /// n hypotheses: beam reordering and the initial beam expansion.
    fn select(&self, state: Self::State, indices: Tensor<1, Int>) -> Self::State;
}

/// How to decode.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SearchConfig {
    /// The token fed at the first step.
    pub start_id: usize,
    /// The token that ends a hypothesis.
    pub end_id: usize,
    /// The most decoder steps per hypothesis (end token included).
    pub max_len: usize,
    /// Live hypotheses kept per batch item (beam search only).
    pub beam_size: usize,
    /// GNMT's `alpha`; 0: no length penalty.
    pub length_penalty: f32,
    /// Hypotheses returned per batch item by beam search, at most `beam_size`.
    pub n_best: usize,
}

impl SearchConfig {
    /// Greedy settings: beam 1, no length penalty, one best.
    pub fn new(start_id: usize, end_id: usize, max_len: usize) -> Self {
        SearchConfig {
            start_id,
            end_id,
            max_len,
            beam_size: 1,
            length_penalty: 0.0,
            n_best: 1,
        }
    }

    /// GNMT's length penalty `((5 + len) / 6)^alpha`.
    pub fn penalty(&self, len: usize) -> f32 {
        ((5.0 + len as f32) / 6.0).powf(self.length_penalty)
    }

    /// The score of a hypothesis of `len` steps with log-probability `log_prob`.
    pub fn score(&self, log_prob: f32, len: usize) -> f32 {
        log_prob / self.penalty(len)
    }
}

/// One decoded sequence.
#[derive(Debug, Clone, PartialEq)]
pub struct Hypothesis {
    /// The output tokens, without the start and end tokens.
    pub tokens: Vec<usize>,
    /// Sum of the log-probabilities of the tokens and of the end token (when
    /// the hypothesis finished).
    pub log_prob: f32,
    /// `log_prob` after the length penalty ([`SearchConfig::score`]).
    pub score: f32,
    /// One attention row (`[src_len]`) per output token; empty when the
    /// decoder gives none.
    pub attention: Vec<Vec<f32>>,
    /// Whether the hypothesis ended with the end token (else it reached
    /// `max_len`).
    pub finished: bool,
}

/// A hypothesis still being extended.
#[derive(Debug, Clone)]
struct Partial {
    tokens: Vec<usize>,
    log_prob: f32,
    attention: Vec<Vec<f32>>,
}

impl Partial {
    fn start() -> Self {
        Partial {
            tokens: Vec::new(),
            log_prob: 0.0,
            attention: Vec::new(),
        }
    }

    /// `self` followed by `token`, scored `log_prob` with attention `row`.
    fn extend(&self, token: usize, log_prob: f32, row: Option<&[f32]>) -> Partial {
        let mut next = self.clone();
        next.tokens.push(token);
        next.log_prob += log_prob;
        next.attention.extend(row.map(<[f32]>::to_vec));
        next
    }

    /// The hypothesis this partial one is; `finished` adds the end token's
    /// `end_log_prob` and counts it in the length.
    fn finish(self, finished: bool, end_log_prob: f32, config: &SearchConfig) -> Hypothesis {
        let log_prob = self.log_prob + if finished { end_log_prob } else { 0.0 };
        let len = self.tokens.len() + usize::from(finished);
        Hypothesis {
            score: config.score(log_prob, len),
            tokens: self.tokens,
            log_prob,
            attention: self.attention,
            finished,
        }
    }

    fn last(&self, config: &SearchConfig) -> usize {
        self.tokens.last().copied().unwrap_or(config.start_id)
    }
}

/// The host copy of one step's output.
struct HostStep {
    log_probs: Vec<f32>,
    vocab: usize,
    attention: Option<(Vec<f32>, usize)>,
}

impl HostStep {
    fn new(output: StepOutput) -> Self {
        let [_, vocab] = output.log_probs.dims();
        HostStep {
            log_probs: to_host(output.log_probs),
            vocab,
            attention: output.attention.map(|a| {
                let [_, src_len] = a.dims();
                (to_host(a), src_len)
            }),
        }
    }

    fn row(&self, row: usize) -> &[f32] {
        &self.log_probs[row * self.vocab..(row + 1) * self.vocab]
    }

    fn attention(&self, row: usize) -> Option<&[f32]> {
        self.attention
            .as_ref()
            .map(|(a, src_len)| &a[row * src_len..(row + 1) * src_len])
    }
}

fn to_host(tensor: Tensor<2>) -> Vec<f32> {
    tensor
        .into_data()
        .convert::<f32>()
        .try_into_vec::<f32>()
        .unwrap_or_default()
}

fn int_tensor(values: &[usize], device: &Device) -> Tensor<1, Int> {
    let values: Vec<i64> = values.iter().map(|&v| v as i64).collect();
    let len = values.len();
    Tensor::from_data(TensorData::new(values, [len]), device)
}

/// Index and value of a row's largest entry; the lowest index wins ties.
fn argmax(row: &[f32]) -> (usize, f32) {
    row.iter()
        .copied()
        .enumerate()
        .fold((0, f32::NEG_INFINITY), |best, (i, v)| {
            if v > best.1 { (i, v) } else { best }
        })
}

/// Batched greedy decoding: `state` holds `batch` rows; returns one
/// hypothesis per row, taking the most probable token at every step.
/// Finished rows are dropped from the state, so later steps only run the
/// rows still decoding.
pub fn greedy<D: StepDecoder>(
    decoder: &D,
    state: D::State,
    batch: usize,
    config: &SearchConfig,
) -> Vec<Hypothesis> {
    greedy_with_max_lens(decoder, state, &vec![config.max_len; batch], config)
}

/// [`greedy`] with a step limit per batch item: `max_lens[b]` in place of
/// `config.max_len` (the batch is `max_lens.len()` rows), as when each
/// source sentence allows a translation of about twice its own length.
pub fn greedy_with_max_lens<D: StepDecoder>(
    decoder: &D,
    state: D::State,
    max_lens: &[usize],
    config: &SearchConfig,
) -> Vec<Hypothesis> {
    let device = decoder.device();
    let batch = max_lens.len();
    let mut partials = vec![Partial::start(); batch];
    let mut done: Vec<Option<Hypothesis>> = vec![None; batch];
    // live[r]: the batch item of state row r.
    let (mut state, mut live) = items_with_steps(decoder, state, max_lens);
    for step in 0.. {
        if live.is_empty() {
            break;
        }
        let tokens: Vec<usize> = live.iter().map(|&b| partials[b].last(config)).collect();
        let (output, next) = decoder.step(int_tensor(&tokens, &device), state);
        let host = HostStep::new(output);
        let mut keep = Vec::with_capacity(live.len());
        for (row, &item) in live.iter().enumerate() {
            let (token, log_prob) = argmax(host.row(row));
            if token == config.end_id {
                let partial = std::mem::replace(&mut partials[item], Partial::start());
                done[item] = Some(partial.finish(true, log_prob, config));
            } else {
                partials[item] = partials[item].extend(token, log_prob, host.attention(row));
                // An item out of steps stops unfinished.
                if step + 1 < max_lens[item] {
                    keep.push(row);
                }
            }
        }
        state = if keep.len() == live.len() {
            next
        } else {
            decoder.select(next, int_tensor(&keep, &device))
        };
        live = keep.iter().map(|&row| live[row]).collect();
    }
    done.into_iter()
        .zip(partials)
        .map(|(done, partial)| done.unwrap_or_else(|| partial.finish(false, 0.0, config)))
        .collect()
}

/// `state` without the rows of the items allowed no step (they never
/// decode), and the items left, in order.
fn items_with_steps<D: StepDecoder>(
    decoder: &D,
    state: D::State,
    max_lens: &[usize],
) -> (D::State, Vec<usize>) {
    let items: Vec<usize> = (0..max_lens.len()).filter(|&b| max_lens[b] > 0).collect();
    let state = if items.is_empty() || items.len() == max_lens.len() {
        state
    } else {
        decoder.select(state, int_tensor(&items, &decoder.device()))
    };
    (state, items)
}

/// The search of one batch item.
struct Item {
    /// Live hypotheses, one state row each (in order).
    alive: Vec<Partial>,
    /// Finished hypotheses, best first.
    finished: Vec<Hypothesis>,
    done: bool,
    /// Its step limit.
    max_len: usize,
}

/// Batched beam search: `state` holds `batch` rows; returns, per batch item,
/// up to `n_best` hypotheses, best score first.
///
/// Each step extends every live hypothesis by every token and keeps the
/// `beam_size` most probable continuations that do not end; the ending
/// continuations among the best `beam_size` become finished hypotheses. An
/// item stops when it has `n_best` finished hypotheses and no live one can
/// still beat them (its log-probability only falls, so its best possible
/// score is `log_prob / lp(max_len)`), or after `max_len` steps; live
/// hypotheses fill the n-best list when too few finished.
pub fn beam_search<D: StepDecoder>(
    decoder: &D,
    state: D::State,
    batch: usize,
    config: &SearchConfig,
) -> Vec<Vec<Hypothesis>> {
    beam_search_with_max_lens(decoder, state, &vec![config.max_len; batch], config)
}

/// [`beam_search`] with a step limit per batch item: `max_lens[b]` in place
/// of `config.max_len` (the batch is `max_lens.len()` rows), both for
/// stopping and in the bound on what a live hypothesis can still score.
pub fn beam_search_with_max_lens<D: StepDecoder>(
    decoder: &D,
    state: D::State,
    max_lens: &[usize],
    config: &SearchConfig,
) -> Vec<Vec<Hypothesis>> {
    let device = decoder.device();
    let beam = config.beam_size.max(1);
    let n_best = config.n_best.clamp(1, beam);
    let mut items: Vec<Item> = max_lens
        .iter()
        .map(|&max_len| Item {
            alive: vec![Partial::start()],
            finished: Vec::new(),
            done: max_len == 0,
            max_len,
        })
        .collect();
    let (mut state, _) = items_with_steps(decoder, state, max_lens);
    for step in 0.. {
        let tokens: Vec<usize> = items
            .iter()
            .filter(|item| !item.done)
            .flat_map(|item| item.alive.iter().map(|p| p.last(config)))
            .collect();
        if tokens.is_empty() {
            break;
        }
        let (output, next) = decoder.step(int_tensor(&tokens, &device), state);
        let host = HostStep::new(output);
        let mut parents = Vec::new(); // the state row of each new live hypothesis
        let mut first_row = 0;
        for item in items.iter_mut().filter(|item| !item.done) {
            let last_step = step + 1 == item.max_len;
            let rows = first_row..first_row + item.alive.len();
            first_row = rows.end;
            // The 2 * beam best continuations hold at least `beam` that do not end.
            let mut candidates: Vec<(f32, usize, usize)> = rows
                .clone()
                .flat_map(|row| {
                    let base = item.alive[row - rows.start].log_prob;
                    host.row(row)
                        .iter()
                        .enumerate()
                        .map(move |(token, &lp)| (base + lp, row, token))
                })
                .collect();
            let keep = (2 * beam).min(candidates.len());
            let by_score = |a: &(f32, usize, usize), b: &(f32, usize, usize)| {
                b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)).then(a.2.cmp(&b.2))
            };
            if keep < candidates.len() {
                candidates.select_nth_unstable_by(keep - 1, by_score);
                candidates.truncate(keep);
            }
            candidates.sort_by(by_score);

            let mut alive = Vec::with_capacity(beam);
            for (rank, &(_, row, token)) in candidates.iter().enumerate() {
                let parent = &item.alive[row - rows.start];
                let log_prob = host.row(row)[token];
                if token == config.end_id {
                    if rank < beam {
                        let hypothesis = parent.clone().finish(true, log_prob, config);
                        item.finished.push(hypothesis);
                    }
                } else if alive.len() < beam {
                    alive.push(parent.extend(token, log_prob, host.attention(row)));
                    parents.push(row);
                }
            }
            item.finished.sort_by(|a, b| b.score.total_cmp(&a.score));
            item.finished.truncate(n_best);

            let best_alive = alive
                .iter()
                .map(|p| p.log_prob)
                .fold(f32::NEG_INFINITY, f32::max);
            let can_improve = item.finished.len() < n_best
                || config.score(best_alive, item.max_len) > item.finished[n_best - 1].score;
            if last_step || alive.is_empty() || !can_improve {
                item.done = true;
                parents.truncate(parents.len() - alive.len());
                if item.finished.len() < n_best {
                    item.finished
                        .extend(alive.into_iter().map(|p| p.finish(false, 0.0, config)));
                    item.finished.sort_by(|a, b| b.score.total_cmp(&a.score));
                    item.finished.truncate(n_best);
                }
            } else {
                item.alive = alive;
            }
        }
        if parents.is_empty() {
            break;
        }
        state = decoder.select(next, int_tensor(&parents, &device));
    }
    items.into_iter().map(|item| item.finished).collect()
}
