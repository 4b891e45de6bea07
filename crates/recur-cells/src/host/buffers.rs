//! Buffers: zeroed allocation, and the split of a batch's buffers into one
//! shard of whole sequences per rayon thread.

use rayon::prelude::*;

/// `len` zeros, written by rayon's threads: mimalloc zeroes the memory it
/// reuses with one `memset`, 2% of charlm's training while the other core
/// waited (`perf`).
pub(crate) fn zeros(len: usize) -> Vec<f32> {
    let mut values = Vec::with_capacity(len);
    values.par_extend(rayon::iter::repeat_n(0.0, len));
    values
}

/// `buffer` cut into `count` slices of `len` values (the last one may be
/// shorter; empty ones when `len` is 0 or there is no buffer), to hand to
/// parallel tasks.
pub(super) fn split(buffer: &mut [f32], len: usize, count: usize) -> Vec<&mut [f32]> {
    if len == 0 || buffer.is_empty() {
        return (0..count).map(|_| &mut [][..]).collect();
    }
    buffer.chunks_mut(len).take(count).collect()
}

/// Sequences per task of the recurrence: the batch split evenly across
/// rayon's threads.
pub(super) fn shard_size(batch: usize) -> usize {
    batch.div_ceil(rayon::current_num_threads()).max(1)
}

/// The rows of one shard's sequences, `first..first + rows`, in a buffer of
/// `len` values per sequence.
pub(super) fn shard_rows(buffer: &[f32], first: usize, rows: usize, len: usize) -> &[f32] {
    &buffer[first * len..][..rows * len]
}
