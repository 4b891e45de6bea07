//! Malformed inputs are errors with one-line messages, never panics.

use recur_eval::{BleuConfig, EvalError, Smoothing, corpus_bleu, sentence_bleu};

fn message<T: std::fmt::Debug>(result: Result<T, EvalError>) -> String {
    let text = result.unwrap_err().to_string();
    assert!(!text.contains('\n'), "not one line: {text}");
    text
}

#[test]
fn empty_inputs() {
    assert_eq!(corpus_bleu(&[], &[vec![]]), Err(EvalError::EmptyCorpus));
    assert_eq!(corpus_bleu(&["a"], &[]), Err(EvalError::NoReferences));
    assert_eq!(sentence_bleu("a", &[]), Err(EvalError::NoReferences));
    assert_eq!(message(sentence_bleu("a", &[])), "no references given");
}

#[test]
fn stream_of_the_wrong_length() {
    let result = corpus_bleu(&["a", "b"], &[vec!["a", "b"], vec!["a"]]);
    assert_eq!(
        result,
        Err(EvalError::StreamLength {
            stream: 1,
            expected: 2,
            found: 1
        })
    );
    assert_eq!(
        message(result),
        "reference stream 1 has 1 references for 2 hypotheses"
    );
}

#[test]
fn bad_smoothing_values() {
    for value in [-0.1, f64::NAN, f64::INFINITY] {
        for smoothing in [Smoothing::Floor(value), Smoothing::AddK(value)] {
            let config = BleuConfig::corpus().with_smoothing(smoothing);
            assert!(matches!(
                config.corpus_score(&["a"], &[vec!["a"]]),
                Err(EvalError::SmoothingValue(_))
            ));
            assert!(matches!(
                config.sentence_score("a", &["a"]),
                Err(EvalError::SmoothingValue(_))
            ));
        }
    }
    assert_eq!(Smoothing::floor().name(), "floor");
    assert_eq!(Smoothing::add_k(), Smoothing::AddK(1.0));
}
