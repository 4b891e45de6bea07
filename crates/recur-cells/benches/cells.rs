//! Forward + backward timing of Recur's LSTM/GRU against burn::nn's, one JSON
//! line per measurement. Run through `cargo xtask bench cells`, which adds
//! PyTorch and writes docs/BENCHMARKS.md; alone:
//!
//! ```text
//! cargo bench -p recur-cells --bench cells -- --backend flex --batch 32 --time 64 --input 256 --hidden 512
//! ```

use std::time::Instant;

use burn::nn::{GruConfig, LstmConfig};
use burn::tensor::{Distribution, Tensor};
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

    for (cell, kind) in [("lstm", CellKind::Lstm), ("gru", CellKind::Gru)] {
        let layer = RecurrentConfig::new(kind, o.input, o.hidden).init(&device);
        let timing = time(&o, || {
            let input = x();
            let out = layer.forward(input.clone(), None, None).expect("forward");
            let grads = out.output.sum().backward();
            sync(input.grad(&grads).expect("gradient"));
        });
        report("Recur", &o, cell, timing);
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
