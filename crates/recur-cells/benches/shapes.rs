//! Where the time of an LSTM step goes on a CPU backend: the matmul layouts
//! and activation functions the fused kernel chooses between, at the
//! benchmark's sizes (batch 32, hidden 512, 4 gates, input 256, time 64).
//! Then an output layer, burn's `Linear` against `recur_cells::linear`,
//! forward and backward at charlm's and translate's sizes, and translate's
//! additive attention score, burn's ops against
//! `recur_cells::additive_scores`. The numbers
//! behind the design notes in docs/BENCHMARKS.md:
//!
//! ```text
//! cargo bench -p recur-cells --bench shapes --profile dev -- [flex|ndarray]
//! ```

use std::time::Instant;

use burn::module::Param;
use burn::nn::LinearConfig;
use burn::tensor::activation::sigmoid;
use burn::tensor::{Device, Distribution, Tensor};
use recur_train::Backend;

/// The backend measured, and how each measurement is timed and printed.
struct Bench {
    backend: Backend,
    device: Device,
}

impl Bench {
    fn random(&self, shape: [usize; 2]) -> Tensor<2> {
        Tensor::<2>::random(shape, Distribution::Normal(0.0, 1.0), &self.device)
    }

    /// Median milliseconds of 20 calls; reading one value back waits for the result.
    fn time(&self, f: &dyn Fn() -> Tensor<2>) -> f64 {
        f().into_data();
        let mut times: Vec<f64> = (0..20)
            .map(|_| {
                let start = Instant::now();
                f().slice([0..1, 0..1]).into_data();
                start.elapsed().as_secs_f64() * 1e3
            })
            .collect();
        times.sort_by(f64::total_cmp);
        times[10]
    }

    /// One line: the median time and the rate of `flops` operations.
    fn report(&self, name: &str, flops: f64, f: &dyn Fn() -> Tensor<2>) {
        let ms = self.time(f);
        println!(
            "{} | {name} | {ms:.3} ms | {:.0} GFLOP/s",
            self.backend,
            flops / ms / 1e6
        );
    }

    /// One line: the median time.
    fn elementwise(&self, name: &str, f: &dyn Fn() -> Tensor<2>) {
        println!("{} | {name} | {:.3} ms |", self.backend, self.time(f));
    }
}

const BATCH: usize = 32;
const HIDDEN: usize = 512;
const WIDTH: usize = 2048;
const INPUT: usize = 256;
const STEPS: usize = 64;

fn main() {
    let backend: Backend = std::env::args()
        .skip(1)
        .find(|a| a != "--bench")
        .unwrap_or_else(|| "flex".into())
        .parse()
        .unwrap_or_else(|e| {
            eprintln!("error: {e}");
            std::process::exit(2)
        });
    let device = backend.device();
    let bench = Bench { backend, device };
    step_products(&bench);
    sequence_products(&bench);
    activations(&bench);
    output_layers(&bench);
    attention_scores(&bench);
}

/// One step's recurrent product and its gradient's, in both layouts.
fn step_products(bench: &Bench) {
    let (batch, hidden, width) = (BATCH, HIDDEN, WIDTH);
    let h = bench.random([batch, hidden]);
    let h_t = bench.random([hidden, batch]);
    let w_hh = bench.random([hidden, width]);
    let w_hh_t = bench.random([width, hidden]);
    let d = bench.random([batch, width]);
    let d_t = bench.random([width, batch]);
    let step = 2.0 * (batch * hidden * width) as f64;
    bench.report("h · W_hh [32,512]x[512,2048]", step, &|| {
        h.clone().matmul(w_hh.clone())
    });
    bench.report("W_hhᵀ · hᵀ [2048,512]x[512,32]", step, &|| {
        w_hh_t.clone().matmul(h_t.clone())
    });
    bench.report("d · W_hhᵀ (view) [32,2048]x[2048,512]", step, &|| {
        d.clone().matmul(w_hh.clone().transpose())
    });
    bench.report("W_hh · dᵀ [512,2048]x[2048,32]", step, &|| {
        w_hh.clone().matmul(d_t.clone())
    });
}

