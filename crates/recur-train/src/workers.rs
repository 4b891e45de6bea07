//! Data-parallel training: the processes (MPI ranks) that train one model
//! together, each on its shard of every batch.
//!
//! What is synchronised when:
//! - at the start, every rank takes rank 0's weights (one broadcast);
//! - every step, one all-reduce of one flat `f32` buffer: each rank's
//!   gradients weighted by the items its loss averaged, in the module's
//!   visiting order (parameter ids differ between processes), then the
//!   items, the weighted loss and rank 0's out-of-time flag; every rank then
//!   has the gradient of the whole batch's mean loss and takes the same
//!   optimizer step;
//! - after each epoch's validation, which rank 0 alone runs, one broadcast
//!   of whether to go on.
//!
//! Without the `mpi` feature only one worker exists, and nothing is copied.

use std::ops::Range;

use burn::module::{Module, ModuleMapper, ModuleVisitor, Param};
use burn::optim::GradientsParams;
use burn::tensor::{Device, Tensor, TensorData};

use crate::TrainError;

/// Which part of every batch one worker trains on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    /// This worker's rank, from 0.
    pub rank: usize,
    /// How many workers share each batch.
    pub count: usize,
}

impl Shard {
    /// The whole batch: one worker.
    pub const WHOLE: Shard = Shard { rank: 0, count: 1 };

    /// This worker's contiguous part of `len` rows: the rows split as evenly
    /// as they go, earlier ranks taking the smaller parts.
    ///
    /// ```
    /// use recur_train::Shard;
    /// let shards: Vec<_> = (0..3).map(|rank| Shard { rank, count: 3 }.range(10)).collect();
    /// assert_eq!(shards, [0..3, 3..6, 6..10]);
    /// assert_eq!(Shard::WHOLE.range(10), 0..10);
    /// ```
    pub fn range(&self, len: usize) -> Range<usize> {
        len * self.rank / self.count..len * (self.rank + 1) / self.count
    }
}

/// What one step's reduction gives every worker.
pub(crate) struct Reduced {
    /// The gradients of the whole batch's mean loss.
    pub grads: GradientsParams,
    /// The whole batch's mean loss.
    pub loss: f64,
    /// Whether rank 0 has spent the run's budget (every worker stops after
    /// this step).
    pub budget_spent: bool,
}

/// The workers of one training run; see the module docs.
pub(crate) struct Workers {
    #[cfg(feature = "mpi")]
    mpi: Option<crate::mpi::Mpi>,
    /// Bytes and seconds of the gradient all-reduces since the last
    /// [`Workers::take_traffic`].
    traffic: std::cell::Cell<(u64, f64)>,
}

impl Workers {
    /// Joins the `count` workers: with more than one, this process must be
    /// one of `count` MPI ranks (`mpirun -n <count>`).
    pub fn join(count: usize) -> Result<Workers, TrainError> {
        #[cfg(feature = "mpi")]
        {
            let mpi = if count > 1 {
                Some(crate::mpi::Mpi::join(count)?)
            } else {
                crate::mpi::refuse_unasked_ranks()?;
                None
            };
            Ok(Workers {
                mpi,
                traffic: Default::default(),
            })
        }
        #[cfg(not(feature = "mpi"))]
        {
            if count > 1 {
                return Err(TrainError::Workers(format!(
                    "--workers {count} needs recur-train's `mpi` feature (OpenMPI); this \
                     program was built without it"
                )));
            }
            Ok(Workers {
                traffic: Default::default(),
            })
        }
    }

    /// This process's part of every batch.
    pub fn shard(&self) -> Shard {
        #[cfg(feature = "mpi")]
        if let Some(mpi) = &self.mpi {
            let (rank, count) = mpi.rank_and_size();
            return Shard { rank, count };
        }
        Shard::WHOLE
    }

    /// Whether this process is rank 0, the one that validates and writes.
    pub fn is_leader(&self) -> bool {
        self.shard().rank == 0
    }

