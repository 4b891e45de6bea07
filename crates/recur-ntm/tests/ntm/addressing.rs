//! Each addressing function against a hand computation (eqs. 5-9).

use recur_ntm::addressing::{
    AddressParams, EPSILON, address, content_addressing, cosine_similarity, interpolate, sharpen,
    shift,
};

use crate::common::{assert_close, assert_rows_sum_to_one, backends, tensor, uniform, values};

fn softmax(x: &[f64]) -> Vec<f32> {
    let max = x.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    let e: Vec<f64> = x.iter().map(|v| (v - max).exp()).collect();
    let s: f64 = e.iter().sum();
    e.iter().map(|v| (v / s) as f32).collect()
}

#[test]
fn content_addressing_is_softmax_of_strength_times_cosine() {
    for backend in backends() {
        let device = backend.device();
        // Rows (1,0), (0,2), (1,1), (0,0); key (3,0); strength 2.
        let memory = tensor(&[1., 0., 0., 2., 1., 1., 0., 0.], [1, 4, 2], &device);
        let key = tensor(&[3., 0.], [1, 1, 2], &device);
        let cosine = values(cosine_similarity(key.clone(), memory.clone()));
        let half = std::f64::consts::FRAC_1_SQRT_2;
        assert_close(
            &format!("{backend} cosine"),
            &cosine,
            &[1., 0., half as f32, 0.],
            1e-4,
        );
        let strength = tensor(&[2.], [1, 1, 1], &device);
        let weights = values(content_addressing(key, strength, memory));
        let expected = softmax(&[2.0, 0.0, 2.0 * half, 0.0]);
        assert_close(&format!("{backend} content"), &weights, &expected, 1e-4);
    }
}

#[test]
fn zero_key_and_zero_memory_give_uniform_finite_weights() {
    for backend in backends() {
        let device = backend.device();
        let memory = tensor(&[0.; 6], [1, 3, 2], &device);
        let key = tensor(&[0., 0.], [1, 1, 2], &device);
        let strength = tensor(&[20.], [1, 1, 1], &device);
        let weights = values(content_addressing(key, strength, memory));
        assert_close(&format!("{backend}"), &weights, &[1. / 3.; 3], 1e-5);
    }
}

#[test]
fn interpolation_gate_chooses_between_content_and_previous() {
    for backend in backends() {
        let device = backend.device();
        let content = tensor(&[1., 0., 0., 0., 1., 0., 0., 0., 1.], [3, 1, 3], &device);
        let previous = tensor(&[0., 0., 1., 0., 0., 1., 0., 0., 1.], [3, 1, 3], &device);
        let gate = tensor(&[1., 0., 0.25], [3, 1, 1], &device);
        let got = values(interpolate(content, previous, gate));
        let expected = [1., 0., 0., 0., 0., 1., 0., 0., 1.];
        assert_close(&format!("{backend}"), &got, &expected, 1e-6);
        let device = backend.device();
        let mixed = values(interpolate(
            tensor(&[1., 0.], [1, 1, 2], &device),
            tensor(&[0., 1.], [1, 1, 2], &device),
            tensor(&[0.25], [1, 1, 1], &device),
        ));
        assert_close(&format!("{backend} mix"), &mixed, &[0.25, 0.75], 1e-6);
    }
}

/// Eq. (8) as a double loop: w~(i) = sum_j w(j) s(i - j mod N).
fn circular_convolution(w: &[f32], s: &[f32]) -> Vec<f32> {
    let (n, range) = (w.len() as i64, (s.len() / 2) as i64);
    (0..n)
        .map(|i| {
            (0..n)
                .map(|j| {
                    let d = (i - j).rem_euclid(n);
                    // Offset d (mod n) is one of -range..=range.
                    let k = if d <= range { d + range } else { d - n + range };
                    if (0..s.len() as i64).contains(&k) {
                        w[j as usize] * s[k as usize]
                    } else {
                        0.0
                    }
                })
                .sum()
        })
        .collect()
}

