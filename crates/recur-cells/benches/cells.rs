//! Forward + backward timing of Recur's LSTM, GRU and vanilla RNN against
//! burn::nn's and against the layer's matrix products alone, one JSON line
//! per measurement. Run through `cargo xtask bench cells`, which adds
//! PyTorch and writes docs/BENCHMARKS.md; alone:
//!
//! ```text
//! cargo bench -p recur-cells --bench cells -- --backend flex --batch 32 --time 64 --input 256 --hidden 512
//! ```

use std::time::Instant;

use burn::nn::{GruConfig, LstmConfig};
use burn::tensor::{Distribution, Tensor};
use ndarray::Array2;
use ndarray::linalg::general_mat_mul;
use recur_cells::{CellKind, RecurrentConfig};
use recur_train::Backend;

/// As in the apps: glibc's malloc faults the layer's large buffers in again
/// on every call; with it the LSTM took 1.4x as long (docs/BENCHMARKS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

struct Options {
    backend: Backend,
    batch: usize,
    time: usize,
    input: usize,
    hidden: usize,
    warmup: usize,
    iters: usize,
    /// Also time burn::nn's Lstm and Gru.
    with_burn: bool,
}

fn parse() -> Result<Options, String> {
    let mut o = Options {
        backend: Backend::Flex,
        batch: 32,
        time: 64,
        input: 256,
        hidden: 512,
        warmup: 2,
        iters: 10,
        with_burn: true,
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        match flag.as_str() {
            "--bench" => continue, // cargo bench passes it to harness = false targets
            "--recur-only" => {
                o.with_burn = false;
                continue;
            }
            _ => {}
        }
        let value = args.next().ok_or(format!("{flag} needs a value"))?;
        let number = || {
            value
                .parse::<usize>()
                .map_err(|e| format!("{flag} {value}: {e}"))
        };
        match flag.as_str() {
            "--backend" => o.backend = value.parse()?,
            "--batch" => o.batch = number()?,
            "--time" => o.time = number()?,
            "--input" => o.input = number()?,
            "--hidden" => o.hidden = number()?,
            "--warmup" => o.warmup = number()?,
            "--iters" => o.iters = number()?,
            _ => return Err(format!("unknown flag {flag}")),
        }
    }
    Ok(o)
}

/// Median and minimum seconds of `f` over the timed iterations.
fn time(o: &Options, mut f: impl FnMut()) -> (f64, f64) {
    let mut times: Vec<f64> = (0..o.warmup + o.iters)
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed().as_secs_f64()
        })
        .skip(o.warmup)
        .collect();
    times.sort_by(f64::total_cmp);
    (times[times.len() / 2], times[0])
}

fn report(implementation: &str, o: &Options, cell: &str, (median, min): (f64, f64)) {
    println!(
        "{{\"implementation\": \"{implementation}\", \"backend\": \"{}\", \"cell\": \"{cell}\", \"median_s\": {median}, \"min_s\": {min}}}",
        o.backend
    );
}

fn main() {
    let o = match parse() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(2);
        }
    };
    let device = o.backend.autodiff_device();
    // One input for every iteration, made outside the timings, as the
    // PyTorch reference does (xtask/bench/cells.py).
    let input = Tensor::<3>::random(
        [o.batch, o.time, o.input],
        Distribution::Normal(0.0, 1.0),
        &device,
    )
    .require_grad();
    let x = || input.clone();
    // Reading one value back forces backends that run asynchronously to finish.
    let sync = |t: Tensor<3>| t.slice([0..1, 0..1, 0..1]).into_data();

    let cells = [
        ("lstm", CellKind::Lstm),
        ("gru", CellKind::Gru),
        ("rnn", CellKind::RnnTanh),
    ];
    for (cell, kind) in cells {
        let layer = RecurrentConfig::new(kind, o.input, o.hidden).init(&device);
        let timing = time(&o, || {
            let input = x();
            let out = layer.forward(input.clone(), None, None).expect("forward");
            let grads = out.output.sum().backward();
            sync(input.grad(&grads).expect("gradient"));
        });
        report("Recur", &o, cell, timing);
        let timing = matmuls(&o, kind.gates());
        println!(
            "{{\"implementation\": \"sgemm at its peak\", \"backend\": \"OpenBLAS sgemm\", \"cell\": \"{cell}\", \"median_s\": {}, \"min_s\": {}}}",
            timing.0, timing.1
        );
    }

    if !o.with_burn {
        return;
    }
    let lstm = LstmConfig::new(o.input, o.hidden, true).init(&device);
    let timing = time(&o, || {
        let input = x();
        let (out, _) = lstm.forward(input.clone(), None);
        let grads = out.sum().backward();
        sync(input.grad(&grads).expect("gradient"));
    });
    report("burn::nn", &o, "lstm", timing);

    let gru = GruConfig::new(o.input, o.hidden, true).init(&device);
    let timing = time(&o, || {
        let input = x();
        let out = gru.forward(input.clone(), None);
        let grads = out.sum().backward();
        sync(input.grad(&grads).expect("gradient"));
    });
    report("burn::nn", &o, "gru", timing);
}

/// The time the layer's matrix products would take at the rate of the BLAS
/// the layer uses (OpenBLAS's `sgemm` through ndarray, as recur-cells'
/// `host::gemm::matmul`) on the layer's whole-sequence shapes: the input
/// projection, the input's and the input weights' gradients and the
/// recurrent weights' gradient, one call each, timed together; their rate
/// scaled to all of the layer's products (the per-step ones too, which one
/// `sgemm` call each would run slower). The layer's time against this is
/// its share of the machine's peak.
fn matmuls(o: &Options, gates: usize) -> (f64, f64) {
    let rows = o.batch * o.time;
    let out = gates * o.hidden;
    let values = |shape: (usize, usize)| {
        Array2::from_shape_fn(shape, |(i, j)| ((i * 7 + j * 13) % 17) as f32 / 17.0)
    };
    let (x, w_ih, dg) = (
        values((rows, o.input)),
        values((o.input, out)),
        values((rows, out)),
    );
    let hs = values((rows, o.hidden));
    let mut c = [
        Array2::<f32>::zeros((rows, out)),
        Array2::<f32>::zeros((rows, o.input)),
        Array2::<f32>::zeros((o.input, out)),
        Array2::<f32>::zeros((o.hidden, out)),
    ];
    let (median, min) = time(o, || {
        general_mat_mul(1.0, &x, &w_ih, 0.0, &mut c[0]);
        general_mat_mul(1.0, &dg, &w_ih.t(), 0.0, &mut c[1]);
        general_mat_mul(1.0, &x.t(), &dg, 0.0, &mut c[2]);
        general_mat_mul(1.0, &hs.t(), &dg, 0.0, &mut c[3]);
    });
    // Timed: 3 products with `input` columns and 1 with `hidden`; the
    // layer has 3 of each.
    let scale = (3 * (o.input + o.hidden)) as f64 / (3 * o.input + o.hidden) as f64;
    (median * scale, min * scale)
}
