//! What translate's training loop trains: the model, the batches (indices
//! into the training pairs), the loss of a worker's share of a batch, and the
//! validation metrics.

use burn::module::Module;
use burn::tensor::Device;
use recur_data::{Batcher, SplitMix64, WordVocab};
use recur_seq2seq::{Seq2Seq, Seq2SeqConfig};
use recur_train::{AppError, Best, Context, Loss, RunDir, Shard, Task};
use serde::Serialize;

use crate::Config;
use crate::data::{Data, pair_batch};
use crate::eval::{bleu, mean_loss, search_config};

/// The model `config` describes for these vocabularies.
pub fn model_config(config: &Config, source: &WordVocab, target: &WordVocab) -> Seq2SeqConfig {
    Seq2SeqConfig::new(source.len(), target.len())
        .with_embedding(config.embedding)
        .with_hidden(config.hidden)
        .with_layers(config.layers)
        .with_cell(config.cell)
        .with_bidirectional(!config.unidirectional)
        .with_attention(config.attention)
        .with_dropout(config.dropout)
        .with_tie_embeddings(config.tie_embeddings)
}

/// Training on sentence pairs in bucketed batches (of indices into `train`).
pub struct TranslateTask {
    config: Config,
    /// The vocabularies and the three splits.
    pub data: Data,
    batcher: Batcher,
    /// Whether a run is resumed: its weights come from its checkpoint, not `--init`.
    resumed: bool,
    /// The epoch's teacher-forcing draws: they do not depend on a resume.
    rng: SplitMix64,
}

impl TranslateTask {
    /// Training on `data` as `config` says; a `resumed` run's weights come
    /// from its checkpoint, not `--init`.
    pub fn new(config: Config, data: Data, resumed: bool) -> Result<TranslateTask, AppError> {
        let batcher = Batcher::new(config.train.batch, config.train.seed)
            .context("--batch")?
            .with_bucketing(50);
        let rng = SplitMix64::new(config.train.seed);
        Ok(TranslateTask {
            config,
            data,
            batcher,
            resumed,
            rng,
        })
    }
}

/// One row of metrics.csv beside the loop's own columns.
#[derive(Serialize)]
pub struct Metrics {
    /// Nats per target word, teacher-forced.
    valid_loss: f64,
    valid_perplexity: f64,
    /// BLEU of greedy translations.
    valid_bleu: f64,
}

impl Task for TranslateTask {
    type Model = Seq2Seq;
    type Batch = Vec<usize>;
    type Metrics = Metrics;
    const SYSTEM: &'static str = crate::SYSTEM;
    const UNIT: &'static str = "sentences";
    // By BLEU, not loss: on these corpora the loss is lowest a few epochs
    // before the translations are best (early stopping by checkpoint selection).
    const BEST: Option<Best> = Some(Best {
        metric: "valid_bleu",
        higher_is_better: true,
    });

    fn model(&self, device: &Device) -> Result<Seq2Seq, AppError> {
        let (source, target) = &self.data.vocabs;
        let model = model_config(&self.config, source, target).init(device)?;
        match &self.config.init {
            Some(path) if !self.resumed => Ok(model.load_torch(path, "").context("--init")?),
            _ => Ok(model),
        }
    }

    fn describe(&self, model: &Seq2Seq) -> String {
        let (data, config) = (&self.data, &self.config);
        format!(
            "{} train, {} valid, {} test pairs; vocabularies {} source, {} target; \
             {} {} + {} attention, {} parameters",
            data.train.pairs.len(),
            data.valid.pairs.len(),
            data.test.pairs.len(),
            data.vocabs.0.len(),
            data.vocabs.1.len(),
            if config.unidirectional { "uni" } else { "bi" },
            config.cell,
            config.attention,
            model.num_params(),
        )
    }

    fn save(&self, run: &RunDir) -> Result<(), AppError> {
        let (source, target) = &self.data.vocabs;
        source.save(run.path().join("source_vocab.json"))?;
        Ok(target.save(run.path().join("target_vocab.json"))?)
    }

    fn batches(&mut self, epoch: usize) -> Result<Vec<Vec<usize>>, AppError> {
        self.rng =
            SplitMix64::new(self.config.train.seed ^ (epoch as u64).wrapping_mul(0x9E37_79B9));
        let lengths: Vec<usize> = self.data.train.pairs.iter().map(|(s, _)| s.len()).collect();
        Ok(self.batcher.order(&lengths, epoch as u64))
    }

    fn items(&self, indices: &Vec<usize>) -> u64 {
        indices.len() as u64
    }

    fn loss(
        &mut self,
        model: &Seq2Seq,
        indices: &Vec<usize>,
        shard: Shard,
        _: &Device,
    ) -> Result<Loss, AppError> {
        // One draw per batch, the same on every worker: a shard's decoder
        // step t sees the whole batch's draw of step t.
        let mut rng = SplitMix64::new(self.rng.next_u64());
        let rows = &indices[shard.range(indices.len())];
        if rows.is_empty() {
            // A last batch smaller than the workers: no share, no gradient.
            let mean = model.decoder.output_bias.val().sum().mul_scalar(0.0);
            return Ok(Loss { mean, items: 0.0 });
        }
        let batch = pair_batch(rows.iter().map(|&i| &self.data.train.pairs[i]));
        let logits = model.forward(&batch, self.config.teacher_forcing, &mut rng)?;
        // The loss is the mean over the shard's target tokens.
        Ok(Loss {
            mean: model.loss(logits, &batch),
            items: batch.target_tokens() as f64,
        })
    }

    fn evaluate(
        &mut self,
        model: &Seq2Seq,
        _: usize,
        _: &RunDir,
        _: &Device,
    ) -> Result<Metrics, AppError> {
        let valid_loss = mean_loss(model, &self.data.valid.pairs)?;
        let search = search_config(1, self.config.length_penalty, 1);
        let (valid_bleu, _, _) = bleu(model, &self.data.valid, &self.data.vocabs.1, &search)?;
        Ok(Metrics {
            valid_loss,
            valid_perplexity: recur_eval::perplexity(valid_loss),
            valid_bleu,
        })
    }
}
