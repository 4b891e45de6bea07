//! translate's evaluation and test: the validation loss, BLEU of greedy and
//! beam translations, the test of the best model with its `results.json`,
//! and the attention pictures.

use std::path::Path;
use std::time::Instant;

use recur_data::{SplitMix64, WordVocab};
use recur_seq2seq::Seq2Seq;
use recur_seq2seq::search::{
    Hypothesis, SearchConfig, beam_search_with_max_lens, greedy_with_max_lens,
};
use recur_train::plot::{Heatmap, heatmap};
use recur_train::{AppError, Context, RunDir, read_metrics};
use serde::Serialize;

use crate::Config;
use crate::data::{Data, Split, pair_batch};

/// Sentences decoded at once when evaluating.
const EVAL_BATCH: usize = 64;

/// Mean cross-entropy per target token (end tokens included), teacher-forced.
pub fn mean_loss(model: &Seq2Seq, pairs: &[(Vec<usize>, Vec<usize>)]) -> Result<f64, AppError> {
    let mut rng = SplitMix64::new(0);
    let (mut total, mut tokens) = (0.0, 0usize);
    for chunk in pairs.chunks(EVAL_BATCH) {
        let batch = pair_batch(chunk);
        let logits = model.forward(&batch, 1.0, &mut rng)?;
        let loss = f64::from(model.loss(logits, &batch).into_scalar::<f32>());
        total += loss * batch.target_tokens() as f64;
        tokens += batch.target_tokens();
    }
    Ok(total / tokens.max(1) as f64)
}

/// Decodes `sources` (token ids) in batches: the best hypothesis of each.
fn decode(
    model: &Seq2Seq,
    sources: &[&[usize]],
    search: &SearchConfig,
) -> Result<Vec<Hypothesis>, AppError> {
    let device = recur_seq2seq::search::StepDecoder::device(model);
    let mut out = Vec::with_capacity(sources.len());
    for chunk in sources.chunks(EVAL_BATCH) {
        let batch = recur_data::pad(chunk, WordVocab::PAD);
        let state = model.encode(batch.ids_tensor(&device), &batch.lengths)?;
        // Room for a translation about twice as long as each source, as the
        // PyTorch reference allows; a limit from the batch's longest source
        // would make a translation depend on the sentences batched with it.
        let max_lens: Vec<usize> = chunk.iter().map(|s| max_len(s.len())).collect();
        if search.beam_size <= 1 {
            out.extend(greedy_with_max_lens(model, state, &max_lens, search));
        } else {
            for mut best in beam_search_with_max_lens(model, state, &max_lens, search) {
                out.push(best.remove(0));
            }
        }
    }
    Ok(out)
}

/// Corpus BLEU of `model`'s translations of `split` (best hypothesis of
/// each source with `search`), the hypotheses and their text.
pub fn bleu(
    model: &Seq2Seq,
    split: &Split,
    target_vocab: &WordVocab,
    search: &SearchConfig,
) -> Result<(f64, Vec<Hypothesis>, Vec<String>), AppError> {
    let sources: Vec<&[usize]> = split.pairs.iter().map(|(s, _)| s.as_slice()).collect();
    let hypotheses = decode(model, &sources, search)?;
    let texts: Vec<String> = hypotheses
        .iter()
        .map(|h| target_vocab.decode(&h.tokens).join(" "))
        .collect();
    let hyps: Vec<&str> = texts.iter().map(String::as_str).collect();
    let references: Vec<&str> = split.references.iter().map(String::as_str).collect();
    let score = recur_eval::corpus_bleu(&hyps, std::slice::from_ref(&references))?;
    Ok((score.score, hypotheses, texts))
}

/// The most decoder steps for a source of `source_len` words: room for a
/// translation about twice as long.
pub fn max_len(source_len: usize) -> usize {
    2 * source_len + 5
}

/// Greedy (`beam` 1) or beam search keeping `n_best` translations.
pub fn search_config(beam: usize, length_penalty: f32, n_best: usize) -> SearchConfig {
    SearchConfig {
        beam_size: beam,
        length_penalty,
        n_best,
        ..SearchConfig::new(WordVocab::START, WordVocab::END, 0)
    }
}

