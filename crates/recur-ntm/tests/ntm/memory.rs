//! Reading (eq. 2) and writing as erase then add (eqs. 3-4).

use recur_ntm::memory::{read, write};

use crate::common::{assert_close, backends, tensor, values};

#[test]
fn read_is_the_weighted_sum_of_rows() {
    for backend in backends() {
        let device = backend.device();
        let memory = tensor(&[1., 2., 3., 4., 5., 6.], [1, 3, 2], &device);
        let weights = tensor(&[0.5, 0.25, 0.25, 0., 0., 1.], [1, 2, 3], &device);
        let got = values(read(weights, memory));
        assert_close(&format!("{backend}"), &got, &[2.5, 3.5, 5., 6.], 1e-6);
    }
}

#[test]
fn write_erases_then_adds() {
    for backend in backends() {
        let device = backend.device();
        let memory = tensor(&[1., 2., 3., 4., 5., 6.], [1, 3, 2], &device);
        // One head, half on row 0 and half on row 1.
        let weights = tensor(&[0.5, 0.5, 0.], [1, 1, 3], &device);
        let erase = tensor(&[1., 0.], [1, 1, 2], &device);
        let add = tensor(&[10., -2.], [1, 1, 2], &device);
        let got = values(write(memory, weights, erase, add));
        // Row i: M(i) * (1 - w(i) e) + w(i) a.
        let expected = [1. * 0.5 + 5., 2. - 1., 3. * 0.5 + 5., 4. - 1., 5., 6.];
        assert_close(&format!("{backend} one head"), &got, &expected, 1e-5);

        // Two heads: both erasures multiply in before either add.
        let memory = tensor(&[2., 2.], [1, 1, 2], &device);
        let weights = tensor(&[1., 1.], [1, 2, 1], &device);
        let erase = tensor(&[0.5, 0., 0.5, 1.], [1, 2, 2], &device);
        let add = tensor(&[1., 1., 1., 1.], [1, 2, 2], &device);
        let got = values(write(memory, weights, erase, add));
        assert_close(
            &format!("{backend} two heads"),
            &got,
            &[2. * 0.25 + 2., 0. + 2.],
            1e-5,
        );
    }
}
