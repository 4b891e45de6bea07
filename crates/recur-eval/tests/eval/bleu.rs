//! Corpus and sentence BLEU against sacrebleu 2.6.0, every setting.

use recur_eval::{BleuConfig, BleuStats, Smoothing, corpus_bleu, sentence_bleu};

use crate::fixture::{Case, assert_matches, config, fixture};

fn describe(case: &Case) -> String {
    format!(
        "{:?} {:?} smooth={:?}/{:?} lc={:?} tok={:?} eff={:?} default={}",
        case.corpus.as_deref().or(case.hypothesis.as_deref()),
        case.references,
        case.smooth_method,
        case.smooth_value,
        case.lowercase,
        case.tokenize,
        case.effective_order,
        case.default
    )
}

#[test]
fn corpus_scores_match_sacrebleu() {
    let fixture = fixture();
    assert!(fixture.corpus_cases.len() > 300);
    for case in &fixture.corpus_cases {
        let corpus = fixture.corpus(case.corpus.as_deref().unwrap());
        let hyps: Vec<&str> = corpus.hypotheses.iter().map(String::as_str).collect();
        let refs: Vec<Vec<&str>> = corpus
            .references
            .iter()
            .map(|s| s.iter().map(String::as_str).collect())
            .collect();
        let config = config(case, true);
        let bleu = if case.default {
            corpus_bleu(&hyps, &refs).unwrap()
        } else {
            config.corpus_score(&hyps, &refs).unwrap()
        };
        assert_matches(&bleu, case, &config, &describe(case));
    }
}

#[test]
fn sentence_scores_match_sacrebleu() {
    let fixture = fixture();
    assert!(fixture.sentence_cases.len() > 900);
    for case in &fixture.sentence_cases {
        let hyp = case.hypothesis.as_deref().unwrap();
        let refs: Vec<&str> = case
            .references
            .as_ref()
            .unwrap()
            .iter()
            .map(String::as_str)
            .collect();
        let config = config(case, false);
        let bleu = if case.default {
            sentence_bleu(hyp, &refs).unwrap()
        } else {
            config.sentence_score(hyp, &refs).unwrap()
        };
        assert_matches(&bleu, case, &config, &describe(case));
    }
}

#[test]
fn the_fixture_covers_the_edge_cases() {
    let fixture = fixture();
    let cases = &fixture.corpus_cases;
    // Some score is 0 without smoothing but not with it: no 4-gram matched.
    assert!(
        cases
            .iter()
            .any(|c| c.corpus.as_deref() == Some("no_4gram_match")
                && c.smooth_method.as_deref() == Some("none")
                && c.effective_order == Some(false)
                && c.score == 0.0)
    );
    assert!(
        cases
            .iter()
            .any(|c| c.corpus.as_deref() == Some("no_4gram_match")
                && c.counts[3] == 0.0
                && c.score > 0.0)
    );
    // Brevity penalty below 1 and hypotheses longer than references.
    assert!(cases.iter().any(|c| c.bp < 1.0 && c.bp > 0.0));
    assert!(cases.iter().any(|c| c.sys_len > c.ref_len));
    assert!(cases.iter().any(|c| c.bp == 0.0));
    assert!(
        fixture
            .sentence_cases
            .iter()
            .any(|c| c.hypothesis.as_deref() == Some(""))
    );
    // exp(ln 100) is 100.00000000000004 in sacrebleu too.
    assert!(
        fixture
            .sentence_cases
            .iter()
            .any(|c| (c.score - 100.0).abs() < 1e-9)
    );
}

#[test]
fn sentence_stats_add_up_to_the_corpus() {
    let fixture = fixture();
    let corpus = &fixture.corpus;
    let config = BleuConfig::corpus().with_smoothing(Smoothing::floor());
    let hyps: Vec<&str> = corpus.hypotheses.iter().map(String::as_str).collect();
    let refs: Vec<Vec<&str>> = corpus
        .references
        .iter()
        .map(|s| s.iter().map(String::as_str).collect())
        .collect();
    let total: BleuStats = hyps
        .iter()
        .enumerate()
        .map(|(i, h)| {
            let sentence_refs: Vec<&str> = refs.iter().map(|s| s[i]).collect();
            config.segment_stats(h, &sentence_refs).unwrap()
        })
        .sum();
    assert_eq!(
        config.score_stats(&total),
        config.corpus_score(&hyps, &refs).unwrap()
    );
}

#[test]
fn identical_and_disjoint() {
    let same = sentence_bleu(
        "A man walks his dog in the park.",
        &["A man walks his dog in the park."],
    )
    .unwrap();
    assert!((same.score - 100.0).abs() < 1e-9);
    assert_eq!(same.brevity_penalty, 1.0);
    assert!((same.ratio() - 1.0).abs() < 1e-15);
    let none = corpus_bleu(&["x y z"], &[vec!["a b c"]]).unwrap();
    assert_eq!(none.score, 0.0);
    assert_eq!(none.precisions, [0.0; 4]);
}

#[test]
fn multiple_references_clip_by_the_best_single_reference() {
    // "the" appears twice in the hypothesis; each reference has it once, so
    // only one match counts (counts take the max over references, not the sum).
    let bleu = BleuConfig::sentence()
        .sentence_score("the the", &["the cat", "a the"])
        .unwrap();
    assert_eq!(bleu.counts[0], 1);
    assert_eq!(bleu.totals[0], 2);
    // The closest length: 3 to both 2 and 4, the shorter wins.
    let bleu = BleuConfig::sentence()
        .sentence_score("a b c", &["a b c d", "a b"])
        .unwrap();
    assert_eq!(bleu.ref_len, 2);
}

#[test]
fn bleu_serializes() {
    let bleu = corpus_bleu(&["a b c d"], &[vec!["a b c d"]]).unwrap();
    let json = serde_json::to_string(&bleu).unwrap();
    let back: recur_eval::Bleu = serde_json::from_str(&json).unwrap();
    assert_eq!(back, bleu);
    let config = BleuConfig::corpus().with_smoothing(Smoothing::add_k());
    let json = serde_json::to_string(&config).unwrap();
    assert!(json.contains("add-k") && json.contains("13a"), "{json}");
}
