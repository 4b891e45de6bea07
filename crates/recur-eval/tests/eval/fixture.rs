//! The sacrebleu fixture and helpers to compare against it.

use std::sync::OnceLock;

use recur_eval::{Bleu, BleuConfig, Smoothing, Tokenizer};
use serde::Deserialize;

/// Tolerance on scores and precisions (0-100 scale).
pub const TOL: f64 = 1e-9;

/// One corpus: hypotheses and reference streams.
#[derive(Debug, Deserialize)]
pub struct Corpus {
    pub hypotheses: Vec<String>,
    pub references: Vec<Vec<String>>,
}

/// sacrebleu's result for one setting.
#[derive(Debug, Deserialize)]
pub struct Case {
    pub corpus: Option<String>,
    pub hypothesis: Option<String>,
    pub references: Option<Vec<String>>,
    #[serde(default)]
    pub default: bool,
    pub smooth_method: Option<String>,
    pub smooth_value: Option<f64>,
    pub lowercase: Option<bool>,
    pub tokenize: Option<String>,
    pub effective_order: Option<bool>,
    pub score: f64,
    pub precisions: [f64; 4],
    pub bp: f64,
    pub sys_len: usize,
    pub ref_len: usize,
    pub counts: [f64; 4],
    pub totals: [f64; 4],
}

/// A tokenizer input and output.
#[derive(Debug, Deserialize)]
pub struct Tokenized {
    pub input: String,
    pub output: String,
}

/// sacrebleu's preprocessing (lowercase, rstrip, tokenize) of one input.
#[derive(Debug, Deserialize)]
pub struct Preprocessed {
    pub input: String,
    pub lowercase: bool,
    pub tokenize: String,
    pub output: String,
    pub tokens: Vec<String>,
}

/// The whole fixture file.
#[derive(Debug, Deserialize)]
pub struct Fixture {
    pub sacrebleu_version: String,
    pub corpus: Corpus,
    pub extra_corpora: std::collections::BTreeMap<String, Corpus>,
    pub corpus_cases: Vec<Case>,
    pub sentence_cases: Vec<Case>,
    pub tokenizer_13a: Vec<Tokenized>,
    pub preprocess: Vec<Preprocessed>,
}

impl Fixture {
    /// The corpus a case names.
    pub fn corpus(&self, name: &str) -> &Corpus {
        if name == "main" {
            &self.corpus
        } else {
            &self.extra_corpora[name]
        }
    }
}

/// The fixture, parsed once.
pub fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/sacrebleu.json");
        let text = std::fs::read_to_string(path).unwrap();
        let fixture: Fixture = serde_json::from_str(&text).unwrap();
        assert_eq!(fixture.sacrebleu_version, "2.6.0");
        fixture
    })
}

/// A tokenizer by sacrebleu's name.
pub fn tokenizer(name: &str) -> Tokenizer {
    match name {
        "13a" => Tokenizer::Mteval13a,
        "none" => Tokenizer::None,
        other => panic!("unknown tokenizer {other}"),
    }
}

/// The configuration a case was scored with; `corpus` picks the defaults
/// of `corpus_bleu` or `sentence_bleu` when the case records none.
pub fn config(case: &Case, corpus: bool) -> BleuConfig {
    let base = if corpus {
        BleuConfig::corpus()
    } else {
        BleuConfig::sentence()
    };
    if case.default {
        return base;
    }
    let method = case.smooth_method.as_deref().unwrap();
    let smoothing = match (method, case.smooth_value) {
        ("exp", _) => Smoothing::Exp,
        ("none", _) => Smoothing::None,
        ("floor", None) => Smoothing::floor(),
        ("floor", Some(v)) => Smoothing::Floor(v),
        ("add-k", None) => Smoothing::add_k(),
        ("add-k", Some(v)) => Smoothing::AddK(v),
        (other, _) => panic!("unknown smoothing {other}"),
    };
    base.with_smoothing(smoothing)
        .with_lowercase(case.lowercase.unwrap())
        .with_tokenizer(tokenizer(case.tokenize.as_deref().unwrap()))
        .with_effective_order(case.effective_order.unwrap())
}

/// Compares every number of `bleu` with sacrebleu's; `what` names the case.
pub fn assert_matches(bleu: &Bleu, case: &Case, config: &BleuConfig, what: &str) {
    let close = |a: f64, b: f64| (a - b).abs() <= TOL * b.abs().max(1.0);
    assert!(
        close(bleu.score, case.score),
        "{what}: score {} != {}",
        bleu.score,
        case.score
    );
    for n in 0..4 {
        assert!(
            close(bleu.precisions[n], case.precisions[n]),
            "{what}: precision {n} {} != {}",
            bleu.precisions[n],
            case.precisions[n]
        );
    }
    assert!(
        close(bleu.brevity_penalty, case.bp),
        "{what}: bp {} != {}",
        bleu.brevity_penalty,
        case.bp
    );
    assert_eq!(bleu.sys_len, case.sys_len, "{what}: sys_len");
    assert_eq!(bleu.ref_len, case.ref_len, "{what}: ref_len");
    // sacrebleu's add-k adds k to counts and totals of orders 2-4 (unless
    // nothing matched and it stopped early); ours are raw.
    let k = match config.smoothing {
        Smoothing::AddK(k) if bleu.counts.iter().any(|&c| c > 0) => k,
        _ => 0.0,
    };
    for n in 0..4 {
        let added = if n > 0 { k } else { 0.0 };
        assert_eq!(
            bleu.counts[n] as f64 + added,
            case.counts[n],
            "{what}: count {n}"
        );
        assert_eq!(
            bleu.totals[n] as f64 + added,
            case.totals[n],
            "{what}: total {n}"
        );
    }
}
