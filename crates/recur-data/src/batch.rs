//! Padded batches, deterministic shuffling with bucketing, and contiguous
//! truncated-BPTT windows over a token stream.

use burn::tensor::{Device, Int, Tensor, TensorData};

use crate::{DataError, SplitMix64};

/// Sequences of ids padded to a common length.
#[derive(Debug, Clone, PartialEq)]
pub struct Batch {
    /// Padded ids, row-major `[batch, time]`.
    pub ids: Vec<i64>,
    /// Each sequence's real length, `[batch]`.
    pub lengths: Vec<usize>,
    /// Positions of the sequences in the data set they came from, `[batch]`
    /// (`0..batch` for [`pad`]; the data set order for [`Batcher`]).
    pub indices: Vec<usize>,
    /// Number of sequences.
    pub batch: usize,
    /// Padded length: the longest sequence's length.
    pub time: usize,
}

impl Batch {
    /// `[batch, time]`.
    pub fn dims(&self) -> [usize; 2] {
        [self.batch, self.time]
    }

    /// The ids as a `[batch, time]` integer tensor on `device`.
    pub fn ids_tensor(&self, device: &Device) -> Tensor<2, Int> {
        Tensor::from_data(TensorData::new(self.ids.clone(), self.dims()), device)
    }

    /// The mask, `[batch, time]`: 1 at real positions, 0 at padding. Multiply
    /// a per-position loss by it to ignore padding.
    pub fn mask(&self, device: &Device) -> Tensor<2> {
        let mut mask = vec![0.0f32; self.batch * self.time];
        for (row, &length) in self.lengths.iter().take(self.batch).enumerate() {
            mask[row * self.time..row * self.time + length.min(self.time)].fill(1.0);
        }
        Tensor::from_data(TensorData::new(mask, self.dims()), device)
    }
}

/// Pads `sequences` with `pad_id` to the longest one's length.
///
/// ```
/// let batch = recur_data::pad(&[vec![4, 5, 6], vec![7]], 0);
/// assert_eq!(batch.ids, [4, 5, 6, 7, 0, 0]); // [batch = 2, time = 3]
/// assert_eq!(batch.lengths, [3, 1]);
/// ```
pub fn pad<S: AsRef<[usize]>>(sequences: &[S], pad_id: usize) -> Batch {
    pad_indices(sequences, &(0..sequences.len()).collect::<Vec<_>>(), pad_id)
}

/// Pads the sequences at `indices` (each must be a valid index).
fn pad_indices<S: AsRef<[usize]>>(sequences: &[S], indices: &[usize], pad_id: usize) -> Batch {
    let time = indices
        .iter()
        .map(|&i| sequences[i].as_ref().len())
        .max()
        .unwrap_or(0);
    let mut ids = vec![pad_id as i64; indices.len() * time];
    let mut lengths = Vec::with_capacity(indices.len());
    for (row, &i) in indices.iter().enumerate() {
        let sequence = sequences[i].as_ref();
        for (slot, &id) in ids[row * time..].iter_mut().zip(sequence) {
            *slot = id as i64;
        }
        lengths.push(sequence.len());
    }
    Batch {
        ids,
        lengths,
        indices: indices.to_vec(),
        batch: indices.len(),
        time,
    }
}

/// Splits a data set into shuffled batches, the same ones for the same seed
/// and epoch.
///
/// With bucketing, the shuffled items are cut into chunks of
/// `batches_per_bucket` batches, each chunk is sorted by length and cut into
/// batches, and the batches are shuffled again: each batch holds sequences of
/// similar length (little padding) while the order of batches stays random.
/// Every item appears in exactly one batch; the last may be smaller.
#[derive(Debug, Clone)]
pub struct Batcher {
    batch_size: usize,
    seed: u64,
    batches_per_bucket: Option<usize>,
}

impl Batcher {
    /// Batches of `batch_size` items, shuffled from `seed`. A zero batch size
    /// is an error.
    pub fn new(batch_size: usize, seed: u64) -> Result<Self, DataError> {
        if batch_size == 0 {
            return Err(DataError::Argument("batch size must be positive".into()));
        }
        Ok(Self {
            batch_size,
            seed,
            batches_per_bucket: None,
        })
    }

    /// Groups items of similar length, sorting within chunks of
    /// `batches_per_bucket` batches (50 is a good value; 0 or 1 sorts within
    /// each batch only, i.e. no bucketing).
    pub fn with_bucketing(mut self, batches_per_bucket: usize) -> Self {
        self.batches_per_bucket = Some(batches_per_bucket);
        self
    }

    /// The batches of one epoch as item indices, for a data set whose item
    /// `i` has length `lengths[i]`. Each epoch has its own order.
    pub fn order(&self, lengths: &[usize], epoch: u64) -> Vec<Vec<usize>> {
        let mut rng = SplitMix64::new(self.seed ^ epoch.wrapping_mul(0xD1B5_4A32_D192_ED03));
        let mut items: Vec<usize> = (0..lengths.len()).collect();
        rng.shuffle(&mut items);
        let Some(per_bucket) = self.batches_per_bucket else {
            return items.chunks(self.batch_size).map(<[_]>::to_vec).collect();
        };
        let mut batches = Vec::new();
        for chunk in items.chunks_mut(self.batch_size * per_bucket.max(1)) {
            chunk.sort_by_key(|&i| lengths[i]);
            batches.extend(chunk.chunks(self.batch_size).map(<[_]>::to_vec));
        }
        rng.shuffle(&mut batches);
        batches
    }