    /// Every worker's `model` becomes rank 0's.
    #[cfg_attr(not(feature = "mpi"), allow(clippy::unused_self))]
    pub fn share_weights<M: Module>(&self, model: M) -> M {
        #[cfg(feature = "mpi")]
        if let Some(mpi) = &self.mpi {
            let mut values = flatten_params(&model);
            mpi.broadcast(&mut values);
            return unflatten_params(model, &values);
        }
        model
    }

    /// The whole batch's gradients and mean loss from this worker's `grads`
    /// and `loss`, the mean over its `items`.
    #[cfg_attr(not(feature = "mpi"), allow(unused_variables))]
    pub fn reduce<M: Module>(
        &self,
        model: &M,
        grads: GradientsParams,
        loss: f64,
        items: f64,
        budget_spent: bool,
    ) -> Reduced {
        #[cfg(feature = "mpi")]
        if let Some(mpi) = &self.mpi {
            let (mut buffer, layout) = flatten_grads(model, &grads, items as f32);
            buffer.extend([items as f32, (loss * items) as f32, budget_spent.into()]);
            let started = std::time::Instant::now();
            mpi.sum(&mut buffer);
            let (bytes, seconds) = self.traffic.get();
            self.traffic.set((
                bytes + 4 * buffer.len() as u64,
                seconds + started.elapsed().as_secs_f64(),
            ));
            let flags = buffer.split_off(buffer.len() - 3);
            let total = flags[0];
            for value in &mut buffer {
                *value /= total;
            }
            return Reduced {
                grads: unflatten_grads(model, &buffer, &layout),
                loss: f64::from(flags[1] / total),
                budget_spent: flags[2] > 0.0,
            };
        }
        Reduced {
            grads,
            loss,
            budget_spent,
        }
    }

    /// Checks that every worker holds exactly rank 0's weights (one
    /// broadcast of them); an error names the step. A debugging aid for
    /// data-parallel runs, on when `RECUR_CHECK_WORKERS=1`.
    #[cfg_attr(not(feature = "mpi"), allow(unused_variables))]
    pub fn check_same_weights<M: Module>(&self, model: &M, step: u64) -> Result<(), TrainError> {
        #[cfg(feature = "mpi")]
        if let Some(mpi) = &self.mpi {
            let mine = flatten_params(model);
            let mut leaders = mine.clone();
            mpi.broadcast(&mut leaders);
            let same = mine
                .iter()
                .zip(&leaders)
                .all(|(a, b)| a.to_bits() == b.to_bits());
            if !same {
                return Err(TrainError::Workers(format!(
                    "rank {}'s weights differ from rank 0's after step {step}",
                    mpi.rank_and_size().0
                )));
            }
        }
        Ok(())
    }

    /// The bytes each worker sent to the gradient all-reduces, and the
    /// seconds it spent in them, since the last call.
    pub fn take_traffic(&self) -> (u64, f64) {
        self.traffic.take()
    }

    /// Rank 0's `flag` on every worker.
    pub fn agree(&self, flag: bool) -> bool {
        #[cfg(feature = "mpi")]
        if let Some(mpi) = &self.mpi {
            let mut value = [f32::from(flag)];
            mpi.broadcast(&mut value);
            return value[0] > 0.0;
        }
        flag
    }
}

/// Where each trainable parameter's gradient lies in a flat buffer.
#[cfg_attr(not(feature = "mpi"), allow(dead_code))]
pub(crate) struct Layout {
    /// The device of the gradients.
    device: Option<Device>,
}

