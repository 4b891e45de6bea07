//! The MPI calls of data-parallel training (feature `mpi`): OpenMPI through
//! the `mpi` crate (rsmpi).

use mpi::collective::SystemOperation;
use mpi::environment::Universe;
use mpi::topology::SimpleCommunicator;
use mpi::traits::{Communicator, CommunicatorCollectives, Root};

use crate::TrainError;

/// This process's place among the ranks of `MPI_COMM_WORLD`.
pub(crate) struct Mpi {
    world: SimpleCommunicator,
    /// Finalises MPI when dropped: it must outlive `world`.
    _universe: Universe,
}

impl Mpi {
    /// Initialises MPI and checks that `count` ranks were started.
    pub fn join(count: usize) -> Result<Mpi, TrainError> {
        let universe = mpi::initialize()
            .ok_or_else(|| TrainError::Workers("MPI was initialised before".into()))?;
        let world = universe.world();
        let size = world.size() as usize;
        if size != count {
            return Err(TrainError::Workers(format!(
                "--workers {count} but this process is one of {size} MPI ranks: start it as \
                 `mpirun -n {count} ...` (`cargo xtask train APP --workers {count}` does)"
            )));
        }
        Ok(Mpi {
            world,
            _universe: universe,
        })
    }

    /// This process's rank and the number of ranks.
    pub fn rank_and_size(&self) -> (usize, usize) {
        (self.world.rank() as usize, self.world.size() as usize)
    }

    /// Every rank's `values` summed, element by element, on every rank.
    pub fn sum(&self, values: &mut Vec<f32>) {
        let mut sum = vec![0.0f32; values.len()];
        self.world
            .all_reduce_into(&values[..], &mut sum[..], SystemOperation::sum());
        *values = sum;
    }

    /// Rank 0's `values` on every rank.
    pub fn broadcast(&self, values: &mut [f32]) {
        self.world.process_at_rank(0).broadcast_into(values);
    }
}

/// Refuses to train alone in a process that `mpirun` started as one of
/// several ranks: each would make its own run.
pub(crate) fn refuse_unasked_ranks() -> Result<(), TrainError> {
    let ranks = ["OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_SIZE"]
        .iter()
        .find_map(|name| std::env::var(name).ok()?.parse::<usize>().ok());
    match ranks {
        Some(n) if n > 1 => Err(TrainError::Workers(format!(
            "mpirun started {n} ranks but --workers is 1: pass --workers {n}"
        ))),
        _ => Ok(()),
    }
}
