//! The paper's algorithmic tasks (section 4) as batch generators: copy,
//! repeat copy and associative recall, with random bits.
//!
//! Every task is a sequence of `time` input steps whose last `output_steps`
//! steps are silent (zero input) and carry the targets: the machine reads the
//! whole question, then answers. One batch has one size, so no padding.

use burn::tensor::{Device, Tensor, TensorData};
use recur_data::SplitMix64;
use serde::{Deserialize, Serialize};

use crate::error::NtmError;

/// Which task.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Task {
    /// Copy (section 4.1): a sequence of random bit vectors, a delimiter,
    /// then the same sequence as output.
    Copy,
    /// Repeat copy (section 4.2): a sequence, a delimiter, the repeat count;
    /// output: the sequence that many times, then an end marker.
    RepeatCopy,
    /// Associative recall (section 4.3): items of several vectors, each after
    /// a delimiter, then a query item between two query delimiters; output:
    /// the item that followed the query item.
    Recall,
}

impl Task {
    /// The smallest sequence size the task has: 1 vector, or for recall 2
    /// items (a query and the item after it).
    pub fn smallest_size(self) -> usize {
        if self == Task::Recall { 2 } else { 1 }
    }
}

impl std::fmt::Display for Task {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Task::Copy => "copy",
            Task::RepeatCopy => "repeat-copy",
            Task::Recall => "recall",
        })
    }
}

impl std::str::FromStr for Task {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "copy" => Ok(Task::Copy),
            "repeat-copy" => Ok(Task::RepeatCopy),
            "recall" => Ok(Task::Recall),
            other => Err(format!(
                "unknown task `{other}` (expected copy, repeat-copy or recall)"
            )),
        }
    }
}

/// A task and its sizes. The *size* of a sequence is its length for copy and
/// repeat copy, and its number of items for associative recall.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskConfig {
    /// Which task.
    pub task: Task,
    /// Random bits per vector.
    pub bits: usize,
    /// Smallest size drawn in training.
    pub min_size: usize,
    /// Largest size drawn in training.
    pub max_size: usize,
    /// Repeat copy: fewest repeats drawn (also scales the repeat input).
    pub min_repeats: usize,
    /// Repeat copy: most repeats drawn; the repeat count is given to the
    /// machine as `repeats / max_repeats`.
    pub max_repeats: usize,
    /// Associative recall: vectors per item.
    pub item_length: usize,
}

impl TaskConfig {
    /// The paper's training distribution for `task`: copy 8 bits, lengths
    /// 1-20; repeat copy 8 bits, lengths 1-10, repeats 1-10; recall 6 bits,
    /// items of 3 vectors, 2-6 items.
    pub fn paper(task: Task) -> Self {
        let (bits, min_size, max_size) = match task {
            Task::Copy => (8, 1, 20),
            Task::RepeatCopy => (8, 1, 10),
            Task::Recall => (6, 2, 6),
        };
        TaskConfig {
            task,
            bits,
            min_size,
            max_size,
            min_repeats: 1,
            max_repeats: 10,
            item_length: 3,
        }
    }

    /// Checks the sizes; the message names the field.
    pub fn validate(&self) -> Result<(), NtmError> {
        let smallest = self.task.smallest_size();
        let problem = if self.bits == 0 {
            Some("bits must be at least 1".to_string())
        } else if self.min_size < smallest || self.min_size > self.max_size {
            Some(format!(
                "sizes must satisfy {smallest} <= min_size <= max_size, got {}..{}",
                self.min_size, self.max_size
            ))
        } else if self.min_repeats == 0 || self.min_repeats > self.max_repeats {
            Some(format!(
                "repeats must satisfy 1 <= min_repeats <= max_repeats, got {}..{}",
                self.min_repeats, self.max_repeats
            ))
        } else if self.item_length == 0 {
            Some("item_length must be at least 1".to_string())
        } else {
            None
        };
        problem.map_or(Ok(()), |p| Err(NtmError::Config(p)))
    }

    /// Features of each input step: the bits plus one delimiter channel
    /// (copy) or two (repeat copy: delimiter and repeat count; recall: item
    /// and query delimiters).
    pub fn input_size(&self) -> usize {
        match self.task {
            Task::Copy => self.bits + 1,
            Task::RepeatCopy | Task::Recall => self.bits + 2,
        }
    }

    /// Features of each output step: the bits, plus the end marker for
    /// repeat copy.
    pub fn output_size(&self) -> usize {
        match self.task {
            Task::Copy | Task::Recall => self.bits,
            Task::RepeatCopy => self.bits + 1,
        }
    }

    /// A training batch: a size (and repeat count) drawn uniformly from the
    /// configured ranges, shared by the whole batch.
    pub fn sample(&self, batch: usize, rng: &mut SplitMix64) -> Batch {
        let size = self.min_size + rng.below(self.max_size - self.min_size + 1);
        let repeats = self.min_repeats + rng.below(self.max_repeats - self.min_repeats + 1);
        self.build(batch, size, repeats, rng)
    }

