//! What the three examples share: a seeded random source (so runs repeat
//! exactly), tensor construction and the training step.

use burn::module::Module;
use burn::optim::{GradientsParams, ModuleOptimizer};
use burn::tensor::{Device, Int, Tensor, TensorData};

/// xorshift64*: tiny, seeded, good enough for toy data.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed.max(1))
    }

    /// Uniform in `0..n`.
    pub fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545F4914F6CDD1D) >> 33) as usize % n
    }
}

/// `rows` of token ids, padded with `pad` to the longest, as `[batch, time]`.
pub fn padded_ids(rows: &[Vec<usize>], pad: usize, device: &Device) -> Tensor<2, Int> {
    let time = rows.iter().map(Vec::len).max().unwrap_or(0);
    let values: Vec<i64> = rows
        .iter()
        .flat_map(|row| (0..time).map(move |t| row.get(t).copied().unwrap_or(pad) as i64))
        .collect();
    Tensor::from_data(TensorData::new(values, [rows.len(), time]), device)
}

/// One optimiser step on `loss`; every 100th iteration also prints the loss.
pub fn step<M: Module>(
    model: M,
    optimizer: &mut ModuleOptimizer,
    loss: Tensor<1>,
    lr: f64,
    iteration: usize,
) -> M {
    if iteration.is_multiple_of(100) {
        println!(
            "step {iteration}: loss {:.4}",
            loss.clone().into_scalar::<f32>()
        );
    }
    let grads = GradientsParams::from_grads(loss.backward(), &model);
    optimizer.step(lr, model, grads)
}

/// The device the examples train on: ndarray unless `RECUR_BACKEND` names
/// another (`flex`, `wgpu`).
pub fn device() -> Device {
    let name = std::env::var("RECUR_BACKEND").unwrap_or_else(|_| "ndarray".into());
    let backend: recur_train::Backend = name.parse().unwrap_or_else(|e| {
        eprintln!("RECUR_BACKEND: {e}");
        std::process::exit(2)
    });
    backend.autodiff_device()
}
