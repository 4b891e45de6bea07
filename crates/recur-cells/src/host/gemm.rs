//! Matrix products on `f32` buffers: [`matmul`] through BLAS for the large
//! ones (the input projection, the gradients of `x` and the weights), and
//! [`PanelProduct`], a register-tiled micro-kernel over [`Panels`], for the
//! small product of every time step with the packed recurrent weights.

use ndarray::{ArrayView2, ArrayViewMut2, ShapeBuilder};
use rayon::prelude::*;

use super::buffers::zeros;

/// `c [m, n] = a [m, k] · b [k, n]`, plus the old `c` if `accumulate`; `c`
/// row-major and contiguous.
///
/// Through ndarray, which calls OpenBLAS's `sgemm` with the `openblas`
/// feature (strided operands become its transpose flags) and
/// `matrixmultiply` without it. Used for the large products (the input
/// projection and the gradients of `x` and the weights): on this project's
/// 2-core machine the `gemm` crate flex uses ran them 10-30% slower than
/// OpenBLAS on 2 threads, and with it or `matrixmultiply` for every product
/// the whole layer was slower than composing backend ops
/// (docs/BENCHMARKS.md).
pub(crate) fn matmul(
    c: &mut [f32],
    a: ArrayView2<'_, f32>,
    b: ArrayView2<'_, f32>,
    accumulate: bool,
) {
    let mut c =
        ArrayViewMut2::from_shape((a.nrows(), b.ncols()), c).expect("buffer sized for its shape");
    let beta = if accumulate { 1.0 } else { 0.0 };
    ndarray::linalg::general_mat_mul(1.0, &a, &b, beta, &mut c);
}

/// A `[rows, cols]` view of `data` with the given element strides.
pub(crate) fn view(
    data: &[f32],
    [rows, cols]: [usize; 2],
    [row_stride, col_stride]: [usize; 2],
) -> ArrayView2<'_, f32> {
    ArrayView2::from_shape((rows, cols).strides((row_stride, col_stride)), data)
        .expect("buffer sized for its shape")
}

/// Columns per panel of [`Panels`].
const PANEL: usize = 16;

/// A `[k, n]` matrix packed for [`PanelProduct`]: column panels `PANEL`
/// wide, each `[k][PANEL]` contiguous, the last one padded with zeros. The
/// recurrent weights are packed once per call and read at every step; a
/// BLAS packs them again inside each step's product (9% of the layer's time
/// with OpenBLAS, docs/BENCHMARKS.md).
pub(super) struct Panels {
    values: Vec<f32>,
    k: usize,
    n: usize,
}

impl Panels {
    /// Packs the `[k, n]` matrix in `data` with the given element strides.
    pub(super) fn pack(
        data: &[f32],
        [k, n]: [usize; 2],
        [row_stride, col_stride]: [usize; 2],
    ) -> Self {
        let mut values = zeros(n.div_ceil(PANEL) * k * PANEL);
        // In parallel: packing is one pass over the weights, on the way
        // to every call's recurrence.
        values
            .par_chunks_mut(k * PANEL)
            .enumerate()
            .for_each(|(p, panel)| {
                let cols = (n - p * PANEL).min(PANEL);
                // Read `data` along its smaller stride: packing `W_hh`'s
                // transpose row by row took 3.3 ms at hidden 512, column by
                // column 1.5.
                if row_stride < col_stride {
                    for j in 0..cols {
                        let column = &data[(p * PANEL + j) * col_stride..];
                        for row in 0..k {
                            panel[row * PANEL + j] = column[row * row_stride];
                        }
                    }
                } else {
                    for (row, out) in panel.chunks_mut(PANEL).enumerate() {
                        for (j, out) in out[..cols].iter_mut().enumerate() {
                            *out = data[row * row_stride + (p * PANEL + j) * col_stride];
                        }
                    }
                }
            });
        Self { values, k, n }
    }
}

