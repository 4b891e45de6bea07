//! What a trained network is measured and drawn by: bit errors on held-out
//! sequences, the paper's pictures of one sequence, the bit-error curve; and
//! the `eval` command, which does the first two at any size.

use burn::tensor::activation::sigmoid;
use burn::tensor::{Device, Tensor};
use recur_data::SplitMix64;
use recur_ntm::loss::{binary_cross_entropy, bit_errors};
use recur_ntm::{Task, TaskConfig};
use recur_train::plot::{Heatmap, Series, heatmap, line_chart};
use recur_train::{AppError, RunDir, load_best, read_metrics};

use crate::config::{Config, EvalArgs};
use crate::net::Net;

/// Mean loss and bit errors over test sequences of one size.
pub struct Evaluation {
    /// Nats per bit.
    pub loss: f64,
    /// Wrong bits per sequence.
    pub bit_errors: f64,
}

/// `model` on `sequences` test sequences of `size` (and `repeats`), drawn
/// from `seed`.
pub fn measure(
    model: &Net,
    task: &TaskConfig,
    size: usize,
    repeats: usize,
    sequences: usize,
    seed: u64,
    device: &Device,
) -> Result<Evaluation, AppError> {
    let mut rng = SplitMix64::new(seed);
    let (mut loss, mut errors, mut done) = (0.0, 0usize, 0usize);
    while done < sequences {
        let batch = (sequences - done).min(16);
        let data = task.generate(batch, size, repeats, &mut rng)?;
        let logits = data.answer(model.forward(data.input_tensor(device))?);
        let targets = data.target_tensor(device);
        let mean = binary_cross_entropy(logits.clone(), targets.clone()).into_scalar::<f32>();
        loss += f64::from(mean) * batch as f64;
        errors += bit_errors(logits, targets).iter().sum::<usize>();
        done += batch;
    }
    Ok(Evaluation {
        loss: loss / sequences as f64,
        bit_errors: errors as f64 / sequences as f64,
    })
}

/// The paper's figures for one test sequence: input, target, output and, for
/// the NTM, the read and write weightings over time, one PNG each under
/// `plots/size-<size>-*.png`. Time runs left to right.
pub fn pictures(
    model: &Net,
    task: &TaskConfig,
    size: usize,
    repeats: usize,
    seed: u64,
    run: &RunDir,
    device: &Device,
) -> Result<(), AppError> {
    let data = task.generate(1, size, repeats, &mut SplitMix64::new(seed))?;
    let (logits, weightings) = match model {
        Net::Ntm(ntm) => {
            let trace = ntm.trace(data.input_tensor(device))?;
            let weightings = vec![
                ("read", trace.read_weightings),
                ("write", trace.write_weightings),
            ];
            (trace.logits, weightings)
        }
        Net::Lstm(_) => (model.forward(data.input_tensor(device))?, Vec::new()),
    };
    let output = sigmoid(data.answer(logits));
    let host = |t: Tensor<3>| t.into_data().try_to_vec::<f32>();
    let (time, answer) = (data.time, data.output_steps);
    let draw = |name: &str, title: &str, rows: usize, cols: usize, values: Vec<f32>| {
        // Stored [time, feature]; drawn feature x time, like the paper.
        let transposed: Vec<f32> = (0..cols * rows)
            .map(|i| values[(i % rows) * cols + i / rows])
            .collect();
        let heatmap_of = Heatmap {
            title,
            values: &transposed,
            rows: cols,
            cols: rows,
            row_labels: &[],
            col_labels: &[],
            range: Some((0.0, 1.0)),
        };
        heatmap(
            &heatmap_of,
            run.plots().join(format!("size-{size:03}-{name}.png")),
        )
    };
    let title = format!("{} input, size {size}", task.task);
    draw("input", &title, time, data.input_size, data.input.clone())?;
    draw(
        "target",
        "target",
        answer,
        data.output_size,
        data.target.clone(),
    )?;
    let probabilities = host(output)?;
    draw(
        "output",
        "output (probabilities)",
        answer,
        data.output_size,
        probabilities,
    )?;
    for (name, w) in weightings {
        let [_, steps, heads, rows] = w.dims();
        for head in 0..heads {
            let values = host(w.clone().narrow(2, head, 1).reshape([1, steps, rows]))?;
            let title = format!("{name} weightings, head {head} (location x time)");
            draw(&format!("{name}-{head}"), &title, steps, rows, values)?;
        }
    }
    Ok(())
}

/// `plots/bit-errors.png`: training and validation bit errors per sequence
/// by epoch, the earlier epochs from `metrics.csv` and `epoch`'s (not yet
/// written there) from `now`.
pub fn plot_bit_errors(run: &RunDir, epoch: usize, now: [(&str, f64); 2]) -> Result<(), AppError> {
    let metrics = run
        .metrics()
        .is_file()
        .then(|| read_metrics(run.metrics()))
        .transpose()?;
    let series: Vec<Series> = now
        .into_iter()
        .map(|(column, value)| {
            let mut points: Vec<(f64, f64)> = metrics
                .as_ref()
                .and_then(|metrics| metrics.points("epoch", column))
                .unwrap_or_default()
                .into_iter()
                .filter(|&(x, _)| x < epoch as f64)
                .collect();
            points.push((epoch as f64, value));
            Series::new(column, points)
        })
        .collect();
    let path = run.plots().join("bit-errors.png");
    Ok(line_chart(&series, "bit errors per sequence", path)?)
}

/// `ntm eval`: the bit errors of a run's best model at one size, and the
/// pictures of one test sequence.
pub fn eval(args: EvalArgs) -> Result<(), AppError> {
    recur_train::check::sizes(&[
        ("length", args.length),
        ("sequences", args.sequences),
        ("repeats", args.repeats.unwrap_or(1)),
    ])?;
    let run = RunDir::open(&args.run, crate::SYSTEM)?;
    let config: Config = run.read_config()?;
    let task = config.task()?;
    let repeats = args.repeats.unwrap_or(task.max_repeats);
    let device = args.backend.device();
    let (model, state) = load_best(&run, Net::new(&config, &task, &device)?)?;
    let result = measure(
        &model,
        &task,
        args.length,
        repeats,
        args.sequences,
        args.seed,
        &device,
    )?;
    pictures(
        &model,
        &task,
        args.length,
        repeats,
        args.seed,
        &run,
        &device,
    )?;
    let repeats = match task.task {
        Task::RepeatCopy => format!(", {repeats} repeats"),
        _ => String::new(),
    };
    println!(
        "{} size {}{repeats}: {:.3} bit errors per sequence, loss {:.5} nats per bit ({} test sequences; trained on {} sequences of sizes {}..={})",
        task.task,
        args.length,
        result.bit_errors,
        result.loss,
        args.sequences,
        state.step * config.train.batch as u64,
        task.min_size,
        task.max_size
    );
    Ok(())
}
