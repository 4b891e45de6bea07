//! The end of a run: test BLEU-1..4 (greedy and beam), sample captions
//! beside their references, and index.html with the test pictures (and
//! attention maps when the model attends).

use std::fmt::Write as _;
use std::time::Instant;

use burn::tensor::Device;
use recur_caption::{CaptionData, CaptionModel, Picture};
use recur_data::{Split, WordVocab, tokenize};
use recur_eval::{Bleu, BleuConfig, MAX_NGRAM_ORDER};
use recur_seq2seq::search::Hypothesis;
use recur_train::plot::encode_png;
use recur_train::{AppError, Context, RunDir};
use serde::Serialize;

use crate::Config;
use crate::model::{caption_images, search};

/// Pictures in the page are drawn this many times their size.
const ZOOM: usize = 4;

/// BLEU-1 to BLEU-4 of one decoding.
#[derive(Serialize)]
struct Scores {
    /// Beam width (1: greedy).
    beam: usize,
    /// BLEU-n for n = 1..4, from 0 to 100.
    bleu: [f64; MAX_NGRAM_ORDER],
}

/// BLEU-n from the (smoothed) n-gram precisions: the brevity penalty times
/// the geometric mean of the first `n` precisions; BLEU-4 is sacrebleu's
/// score.
fn bleu_up_to(bleu: &Bleu) -> [f64; MAX_NGRAM_ORDER] {
    let mut out = [0.0; MAX_NGRAM_ORDER];
    for n in 1..=MAX_NGRAM_ORDER {
        let precisions = &bleu.precisions[..n];
        out[n - 1] = if precisions.iter().any(|&p| p <= 0.0) {
            0.0
        } else {
            let mean = precisions.iter().map(|p| (p / 100.0).ln()).sum::<f64>() / n as f64;
            100.0 * bleu.brevity_penalty * mean.exp()
        };
    }
    out
}

/// Corpus BLEU of `hypotheses` against every reference of each test image,
/// all lowercased and tokenised the same way.
fn score(
    hypotheses: &[String],
    references: &[Vec<String>],
    beam: usize,
) -> Result<Scores, AppError> {
    let streams = references.iter().map(Vec::len).max().unwrap_or(0);
    // sacrebleu wants equally many references per image: repeat the first,
    // which changes neither the clipped counts nor the closest length.
    let streams: Vec<Vec<&str>> = (0..streams)
        .map(|k| {
            references
                .iter()
                .map(|refs| refs.get(k).or(refs.first()).map_or("", String::as_str))
                .collect()
        })
        .collect();
    let hypotheses: Vec<&str> = hypotheses.iter().map(String::as_str).collect();
    let bleu = BleuConfig::corpus().corpus_score(&hypotheses, &streams)?;
    Ok(Scores {
        beam,
        bleu: bleu_up_to(&bleu),
    })
}

fn line(name: &str, scores: &Scores) -> String {
    let [b1, b2, b3, b4] = scores.bleu;
    format!("test BLEU {name:>8}: BLEU-1 {b1:.1}  BLEU-2 {b2:.1}  BLEU-3 {b3:.1}  BLEU-4 {b4:.1}")
}

/// Evaluates the trained model on the test split and writes results.json,
/// samples/test.txt, images/ and index.html.
pub fn evaluate(
    run: &RunDir,
    config: &Config,
    data: &CaptionData,
    vocab: &WordVocab,
    model: &CaptionModel,
    device: &Device,
) -> Result<(), AppError> {
    let test = data.split(Split::Test);
    if test.is_empty() {
        eprintln!("no test images: nothing to evaluate");
        return Ok(());
    }
    let greedy = caption_images(model, data, &test, &search(config.max_len, 1), device);
    let search = search(config.max_len, config.beam);
    let started = Instant::now();
    let beam = caption_images(model, data, &test, &search, device);
    let beam_seconds = started.elapsed().as_secs_f64();
    let text = |hypotheses: &[Hypothesis]| -> Vec<String> {
        hypotheses
            .iter()
            .map(|h| vocab.decode_sentence(&h.tokens))
            .collect()
    };
    let (greedy_text, beam_text) = (text(&greedy), text(&beam));
    let references: Vec<Vec<String>> = test
        .iter()
        .map(|&i| {
            data.images[i]
                .captions
                .iter()
                .map(|c| tokenize(c).join(" "))
                .collect()
        })
        .collect();
    let scores = [
        score(&greedy_text, &references, 1)?,
        score(&beam_text, &references, search.beam_size)?,
    ];
    let json = serde_json::json!({
        "test_images": test.len(),
        "greedy": scores[0],
        "beam": scores[1],
        "test_beam_images_per_second": test.len() as f64 / beam_seconds.max(1e-9),
    });
    let path = run.path().join("results.json");
    std::fs::write(&path, serde_json::to_string_pretty(&json)?).context(path.display())?;

    let mut samples = String::new();
    for (k, &i) in test.iter().enumerate() {
        let _ = writeln!(
            samples,
            "{}\n  greedy:    {}\n  beam {}:    {}\n  reference: {}",
            data.images[i].name,
            greedy_text[k],
            search.beam_size,
            beam_text[k],
            data.images[i].captions.join("\n  reference: ")
        );
    }
    let path = run.samples().join("test.txt");
    std::fs::write(&path, &samples).context(path.display())?;
    let shown: String = samples.split_inclusive('\n').take(5 * 6).collect();
    eprintln!("--- test samples (all in samples/test.txt) ---\n{shown}");
    println!("{}", line("greedy", &scores[0]));
    println!(
        "{}",
        line(&format!("beam {}", search.beam_size), &scores[1])
    );

    page(
        run,
        config,
        data,
        vocab,
        &test,
        &greedy,
        &greedy_text,
        &beam_text,
    )
}