/// The products over all steps at once: the input projection and the
/// gradients of the input and the weights.
fn sequence_products(bench: &Bench) {
    let (hidden, width, input) = (HIDDEN, WIDTH, INPUT);
    let rows = BATCH * STEPS;
    let x = bench.random([rows, input]);
    let w_ih = bench.random([input, width]);
    let projected = bench.random([rows, width]);
    let h_all = bench.random([hidden, rows]);
    let sequence = 2.0 * (rows * input * width) as f64;
    bench.report("x · W_ih [2048,256]x[256,2048]", sequence, &|| {
        x.clone().matmul(w_ih.clone())
    });
    bench.report(
        "dxw · W_ihᵀ (view) [2048,2048]x[2048,256]",
        sequence,
        &|| projected.clone().matmul(w_ih.clone().transpose()),
    );
    bench.report(
        "xᵀ (view) · dxw [256,2048]x[2048,2048]",
        sequence,
        &|| x.clone().transpose().matmul(projected.clone()),
    );
    bench.report(
        "Hᵀ · dxw [512,2048]x[2048,2048]",
        2.0 * (hidden * rows * width) as f64,
        &|| h_all.clone().matmul(projected.clone()),
    );
}

/// Elementwise, on one step's gate pre-activations (65,536 floats).
fn activations(bench: &Bench) {
    let gates = bench.random([WIDTH, BATCH]);
    bench.elementwise("sigmoid", &|| sigmoid(gates.clone()));
    bench.elementwise("1 / (1 + exp(-x))", &|| {
        gates.clone().neg().exp().add_scalar(1.0).recip()
    });
    bench.elementwise("tanh", &|| gates.clone().tanh());
    bench.elementwise("2σ(2x) - 1", &|| {
        gates
            .clone()
            .mul_scalar(-2.0)
            .exp()
            .add_scalar(1.0)
            .recip()
            .mul_scalar(2.0)
            .sub_scalar(1.0)
    });
    bench.elementwise("x * y", &|| gates.clone() * gates.clone());
}

/// An output layer, forward and backward (the gradients of its input,
/// weight and bias), through burn's `Linear` and through `linear`.
fn output_layers(bench: &Bench) {
    let autodiff = bench.device.clone().autodiff();
    for (name, [batch, time, features, vocab]) in [
        ("charlm", [32, 64, 256, 77]),
        ("translate", [32, 12, 256, 6194]),
    ] {
        let layer = LinearConfig::new(features, vocab).init(&autodiff);
        let input = Tensor::<3>::random([batch, time, features], Distribution::Default, &autodiff)
            .require_grad();
        let flops = 6.0 * (batch * time * features * vocab) as f64;
        let shape = format!("[{batch},{time},{features}]x[{features},{vocab}] forward + backward");
        for (how, ours) in [("burn Linear", false), ("recur_cells::linear", true)] {
            bench.report(
                &format!("{name} output layer, {how}, {shape}"),
                flops,
                &|| {
                    let output = if ours {
                        let bias = layer.bias.as_ref().map(Param::val);
                        recur_cells::linear(input.clone(), layer.weight.val(), bias)
                    } else {
                        layer.forward(input.clone())
                    };
                    let grads = output.sum().backward();
                    layer.weight.grad(&grads).expect("the weight's gradient")
                },
            );
        }
    }
}

/// One decoder step's additive attention score at translate's sizes,
/// forward and backward: burn's composed ops against `additive_scores`.
fn attention_scores(bench: &Bench) {
    let autodiff = bench.device.clone().autodiff();
    let [batch, source, hidden] = [32, 12, 256];
    let keys = Tensor::<3>::random([batch, source, hidden], Distribution::Default, &autodiff)
        .require_grad();
    let query =
        Tensor::<2>::random([batch, hidden], Distribution::Default, &autodiff).require_grad();
    let v = Tensor::<1>::random([hidden], Distribution::Default, &autodiff).require_grad();
    for (how, ours) in [("burn ops", false), ("recur_cells::additive_scores", true)] {
        bench.elementwise(
            &format!(
                "translate attention score, {how}, [{batch},{source},{hidden}] forward + backward"
            ),
            &|| {
                let scores = if ours {
                    recur_cells::additive_scores(keys.clone(), query.clone(), v.clone())
                } else {
                    (keys.clone() + query.clone().unsqueeze_dim::<3>(1))
                        .tanh()
                        .reshape([batch * source, hidden])
                        .matmul(v.clone().reshape([hidden, 1]))
                        .reshape([batch, source])
                };
                let grads = scores.sum().backward();
                keys.grad(&grads)
                    .expect("the keys' gradient")
                    .reshape([batch * source, hidden])
            },
        );
    }
}