    /// A batch of a given size (and repeat count, used by repeat copy only),
    /// also outside the training range: for measuring generalisation.
    pub fn generate(
        &self,
        batch: usize,
        size: usize,
        repeats: usize,
        rng: &mut SplitMix64,
    ) -> Result<Batch, NtmError> {
        let smallest = self.task.smallest_size();
        if size < smallest {
            return Err(NtmError::Config(format!(
                "{} needs a size of at least {smallest}, got {size}",
                self.task
            )));
        }
        if repeats == 0 {
            return Err(NtmError::Config("repeats must be at least 1".into()));
        }
        Ok(self.build(batch, size, repeats, rng))
    }

    fn build(&self, batch: usize, size: usize, repeats: usize, rng: &mut SplitMix64) -> Batch {
        let bits = self.bits;
        let (question, output_steps) = match self.task {
            Task::Copy => (size + 1, size),
            Task::RepeatCopy => (size + 2, size * repeats + 1),
            Task::Recall => ((size + 1) * (self.item_length + 1) + 1, self.item_length),
        };
        let mut out = Batch {
            input: vec![0.0; batch * (question + output_steps) * self.input_size()],
            target: vec![0.0; batch * output_steps * self.output_size()],
            batch,
            time: question + output_steps,
            input_size: self.input_size(),
            output_size: self.output_size(),
            output_steps,
        };
        for b in 0..batch {
            match self.task {
                Task::Copy => {
                    for t in 0..size {
                        let v = random_bits(bits, rng);
                        out.set_input(b, t, 0, &v);
                        out.set_target(b, t, 0, &v);
                    }
                    out.set_input(b, size, bits, &[1.0]);
                }
                Task::RepeatCopy => {
                    for t in 0..size {
                        let v = random_bits(bits, rng);
                        out.set_input(b, t, 0, &v);
                        for r in 0..repeats {
                            out.set_target(b, r * size + t, 0, &v);
                        }
                    }
                    out.set_input(b, size, bits, &[1.0]);
                    let scaled = repeats as f32 / self.max_repeats as f32;
                    out.set_input(b, size + 1, bits + 1, &[scaled]);
                    out.set_target(b, size * repeats, bits, &[1.0]);
                }
                Task::Recall => {
                    let len = self.item_length;
                    let items: Vec<Vec<Vec<f32>>> = (0..size)
                        .map(|_| (0..len).map(|_| random_bits(bits, rng)).collect())
                        .collect();
                    for (k, item) in items.iter().enumerate() {
                        let start = k * (len + 1);
                        out.set_input(b, start, bits, &[1.0]);
                        for (i, v) in item.iter().enumerate() {
                            out.set_input(b, start + 1 + i, 0, v);
                        }
                    }
                    let query = rng.below(size - 1);
                    let start = size * (len + 1);
                    out.set_input(b, start, bits + 1, &[1.0]);
                    for (i, v) in items[query].iter().enumerate() {
                        out.set_input(b, start + 1 + i, 0, v);
                    }
                    out.set_input(b, start + 1 + len, bits + 1, &[1.0]);
                    for (i, v) in items[query + 1].iter().enumerate() {
                        out.set_target(b, i, 0, v);
                    }
                }
            }
        }
        out
    }
}

/// `bits` independent fair coin flips as 0.0 and 1.0.
fn random_bits(bits: usize, rng: &mut SplitMix64) -> Vec<f32> {
    (0..bits).map(|_| (rng.next_u64() >> 63) as f32).collect()
}

/// One batch of a task: inputs and the targets of its last `output_steps`
/// steps, as row-major host data.
#[derive(Debug, Clone, PartialEq)]
pub struct Batch {
    /// Inputs, `[batch, time, input_size]`.
    pub input: Vec<f32>,
    /// Targets, `[batch, output_steps, output_size]`.
    pub target: Vec<f32>,
    /// Sequences.
    pub batch: usize,
    /// Steps per sequence, question and answer.
    pub time: usize,
    /// Features per input step.
    pub input_size: usize,
    /// Features per output step.
    pub output_size: usize,
    /// The answer: the last `output_steps` of the `time` steps.
    pub output_steps: usize,
}

impl Batch {
    /// The inputs as a tensor `[batch, time, input_size]`.
    pub fn input_tensor(&self, device: &Device) -> Tensor<3> {
        let shape = [self.batch, self.time, self.input_size];
        Tensor::from_data(TensorData::new(self.input.clone(), shape), device)
    }

    /// The targets as a tensor `[batch, output_steps, output_size]`.
    pub fn target_tensor(&self, device: &Device) -> Tensor<3> {
        let shape = [self.batch, self.output_steps, self.output_size];
        Tensor::from_data(TensorData::new(self.target.clone(), shape), device)
    }

    /// The answer part of a model's outputs `[batch, time, output_size]`:
    /// its last `output_steps` steps.
    pub fn answer(&self, outputs: Tensor<3>) -> Tensor<3> {
        outputs.narrow(1, self.time - self.output_steps, self.output_steps)
    }

    fn set_input(&mut self, b: usize, t: usize, channel: usize, values: &[f32]) {
        let at = (b * self.time + t) * self.input_size + channel;
        self.input[at..at + values.len()].copy_from_slice(values);
    }

    fn set_target(&mut self, b: usize, t: usize, channel: usize, values: &[f32]) {
        let at = (b * self.output_steps + t) * self.output_size + channel;
        self.target[at..at + values.len()].copy_from_slice(values);
    }
}