/// `c [m, n] = a [m, k] · b`, plus the old `c` if `accumulate`; `a` and `c`
/// row-major and contiguous. Register tiles of up to 6 rows by one panel. A
/// `pulp` operation of its own (see `gates.rs`'s `ForwardStep`): inlined into the step
/// loop, its accumulators spilled to the stack.
pub(super) struct PanelProduct<'a> {
    pub c: &'a mut [f32],
    pub a: &'a [f32],
    pub b: &'a Panels,
    pub accumulate: bool,
}

impl pulp::WithSimd for PanelProduct<'_> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: pulp::Simd>(self, simd: S) {
        let PanelProduct {
            c,
            a,
            b,
            accumulate,
        } = self;
        let Panels { values, k, n } = b;
        let (k, n) = (*k, *n);
        let m = a.len() / k;
        for (p, panel) in values.chunks(k * PANEL).enumerate() {
            let (cols, width) = (p * PANEL, PANEL.min(n - p * PANEL));
            let mut row = 0;
            while row < m {
                let tile_rows = (m - row).min(6);
                let a = &a[row * k..][..tile_rows * k];
                let c = &mut c[row * n + cols..];
                match tile_rows {
                    6 => tile::<S, 6>(simd, c, a, panel, n, width, accumulate),
                    5 => tile::<S, 5>(simd, c, a, panel, n, width, accumulate),
                    4 => tile::<S, 4>(simd, c, a, panel, n, width, accumulate),
                    3 => tile::<S, 3>(simd, c, a, panel, n, width, accumulate),
                    2 => tile::<S, 2>(simd, c, a, panel, n, width, accumulate),
                    _ => tile::<S, 1>(simd, c, a, panel, n, width, accumulate),
                }
                row += tile_rows;
            }
        }
    }
}

/// One `R`-row tile of [`PanelProduct`]: `a` is `R` rows of `k`, `panel`
/// is `[k][PANEL]`, and row `i` of the result goes to `c[i * n..][..width]`.
/// The panel is taken in groups of two vectors (one with AVX-512), so that
/// the `R x 2` accumulators stay in registers (12 for 6 rows; as an array
/// over the whole panel they were spilled to the stack).
#[inline(always)]
fn tile<S: pulp::Simd, const R: usize>(
    simd: S,
    c: &mut [f32],
    a: &[f32],
    panel: &[f32],
    n: usize,
    width: usize,
    accumulate: bool,
) {
    let per_row = PANEL / S::F32_LANES;
    let vectors = per_row.min(2);
    let k = a.len() / R;
    let (panel, _) = S::as_simd_f32s(panel);
    let panel = &panel[..k * per_row];
    let rows: [&[f32]; R] = std::array::from_fn(|i| &a[i * k..][..k]);
    for group in 0..per_row / vectors {
        let mut acc = [[simd.splat_f32s(0.0); 2]; R];
        // Indexed by `kk < k`, not by iterators, so that no bounds check is
        // left in the loop.
        for kk in 0..k {
            let b = &panel[kk * per_row + group * vectors..][..vectors];
            for i in 0..R {
                let a = simd.splat_f32s(rows[i][kk]);
                for v in 0..vectors {
                    acc[i][v] = simd.mul_add_e_f32s(a, b[v], acc[i][v]);
                }
            }
        }
        let first = group * vectors * S::F32_LANES;
        for (i, acc) in acc.into_iter().enumerate() {
            let c = &mut c[i * n..][..width];
            // Vector by vector, with constant indices into `acc`: a slice of
            // it, or an index not known at compile time, keeps it in memory.
            for (v, acc) in acc.into_iter().enumerate().take(vectors) {
                let start = (first + v * S::F32_LANES).min(width);
                let c = &mut c[start..(start + S::F32_LANES).min(width)];
                let value = if accumulate {
                    simd.add_f32s(acc, simd.partial_load_f32s(c))
                } else {
                    acc
                };
                simd.partial_store_f32s(c, value);
            }
        }
    }
}