#[test]
fn shift_is_a_circular_convolution() {
    for backend in backends() {
        let device = backend.device();
        let focus = tensor(&[0., 0., 0., 0., 1.], [1, 1, 5], &device);
        // All weight on offset +1: the focus wraps from the last row to the first.
        let plus_one = values(shift(
            focus.clone(),
            tensor(&[0., 0., 1.], [1, 1, 3], &device),
        ));
        assert_close(
            &format!("{backend} +1"),
            &plus_one,
            &[1., 0., 0., 0., 0.],
            1e-6,
        );
        let minus_one = values(shift(focus, tensor(&[1., 0., 0.], [1, 1, 3], &device)));
        assert_close(
            &format!("{backend} -1"),
            &minus_one,
            &[0., 0., 0., 1., 0.],
            1e-6,
        );

        // Range 2 on random weights, two heads, against the double loop.
        let w: Vec<f32> = uniform(14, 3).iter().map(|v| v.abs()).collect();
        let s: Vec<f32> = uniform(10, 4).iter().map(|v| v.abs()).collect();
        let got = values(shift(
            tensor(&w, [1, 2, 7], &device),
            tensor(&s, [1, 2, 5], &device),
        ));
        let mut expected = circular_convolution(&w[..7], &s[..5]);
        expected.extend(circular_convolution(&w[7..], &s[5..]));
        assert_close(&format!("{backend} range 2"), &got, &expected, 1e-5);

        // Range 0: only the identity shift.
        let same = values(shift(
            tensor(&w[..7], [1, 1, 7], &device),
            tensor(&[1.], [1, 1, 1], &device),
        ));
        assert_close(&format!("{backend} range 0"), &same, &w[..7], 1e-6);
    }
}

#[test]
fn sharpening_raises_to_gamma_and_renormalises() {
    for backend in backends() {
        let device = backend.device();
        let w = [0.2f32, 0.3, 0.5];
        let got = values(sharpen(
            tensor(&w, [1, 1, 3], &device),
            tensor(&[2.], [1, 1, 1], &device),
        ));
        let squares: Vec<f64> = w
            .iter()
            .map(|v| (*v as f64 + EPSILON as f64).powi(2))
            .collect();
        let total: f64 = squares.iter().sum();
        let expected: Vec<f32> = squares.iter().map(|v| (v / total) as f32).collect();
        assert_close(&format!("{backend} gamma 2"), &got, &expected, 1e-5);

        let same = values(sharpen(
            tensor(&w, [1, 1, 3], &device),
            tensor(&[1.], [1, 1, 1], &device),
        ));
        assert_close(&format!("{backend} gamma 1"), &same, &w, 1e-5);

        // A huge gamma on tiny, spread weights: no underflow to 0/0.
        let spread = [1e-3f32; 4];
        let sharp = values(sharpen(
            tensor(&spread, [1, 1, 4], &device),
            tensor(&[60.], [1, 1, 1], &device),
        ));
        assert_rows_sum_to_one(&format!("{backend} gamma 60"), &sharp, 4);
        let peaked = values(sharpen(
            tensor(&[0.1, 0.6, 0.3], [1, 1, 3], &device),
            tensor(&[60.], [1, 1, 1], &device),
        ));
        assert_close(
            &format!("{backend} gamma 60 peak"),
            &peaked,
            &[0., 1., 0.],
            1e-5,
        );
    }
}

#[test]
fn the_pipeline_keeps_weightings_normalised() {
    for backend in backends() {
        let device = backend.device();
        let (batch, heads, rows, width) = (2, 3, 6, 4);
        let params = AddressParams {
            key: tensor(
                &uniform(batch * heads * width, 5),
                [batch, heads, width],
                &device,
            ),
            strength: tensor(&[0., 1., 50., 3., 0.5, 10.], [batch, heads, 1], &device),
            gate: tensor(&[0., 0.5, 1., 1., 0.2, 0.9], [batch, heads, 1], &device),
            shift: tensor(
                &[0.2, 0.5, 0.3].repeat(batch * heads),
                [batch, heads, 3],
                &device,
            ),
            sharpening: tensor(&[1., 2., 30., 1., 5., 1.5], [batch, heads, 1], &device),
        };
        let memory = tensor(
            &uniform(batch * rows * width, 6),
            [batch, rows, width],
            &device,
        );
        let mut previous = vec![0.0; batch * heads * rows];
        previous.iter_mut().step_by(rows).for_each(|w| *w = 1.0);
        let w = address(
            &params,
            memory,
            tensor(&previous, [batch, heads, rows], &device),
        );
        assert_rows_sum_to_one(&format!("{backend}"), &values(w), rows);
    }
}