    /// The padded batches of one epoch of `sequences`. Each [`Batch`] lists
    /// its items' positions in `sequences` in [`Batch::indices`], to fetch
    /// their targets, images or source sentences.
    pub fn batches<'a, S: AsRef<[usize]>>(
        &self,
        sequences: &'a [S],
        epoch: u64,
        pad_id: usize,
    ) -> impl Iterator<Item = Batch> + 'a {
        let lengths: Vec<usize> = sequences.iter().map(|s| s.as_ref().len()).collect();
        self.order(&lengths, epoch)
            .into_iter()
            .map(move |indices| pad_indices(sequences, &indices, pad_id))
    }
}

/// One truncated-BPTT window: `target` is `input` shifted by one token.
#[derive(Debug, Clone, PartialEq)]
pub struct Window {
    /// Input ids, row-major `[batch, time]`.
    pub input: Vec<i64>,
    /// The next token after each input id, row-major `[batch, time]`.
    pub target: Vec<i64>,
    /// Number of parallel rows.
    pub batch: usize,
    /// Window length: the configured window, shorter for the last one.
    pub time: usize,
}

impl Window {
    /// `[batch, time]`.
    pub fn dims(&self) -> [usize; 2] {
        [self.batch, self.time]
    }

    /// The window's rows `rows` alone: one data-parallel worker's share
    /// (each row is its own stream, so a worker carries its rows' state).
    pub fn rows(&self, rows: std::ops::Range<usize>) -> Window {
        let span = rows.start * self.time..rows.end * self.time;
        Window {
            input: self.input[span.clone()].to_vec(),
            target: self.target[span].to_vec(),
            batch: rows.len(),
            time: self.time,
        }
    }

    /// The input as a `[batch, time]` integer tensor on `device`.
    pub fn input_tensor(&self, device: &Device) -> Tensor<2, Int> {
        Tensor::from_data(TensorData::new(self.input.clone(), self.dims()), device)
    }

    /// The target as a `[batch, time]` integer tensor on `device`.
    pub fn target_tensor(&self, device: &Device) -> Tensor<2, Int> {
        Tensor::from_data(TensorData::new(self.target.clone(), self.dims()), device)
    }
}

/// Contiguous truncated-BPTT windows over one long token stream (a
/// character-level language model's corpus).
///
/// The stream is cut into `batch` rows of equal length, row `b` being the
/// `b`-th slice of the stream; windows of `window` steps walk along all rows
/// together, so row `b` of window `k + 1` continues exactly where row `b` of
/// window `k` ended. The caller therefore carries the final hidden state of
/// one window into the next as its initial state, detached
/// (`state.detach()`) so that gradients stop at the window boundary.
///
/// Tokens that do not fill a whole row at the end of the stream are dropped.
#[derive(Debug, Clone)]
pub struct BpttWindows {
    /// The `batch` rows, each `row_len + 1` tokens (the extra one is the last
    /// target), row-major.
    rows: Vec<i64>,
    batch: usize,
    window: usize,
    row_len: usize,
    position: usize,
}

impl BpttWindows {
    /// Windows of `window` steps over `tokens` split into `batch` rows. Zero
    /// `batch` or `window`, or a stream with fewer than `batch + 1` tokens,
    /// is an error.
    pub fn new(tokens: &[usize], batch: usize, window: usize) -> Result<Self, DataError> {
        if batch == 0 || window == 0 {
            return Err(DataError::Argument(
                "batch and window must be positive".into(),
            ));
        }
        let row_len = tokens.len().saturating_sub(1) / batch;
        if row_len == 0 {
            return Err(DataError::Argument(format!(
                "a stream of {} tokens is too short for {batch} rows",
                tokens.len()
            )));
        }
        let mut rows = Vec::with_capacity(batch * (row_len + 1));
        for b in 0..batch {
            let start = b * row_len;
            rows.extend(tokens[start..=start + row_len].iter().map(|&t| t as i64));
        }
        Ok(Self {
            rows,
            batch,
            window,
            row_len,
            position: 0,
        })
    }

    /// Number of windows in a pass over the stream.
    pub fn num_windows(&self) -> usize {
        self.row_len.div_ceil(self.window)
    }
}

impl Iterator for BpttWindows {
    type Item = Window;

    fn next(&mut self) -> Option<Window> {
        if self.position >= self.row_len {
            return None;
        }
        let time = self.window.min(self.row_len - self.position);
        let mut input = Vec::with_capacity(self.batch * time);
        let mut target = Vec::with_capacity(self.batch * time);
        for b in 0..self.batch {
            let start = b * (self.row_len + 1) + self.position;
            input.extend_from_slice(&self.rows[start..start + time]);
            target.extend_from_slice(&self.rows[start + 1..start + time + 1]);
        }
        self.position += time;
        Some(Window {
            input,
            target,
            batch: self.batch,
            time,
        })
    }
}
