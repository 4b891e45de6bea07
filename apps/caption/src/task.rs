//! What captioning brings to `recur-train`'s training loop: the data, the
//! model, batches of captions, their loss, and validation.

use burn::module::Module;
use burn::tensor::Device;
use recur_caption::{CaptionData, CaptionModel};
use recur_data::{Batcher, Split, WordVocab, tokenize};
use recur_train::{AppError, Best, Context, Loss, RunDir, Shard, Task};
use serde::Serialize;

use crate::Config;
use crate::model::{self, Captions};

/// Training on captioned images: batches of captions, each with its image.
pub struct CaptionTask {
    config: Config,
    /// The images and their captions.
    pub data: CaptionData,
    /// The words of the training captions.
    pub vocab: WordVocab,
    batcher: Batcher,
    train: Captions,
    valid: Captions,
}

impl CaptionTask {
    /// Reads (or generates) the data of `config` and builds the vocabulary
    /// from its training captions; a data set without training or
    /// validation captions is an error.
    pub fn new(config: Config) -> Result<CaptionTask, AppError> {
        let data = config.data()?;
        let vocab = WordVocab::build(
            data.split(Split::Train)
                .iter()
                .flat_map(|&i| data.images[i].captions.iter().map(|c| tokenize(c))),
            config.min_count,
        );
        let specials = WordVocab::SPECIALS.len();
        recur_train::check::vocabulary(config.min_count, vocab.len(), specials)?;
        let train = Captions::of(&data, &vocab, Split::Train);
        let valid = Captions::of(&data, &vocab, Split::Val);
        if train.ids.is_empty() {
            return Err("no training captions".into());
        }
        let batcher = Batcher::new(config.train.batch, config.train.seed).context("--batch")?;
        Ok(CaptionTask {
            config,
            data,
            vocab,
            batcher,
            train,
            valid,
        })
    }
}

/// One row of metrics.csv beside the loop's own columns.
#[derive(Serialize)]
pub struct Metrics {
    /// Masked cross-entropy in nats per word (and end token).
    valid_loss: f64,
}

impl Task for CaptionTask {
    type Model = CaptionModel;
    /// The indices of a batch's captions in `train`.
    type Batch = Vec<usize>;
    type Metrics = Metrics;
    const SYSTEM: &'static str = crate::SYSTEM;
    const UNIT: &'static str = "captions";
    const BEST: Option<Best> = Some(Best {
        metric: "valid_loss",
        higher_is_better: false,
    });

    fn model(&self, device: &Device) -> Result<CaptionModel, AppError> {
        self.config.model(&self.data, &self.vocab, device)
    }

    fn describe(&self, model: &CaptionModel) -> String {
        let split = |split| self.data.split(split).len();
        format!(
            "{} images ({} train, {} val, {} test), {} training captions, vocabulary {} (min count {}), encoder {:?}{}, {} parameters",
            self.data.images.len(),
            split(Split::Train),
            split(Split::Val),
            split(Split::Test),
            self.train.ids.len(),
            self.vocab.len(),
            self.config.min_count,
            self.config.encoder_kind(),
            if self.config.attends() {
                " + attention"
            } else {
                ""
            },
            model.num_params(),
        )
    }

    fn save(&self, run: &RunDir) -> Result<(), AppError> {
        Ok(self.vocab.save(run.path().join("vocab.json"))?)
    }

    fn batches(&mut self, epoch: usize) -> Result<Vec<Vec<usize>>, AppError> {
        let lengths: Vec<usize> = self.train.ids.iter().map(Vec::len).collect();
        Ok(self.batcher.order(&lengths, epoch as u64))
    }

    fn items(&self, batch: &Vec<usize>) -> u64 {
        batch.len() as u64
    }

    fn loss(
        &mut self,
        model: &CaptionModel,
        batch: &Vec<usize>,
        shard: Shard,
        device: &Device,
    ) -> Result<Loss, AppError> {
        let mine = &batch[shard.range(batch.len())];
        // A worker left without captions by a short last batch still takes
        // part in the step, with a weight of zero.
        let weight = if mine.is_empty() { 0.0 } else { 1.0 };
        let rows = if mine.is_empty() { &batch[..1] } else { mine };
        let (mean, tokens) = self.train.loss(model, &self.data, rows, device);
        Ok(Loss {
            mean: mean.mul_scalar(weight),
            items: tokens as f64 * weight,
        })
    }

    fn evaluate(
        &mut self,
        model: &CaptionModel,
        epoch: usize,
        run: &RunDir,
        device: &Device,
    ) -> Result<Metrics, AppError> {
        let valid_loss = self.valid.mean_loss(model, &self.data, device);
        let max_len = self.config.max_len;
        let text = model::samples(model, &self.data, &self.vocab, max_len, device);
        let path = run.samples().join(format!("epoch-{epoch:03}.txt"));
        std::fs::write(&path, &text).context(path.display())?;
        eprint!("{text}");
        Ok(Metrics { valid_loss })
    }
}
