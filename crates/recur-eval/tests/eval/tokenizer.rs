//! The 13a tokenizer and sacrebleu's preprocessing on tricky strings.

use recur_eval::{BleuConfig, Tokenizer, tokenize_13a};

use crate::fixture::{fixture, tokenizer};

#[test]
fn tokenize_13a_matches_sacrebleu() {
    let cases = &fixture().tokenizer_13a;
    assert!(cases.len() > 30);
    for case in cases {
        assert_eq!(
            tokenize_13a(&case.input),
            case.output,
            "input {:?}",
            case.input
        );
        assert_eq!(Tokenizer::Mteval13a.apply(&case.input), case.output);
    }
}

#[test]
fn preprocessing_matches_sacrebleu() {
    for case in &fixture().preprocess {
        let config = BleuConfig::corpus()
            .with_lowercase(case.lowercase)
            .with_tokenizer(tokenizer(&case.tokenize));
        let what = format!(
            "{:?} lc={} tok={}",
            case.input, case.lowercase, case.tokenize
        );
        let out = config.preprocess(&case.input);
        assert_eq!(out, case.output, "{what}");
        // Scoring a sentence against itself counts exactly sacrebleu's tokens.
        let bleu = config.sentence_score(&case.input, &[&case.input]).unwrap();
        assert_eq!(bleu.sys_len, case.tokens.len(), "{what}");
    }
}

#[test]
fn tokenizer_names() {
    assert_eq!(Tokenizer::Mteval13a.name(), "13a");
    assert_eq!(Tokenizer::None.name(), "none");
    assert_eq!(Tokenizer::default(), Tokenizer::Mteval13a);
    assert_eq!(Tokenizer::None.apply(" a,b "), " a,b ");
}
