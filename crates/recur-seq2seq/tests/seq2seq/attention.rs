//! Attention: weights are a masked softmax, contexts match a host
//! computation of each paper's score.

use burn::tensor::{Device, Tensor, TensorData};
use recur_seq2seq::attention::{
    AnyAttention, Attention, AttentionConfig, AttentionError, AttentionKind, DotConfig, length_mask,
};

use crate::common::{assert_close, backends, host, normal};

const KINDS: [AttentionKind; 3] = [
    AttentionKind::Additive,
    AttentionKind::Dot,
    AttentionKind::General,
];

/// Host reference: the score of query `q` against key `k` for `attention`.
fn reference_score(attention: &AnyAttention, q: &[f32], k: &[f32]) -> f32 {
    // `x @ W (+ b)` with burn's `[d_input, d_output]` weight layout.
    let linear = |l: &burn::nn::Linear, x: &[f32]| -> Vec<f32> {
        let [d_in, d_out] = l.weight.dims();
        let w = host(l.weight.val());
        let b = l.bias.as_ref().map(|b| host(b.val()));
        (0..d_out)
            .map(|j| {
                let dot: f32 = (0..d_in).map(|i| x[i] * w[i * d_out + j]).sum();
                dot + b.as_ref().map_or(0.0, |b| b[j])
            })
            .collect()
    };
    let dot = |a: &[f32], b: &[f32]| a.iter().zip(b).map(|(a, b)| a * b).sum::<f32>();
    match attention {
        AnyAttention::Additive(a) => {
            let hidden: Vec<f32> = linear(&a.query, q)
                .iter()
                .zip(linear(&a.key, k))
                .map(|(x, y)| (x + y).tanh())
                .collect();
            linear(&a.score, &hidden)[0]
        }
        AnyAttention::Dot(_) => dot(q, k),
        AnyAttention::General(a) => dot(q, &linear(&a.key, k)),
    }
}

#[test]
fn weights_sum_to_one_and_padding_gets_exactly_zero() {
    let (batch, src_len, dim) = (3, 4, 5);
    let lengths = [4, 1, 2];
    for backend in backends() {
        let device = backend.device();
        for kind in KINDS {
            let attention = AttentionConfig::new(kind, dim, dim, 6)
                .init(&device)
                .unwrap();
            let encoder = normal([batch, src_len, dim], 1, &device);
            let query = normal([batch, dim], 2, &device);
            let keys = attention.keys(encoder, Some(length_mask(&lengths, src_len, &device)));
            let attended = attention.attend(query, &keys);
            assert_eq!(attended.weights.dims(), [batch, src_len]);
            assert_eq!(attended.context.dims(), [batch, dim]);
            let weights = host(attended.weights);
            for (b, &length) in lengths.iter().enumerate() {
                let row = &weights[b * src_len..(b + 1) * src_len];
                let sum: f32 = row.iter().sum();
                assert!(
                    (sum - 1.0).abs() < 1e-5,
                    "{backend} {kind}: row {b} sums to {sum}"
                );
                assert!(
                    row[length..].iter().all(|&w| w == 0.0),
                    "{backend} {kind}: {row:?}"
                );
                assert!(
                    row[..length].iter().all(|&w| w > 0.0),
                    "{backend} {kind}: {row:?}"
                );
            }
        }
    }
}

#[test]
fn contexts_match_a_host_computation() {
    let (batch, src_len, query_dim, key_dim) = (2, 3, 4, 4);
    let lengths = [3, 2];
    for backend in backends() {
        let device = backend.device();
        for kind in KINDS {
            let attention = AttentionConfig::new(kind, query_dim, key_dim, 5)
                .init(&device)
                .unwrap();
            let encoder = normal([batch, src_len, key_dim], 3, &device);
            let query = normal([batch, query_dim], 4, &device);
            let (enc, q) = (host(encoder.clone()), host(query.clone()));
            let keys = attention.keys(encoder, Some(length_mask(&lengths, src_len, &device)));
            let attended = attention.attend(query, &keys);

            let (mut weights, mut contexts) = (Vec::new(), Vec::new());
            for (b, &length) in lengths.iter().enumerate() {
                let key = |t: usize| &enc[(b * src_len + t) * key_dim..][..key_dim];
                let q = &q[b * query_dim..][..query_dim];
                let scores: Vec<f32> = (0..length)
                    .map(|t| reference_score(&attention, q, key(t)))
                    .collect();
                let max = scores.iter().copied().fold(f32::NEG_INFINITY, f32::max);
                let total: f32 = scores.iter().map(|s| (s - max).exp()).sum();
                let mut row: Vec<f32> = scores.iter().map(|s| (s - max).exp() / total).collect();
                row.resize(src_len, 0.0);
                contexts.extend(
                    (0..key_dim).map(|d| (0..src_len).map(|t| row[t] * key(t)[d]).sum::<f32>()),
                );
                weights.extend(row);
            }
            let what = format!("{backend} {kind}");
            assert_close(
                &format!("{what} weights"),
                &host(attended.weights),
                &weights,
                1e-4,
            );
            assert_close(
                &format!("{what} context"),
                &host(attended.context),
                &contexts,
                1e-4,
            );
        }
    }
}

#[test]
fn dot_attention_on_a_case_worked_by_hand() {
    // Keys e1 and e2; the query scores them ln 3 and 0, so the weights are
    // 3/4 and 1/4 and the context is (3/4, 1/4).
    for backend in backends() {
        let device: Device = backend.device();
        let encoder = Tensor::<3>::from_data(
            TensorData::new(vec![1.0f32, 0.0, 0.0, 1.0], [1, 2, 2]),
            &device,
        );
        let query =
            Tensor::<2>::from_data(TensorData::new(vec![3.0f32.ln(), 0.0], [1, 2]), &device);
        let dot = DotConfig::new().init();
        let attended = dot.attend(query, &dot.keys(encoder, None));
        assert_close("weights", &host(attended.weights), &[0.75, 0.25], 1e-6);
        assert_close("context", &host(attended.context), &[0.75, 0.25], 1e-6);
    }
}

#[test]
fn attention_kinds_parse_and_dot_checks_its_sizes() {
    for (name, kind) in [
        ("bahdanau", AttentionKind::Additive),
        ("dot", AttentionKind::Dot),
        ("general", AttentionKind::General),
    ] {
        assert_eq!(name.parse::<AttentionKind>(), Ok(kind));
        assert_eq!(kind.to_string(), name);
    }
    assert!("luong-ish".parse::<AttentionKind>().is_err());
    let device = backends()[0].device();
    let error = AttentionConfig::new(AttentionKind::Dot, 4, 8, 4)
        .init(&device)
        .err();
    assert_eq!(
        error,
        Some(AttentionError::DotDims {
            query_dim: 4,
            key_dim: 8
        })
    );
}