/// What a finished run reports in results.json.
#[derive(Serialize)]
pub struct Results {
    pub epochs: usize,
    /// The epoch whose model was tested (highest validation BLEU).
    pub best_epoch: usize,
    /// Validation BLEU (greedy), loss and perplexity of the tested model.
    pub valid_bleu: f64,
    pub valid_loss: f64,
    pub valid_perplexity: f64,
    /// Validation perplexity after the last epoch.
    pub last_valid_perplexity: f64,
    pub test_bleu_greedy: f64,
    pub test_bleu_beam: f64,
    pub beam: usize,
    pub length_penalty: f32,
    pub test_sentences: usize,
    /// Sentences per second of the last epoch's training.
    pub train_sentences_per_second: Option<f64>,
    /// Test sentences per second of the beam search (the whole split, in
    /// batches, BLEU included).
    pub test_beam_sentences_per_second: f64,
}

/// Tests `model` (the best one, of `best_epoch`) on `data`'s test split:
/// BLEU greedy and with beam search, the translations in `samples/`,
/// attention pictures of the first test sentences, `results.json` and a
/// summary on stdout.
pub fn test(
    model: &Seq2Seq,
    config: &Config,
    best_epoch: usize,
    data: &Data,
    run: &RunDir,
) -> Result<Results, AppError> {
    let (split, target_vocab) = (&data.test, &data.vocabs.1);
    let (mut scores, mut beam_seconds) = (Vec::new(), 0.0);
    for (name, beam) in [("greedy", 1), ("beam", config.beam)] {
        let search = search_config(beam, config.length_penalty, 1);
        let started = Instant::now();
        let (score, hypotheses, texts) = bleu(model, split, target_vocab, &search)?;
        let seconds = started.elapsed().as_secs_f64();
        let path = run.samples().join(format!("test-{name}.txt"));
        std::fs::write(&path, texts.join("\n") + "\n").context(path.display())?;
        if name == "beam" {
            beam_seconds = seconds;
            for (i, hypothesis) in hypotheses.iter().take(config.heatmaps).enumerate() {
                let path = run.plots().join(format!("attention-{i}.png"));
                draw_attention(hypothesis, &split.sources[i], target_vocab, &path)?;
            }
        }
        scores.push(score);
    }
    let metrics = read_metrics(run.metrics())?;
    let last = |name: &str| metrics.column(name).and_then(|c| c.last().copied());
    // The last row of that epoch: a resumed run may have logged it twice.
    let at_best = |name: &str| {
        let points = metrics.points("epoch", name).unwrap_or_default();
        let mut at = points.into_iter().rev();
        at.find(|&(epoch, _)| epoch as usize == best_epoch)
            .map_or(f64::NAN, |(_, value)| value)
    };
    let valid_loss = at_best("valid_loss");
    let results = Results {
        epochs: config.train.epochs,
        best_epoch,
        valid_bleu: at_best("valid_bleu"),
        valid_loss,
        valid_perplexity: recur_eval::perplexity(valid_loss),
        last_valid_perplexity: last("valid_perplexity").unwrap_or(f64::NAN),
        test_bleu_greedy: scores[0],
        test_bleu_beam: scores[1],
        beam: config.beam,
        length_penalty: config.length_penalty,
        test_sentences: split.pairs.len(),
        train_sentences_per_second: last("sentences_per_second"),
        test_beam_sentences_per_second: split.pairs.len() as f64 / beam_seconds.max(1e-9),
    };
    let path = run.path().join("results.json");
    let json = serde_json::to_string_pretty(&results)?;
    std::fs::write(&path, json + "\n").context(path.display())?;
    println!(
        "test BLEU (model of epoch {}): greedy {:.2}, beam {} {:.2}; valid perplexity {:.2}",
        results.best_epoch,
        results.test_bleu_greedy,
        config.beam,
        results.test_bleu_beam,
        results.valid_perplexity
    );
    Ok(results)
}

/// The attention of one translation as a heatmap: output words down the
/// side, source words along the top.
pub fn draw_attention(
    hypothesis: &Hypothesis,
    source: &[String],
    target_vocab: &WordVocab,
    path: &Path,
) -> Result<(), AppError> {
    let rows = hypothesis.attention.len();
    if rows == 0 {
        return Ok(());
    }
    let cols = source.len();
    // Rows span the padded batch; the real source is the first `cols` positions.
    let values: Vec<f32> = hypothesis
        .attention
        .iter()
        .flat_map(|row| row[..cols].iter().copied())
        .collect();
    let row_labels: Vec<String> = target_vocab
        .decode(&hypothesis.tokens)
        .into_iter()
        .map(String::from)
        .collect();
    let title = format!("attention: {}", source.join(" "));
    let picture = Heatmap {
        title: &title,
        values: &values,
        rows,
        cols,
        row_labels: &row_labels,
        col_labels: source,
        range: Some((0.0, 1.0)),
    };
    Ok(heatmap(&picture, path)?)
}