/// Every trainable parameter's gradient times `weight`, in the module's
/// visiting order, as one buffer; a parameter without a gradient in `grads`
/// (unused by this shard) contributes zeros, so every worker's buffer has
/// the same layout.
#[cfg_attr(not(feature = "mpi"), allow(dead_code))]
pub(crate) fn flatten_grads<M: Module>(
    model: &M,
    grads: &GradientsParams,
    weight: f32,
) -> (Vec<f32>, Layout) {
    struct Flatten<'a> {
        grads: &'a GradientsParams,
        weight: f32,
        out: Vec<f32>,
        device: Option<Device>,
    }
    impl ModuleVisitor for Flatten<'_> {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            let tensor = param.val();
            if !tensor.is_require_grad() {
                return;
            }
            match self.grads.get::<D>(param.id) {
                Some(grad) => {
                    self.device.get_or_insert_with(|| grad.device());
                    let data = grad.into_data();
                    let values = data.as_slice::<f32>().unwrap_or_else(|e| {
                        panic!("gradients are f32 in Recur: {e:?}");
                    });
                    self.out.extend(values.iter().map(|v| v * self.weight));
                }
                None => {
                    let len = tensor.shape().num_elements();
                    self.out.extend(std::iter::repeat_n(0.0, len));
                }
            }
        }
    }
    let mut flatten = Flatten {
        grads,
        weight,
        out: Vec::new(),
        device: None,
    };
    model.visit(&mut flatten);
    (
        flatten.out,
        Layout {
            device: flatten.device,
        },
    )
}

/// The gradients of every trainable parameter, read from `values` as laid
/// out by [`flatten_grads`].
#[cfg_attr(not(feature = "mpi"), allow(dead_code))]
pub(crate) fn unflatten_grads<M: Module>(
    model: &M,
    values: &[f32],
    layout: &Layout,
) -> GradientsParams {
    struct Unflatten<'a> {
        values: &'a [f32],
        device: &'a Option<Device>,
        grads: GradientsParams,
    }
    impl ModuleVisitor for Unflatten<'_> {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            let tensor = param.val();
            if !tensor.is_require_grad() {
                return;
            }
            let shape = tensor.shape();
            let (head, rest) = self.values.split_at(shape.num_elements());
            self.values = rest;
            // The gradients live on the inner (autodiff-free) device.
            let device = self.device.clone().unwrap_or_else(|| tensor.device());
            let grad = Tensor::<D>::from_data(TensorData::new(head.to_vec(), shape), &device);
            self.grads.register(param.id, grad);
        }
    }
    let mut unflatten = Unflatten {
        values,
        device: &layout.device,
        grads: GradientsParams::new(),
    };
    model.visit(&mut unflatten);
    unflatten.grads
}

/// Draws every parameter's initial values now, in the module's visiting
/// order. burn draws a parameter's values lazily, when it is first used, so
/// the same seed would otherwise give one process's forward pass and a
/// broadcast (which reads every parameter in visiting order) different
/// weights.
pub(crate) fn initialize_params<M: Module>(model: &M) {
    struct Initialize;
    impl ModuleVisitor for Initialize {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            param.val();
        }
    }
    model.visit(&mut Initialize);
}

/// Every float parameter's values in the module's visiting order.
#[cfg_attr(not(feature = "mpi"), allow(dead_code))]
pub(crate) fn flatten_params<M: Module>(model: &M) -> Vec<f32> {
    struct Flatten(Vec<f32>);
    impl ModuleVisitor for Flatten {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            let data = param.val().into_data();
            let values = data.as_slice::<f32>().unwrap_or_else(|e| {
                panic!("parameters are f32 in Recur: {e:?}");
            });
            self.0.extend_from_slice(values);
        }
    }
    let mut flatten = Flatten(Vec::new());
    model.visit(&mut flatten);
    flatten.0
}

/// `model` with its float parameters read from `values`, laid out as by
/// [`flatten_params`]; each keeps its id, device and whether it is trained.
#[cfg_attr(not(feature = "mpi"), allow(dead_code))]
pub(crate) fn unflatten_params<M: Module>(model: M, values: &[f32]) -> M {
    struct Unflatten<'a>(&'a [f32]);
    impl ModuleMapper for Unflatten<'_> {
        fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
            param.map(|tensor| {
                let shape = tensor.shape();
                let (head, rest) = self.0.split_at(shape.num_elements());
                self.0 = rest;
                let trained = tensor.is_require_grad();
                let tensor =
                    Tensor::from_data(TensorData::new(head.to_vec(), shape), &tensor.device());
                tensor.set_require_grad(trained)
            })
        }
    }
    model.map(&mut Unflatten(values))
}
