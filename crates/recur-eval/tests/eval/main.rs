//! recur-eval's tests, one binary: BLEU against sacrebleu 2.6.0 (fixtures
//! written by `tests/fixtures/generate.py`), the 13a tokenizer, errors, and
//! the language-model metrics.

#![allow(clippy::unwrap_used)] // a failed test may panic

mod bleu;
mod errors;
mod fixture;
mod lm;
mod tokenizer;