/// index.html: the first `config.show` test images with their captions,
/// and under each greedy caption what the model looked at for every word.
fn page(
    run: &RunDir,
    config: &Config,
    data: &CaptionData,
    vocab: &WordVocab,
    test: &[usize],
    greedy: &[Hypothesis],
    greedy_text: &[String],
    beam_text: &[String],
) -> Result<(), AppError> {
    let images = run.path().join("images");
    std::fs::create_dir_all(&images).context(images.display())?;
    let write = |name: &str, picture: &Picture| {
        let path = images.join(name);
        let zoomed = zoom(picture, ZOOM);
        std::fs::write(
            &path,
            encode_png(zoomed.width as u32, zoomed.height as u32, &zoomed.rgb),
        )
        .context(path.display())
    };
    let mut html = String::from(
        "<!doctype html>\n<meta charset=\"utf-8\">\n<title>caption run</title>\n<style>\
         body{font-family:sans-serif;margin:2em}td{vertical-align:top;padding:6px;border-bottom:1px solid #ddd}\
         .att{display:inline-block;text-align:center;margin:2px;font-size:12px}</style>\n",
    );
    let _ = writeln!(
        html,
        "<h1>{}</h1>\n<p>encoder {:?}{}; <a href=\"samples/test.txt\">all test captions</a>, <a href=\"results.json\">BLEU</a>, <a href=\"plots/loss.png\">loss curve</a></p>\n<table>\n<tr><th>image</th><th>generated (greedy, beam {})</th><th>references</th></tr>",
        escape(&run.path().display().to_string()),
        config.encoder_kind(),
        if config.attends() {
            " with soft attention"
        } else {
            ""
        },
        config.beam
    );
    for (k, &i) in test.iter().take(config.show).enumerate() {
        let image = &data.images[i];
        let cell = match &image.picture {
            Some(picture) => {
                let file = format!("test-{k:03}.png");
                write(&file, picture)?;
                format!(
                    "<img src=\"images/{file}\" alt=\"{0}\" title=\"{0}\">",
                    escape(&image.name)
                )
            }
            None => escape(&image.name),
        };
        let mut generated = format!(
            "<b>{}</b><br>{}",
            escape(&greedy_text[k]),
            escape(&beam_text[k])
        );
        let hypothesis = &greedy[k];
        if let (Some(picture), false) = (&image.picture, hypothesis.attention.is_empty()) {
            generated.push_str("<br>");
            for (t, (weights, &token)) in hypothesis
                .attention
                .iter()
                .zip(&hypothesis.tokens)
                .enumerate()
            {
                let file = format!("test-{k:03}-att-{t:02}.png");
                write(&file, &attention_overlay(picture, weights))?;
                let _ = write!(
                    generated,
                    "<span class=\"att\"><img src=\"images/{file}\" width=\"{}\"><br>{}</span>",
                    picture.width * 2,
                    escape(vocab.word(token))
                );
            }
        }
        let references: Vec<String> = image.captions.iter().map(|c| escape(c)).collect();
        let _ = writeln!(
            html,
            "<tr><td>{cell}</td><td>{generated}</td><td>{}</td></tr>",
            references.join("<br>")
        );
    }
    html.push_str("</table>\n");
    let path = run.path().join("index.html");
    std::fs::write(&path, html).context(path.display())?;
    eprintln!("page: {}", path.display());
    Ok(())
}

/// The picture, each pixel repeated `factor` times in both directions.
fn zoom(picture: &Picture, factor: usize) -> Picture {
    let (width, height) = (picture.width * factor, picture.height * factor);
    let mut rgb = Vec::with_capacity(width * height * 3);
    for y in 0..height {
        for x in 0..width {
            let p = ((y / factor) * picture.width + x / factor) * 3;
            rgb.extend_from_slice(&picture.rgb[p..p + 3]);
        }
    }
    Picture { width, height, rgb }
}

/// The picture darkened where the attention `weights` (one per cell of a
/// square grid over the picture) are low.
fn attention_overlay(picture: &Picture, weights: &[f32]) -> Picture {
    let side = (weights.len() as f64).sqrt().round().max(1.0) as usize;
    let max = weights.iter().copied().fold(f32::MIN_POSITIVE, f32::max);
    let mut rgb = picture.rgb.clone();
    for y in 0..picture.height {
        for x in 0..picture.width {
            let cell = (y * side / picture.height) * side + x * side / picture.width;
            let light = 0.15 + 0.85 * weights.get(cell).copied().unwrap_or(0.0) / max;
            for c in 0..3 {
                let p = (y * picture.width + x) * 3 + c;
                rgb[p] = (rgb[p] as f32 * light + 60.0 * (1.0 - light) * (c == 2) as u8 as f32)
                    .round()
                    .min(255.0) as u8;
            }
        }
    }
    Picture {
        width: picture.width,
        height: picture.height,
        rgb,
    }
}

/// Text safe inside HTML.
fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}
