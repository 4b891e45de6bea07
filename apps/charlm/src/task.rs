//! What charlm's training loop trains: truncated BPTT over parallel text
//! streams, validation loss and a sample each epoch.

use std::path::PathBuf;

use burn::module::Module;
use burn::tensor::{Device, Tensor};
use recur_cells::RecurrentState;
use recur_data::{BpttWindows, CharVocab, Window};
use recur_train::{AppError, Best, Context, Loss, RunDir, Shard, Task};
use serde::Serialize;

use crate::Config;
use crate::model::{CharLm, generate};

/// Training on a text: truncated BPTT over parallel streams.
pub struct CharLmTask {
    pub config: Config,
    pub vocab: CharVocab,
    pub train: Vec<usize>,
    pub valid: Vec<usize>,
    /// The state carried from one window into the next (this worker's rows).
    pub carried: Option<RecurrentState>,
    /// `--init` for a new run (a resumed one starts from its checkpoint).
    pub init: Option<PathBuf>,
}

/// One row of metrics.csv beside the loop's own columns.
#[derive(Serialize)]
pub struct Metrics {
    /// Nats per character.
    valid_loss: f64,
    valid_bpc: f64,
}

impl Task for CharLmTask {
    type Model = CharLm;
    type Batch = Window;
    type Metrics = Metrics;
    const SYSTEM: &'static str = crate::SYSTEM;
    const UNIT: &'static str = "chars";
    const BEST: Option<Best> = Some(Best {
        metric: "valid_loss",
        higher_is_better: false,
    });

    fn model(&self, device: &Device) -> Result<CharLm, AppError> {
        let model = CharLm::new(&self.config, self.vocab.len(), device);
        match &self.init {
            Some(path) => model
                .load_torch(path)
                .context(format_args!("--init {}", path.display())),
            None => Ok(model),
        }
    }

    fn describe(&self, model: &CharLm) -> String {
        let (train, valid) = (self.train.len(), self.valid.len());
        let params = model.num_params();
        format!(
            "{train} + {valid} characters, vocabulary {}, {} with {params} parameters",
            self.vocab.len(),
            self.config.cell
        )
    }

    fn save(&self, run: &RunDir) -> Result<(), AppError> {
        Ok(self.vocab.save(run.path().join("vocab.json"))?)
    }

    fn batches(&mut self, _epoch: usize) -> Result<Vec<Window>, AppError> {
        self.carried = None;
        let (batch, window) = (self.config.train.batch, self.config.window);
        Ok(BpttWindows::new(&self.train, batch, window)
            .context("--batch/--window")?
            .collect())
    }

    fn items(&self, window: &Window) -> u64 {
        (window.batch * window.time) as u64
    }

    fn loss(
        &mut self,
        model: &CharLm,
        window: &Window,
        shard: Shard,
        device: &Device,
    ) -> Result<Loss, AppError> {
        let rows = window.rows(shard.range(window.batch));
        let (mean, last) = model.loss(&rows, self.carried.take(), device);
        // Truncated BPTT: the state flows into the next window, its graph does not.
        self.carried = Some(RecurrentState {
            h: last.h.detach(),
            c: last.c.map(Tensor::detach),
        });
        Ok(Loss {
            mean,
            items: self.items(&rows) as f64,
        })
    }

    fn evaluate(
        &mut self,
        model: &CharLm,
        epoch: usize,
        run: &RunDir,
        device: &Device,
    ) -> Result<Metrics, AppError> {
        let valid_loss = evaluate(model, &self.valid, &self.config, device)?;
        let seed = self.config.train.seed + epoch as u64;
        let text = generate(model, &self.vocab, "\n", 300, 0.8, seed, device)?;
        let path = run.samples().join(format!("epoch-{epoch:03}.txt"));
        std::fs::write(&path, &text).context(path.display())?;
        eprintln!("--- sample ---\n{text}\n--------------");
        Ok(Metrics {
            valid_loss,
            valid_bpc: recur_eval::bits_per_char(valid_loss),
        })
    }
}

/// Mean cross-entropy (nats per character) over `tokens`, carrying the state
/// across windows as in training.
fn evaluate(
    model: &CharLm,
    tokens: &[usize],
    config: &Config,
    device: &Device,
) -> Result<f64, AppError> {
    let rows = config
        .train
        .batch
        .min(tokens.len().saturating_sub(1) / config.window)
        .max(1);
    let (mut carried, mut total, mut count) = (None, 0.0, 0usize);
    for window in BpttWindows::new(tokens, rows, config.window)? {
        let (loss, last) = model.loss(&window, carried, device);
        let n = window.batch * window.time;
        total += f64::from(loss.into_scalar::<f32>()) * n as f64;
        count += n;
        carried = Some(last);
    }
    Ok(total / count.max(1) as f64)
}
