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
use burn::tensor::{Distribution, Tensor};
use recur_train::Backend;

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
    let random =
        |shape: [usize; 2]| Tensor::<2>::random(shape, Distribution::Normal(0.0, 1.0), &device);
    // Median milliseconds of 20 calls; reading one value back waits for the result.
    let time = |f: &dyn Fn() -> Tensor<2>| {
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
    };
    let report = |name: &str, flops: f64, f: &dyn Fn() -> Tensor<2>| {
        let ms = time(f);
        println!(
            "{backend} | {name} | {ms:.3} ms | {:.0} GFLOP/s",
            flops / ms / 1e6
        );
    };

    let (batch, hidden, width, input, steps) = (32, 512, 2048, 256, 64);
    let h = random([batch, hidden]);
    let h_t = random([hidden, batch]);
    let w_hh = random([hidden, width]);
    let w_hh_t = random([width, hidden]);
    let d = random([batch, width]);
    let d_t = random([width, batch]);
    let step = 2.0 * (batch * hidden * width) as f64;
    report("h · W_hh [32,512]x[512,2048]", step, &|| {
        h.clone().matmul(w_hh.clone())
    });
    report("W_hhᵀ · hᵀ [2048,512]x[512,32]", step, &|| {
        w_hh_t.clone().matmul(h_t.clone())
    });
    report("d · W_hhᵀ (view) [32,2048]x[2048,512]", step, &|| {
        d.clone().matmul(w_hh.clone().transpose())
    });
    report("W_hh · dᵀ [512,2048]x[2048,32]", step, &|| {
        w_hh.clone().matmul(d_t.clone())
    });

    let rows = batch * steps;
    let x = random([rows, input]);
    let w_ih = random([input, width]);
    let projected = random([rows, width]);
    let h_all = random([hidden, rows]);
    let sequence = 2.0 * (rows * input * width) as f64;
    report("x · W_ih [2048,256]x[256,2048]", sequence, &|| {
        x.clone().matmul(w_ih.clone())
    });
    report(
        "dxw · W_ihᵀ (view) [2048,2048]x[2048,256]",
        sequence,
        &|| projected.clone().matmul(w_ih.clone().transpose()),
    );
    report(
        "xᵀ (view) · dxw [256,2048]x[2048,2048]",
        sequence,
        &|| x.clone().transpose().matmul(projected.clone()),
    );
    report(
        "Hᵀ · dxw [512,2048]x[2048,2048]",
        2.0 * (hidden * rows * width) as f64,
        &|| h_all.clone().matmul(projected.clone()),
    );

    // Elementwise, on one step's gate pre-activations (65,536 floats).
    let gates = random([width, batch]);
    let elementwise = |name: &str, f: &dyn Fn() -> Tensor<2>| {
        println!("{backend} | {name} | {:.3} ms |", time(f));
    };
    elementwise("sigmoid", &|| sigmoid(gates.clone()));
    elementwise("1 / (1 + exp(-x))", &|| {
        gates.clone().neg().exp().add_scalar(1.0).recip()
    });
    elementwise("tanh", &|| gates.clone().tanh());
    elementwise("2σ(2x) - 1", &|| {
        gates
            .clone()
            .mul_scalar(-2.0)
            .exp()
            .add_scalar(1.0)
            .recip()
            .mul_scalar(2.0)
            .sub_scalar(1.0)
    });
    elementwise("x * y", &|| gates.clone() * gates.clone());

    // An output layer, forward and backward (the gradients of its input,
    // weight and bias), through burn's `Linear` and through `linear`.
    let autodiff = device.clone().autodiff();
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
            report(
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

    // One decoder step's additive attention score at translate's sizes,
    // forward and backward: burn's composed ops against `additive_scores`.
    let [batch, source, hidden] = [32, 12, 256];
    let keys = Tensor::<3>::random([batch, source, hidden], Distribution::Default, &autodiff)
        .require_grad();
    let query =
        Tensor::<2>::random([batch, hidden], Distribution::Default, &autodiff).require_grad();
    let v = Tensor::<1>::random([hidden], Distribution::Default, &autodiff).require_grad();
    for (how, ours) in [("burn ops", false), ("recur_cells::additive_scores", true)] {
        elementwise(
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
