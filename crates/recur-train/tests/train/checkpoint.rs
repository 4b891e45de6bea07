//! Save, kill halfway, resume: the model weights and the optimizer state
//! come back exactly.

use burn::nn::{Linear, LinearConfig};
use burn::optim::{AdamConfig, GradientsParams, ModuleOptimizer};
use burn::tensor::{Device, Tensor, TensorData};
use recur_train::{Backend, Checkpointer, MODEL_FILE, RunDir, STATE_FILE, TrainingState};

use crate::common::{message, scratch};

fn weights(model: &Linear) -> Vec<f32> {
    let mut all = model.weight.val().into_data().try_to_vec::<f32>().unwrap();
    if let Some(bias) = &model.bias {
        all.extend(bias.val().into_data().try_to_vec::<f32>().unwrap());
    }
    all
}

/// One Adam step on a fixed batch (mean squared output).
fn step(model: Linear, optim: &mut ModuleOptimizer, device: &Device) -> Linear {
    let x = Tensor::<2>::from_data(
        TensorData::new(vec![0.5f32, -1.0, 2.0, 0.25, 1.5, -0.5], [2, 3]),
        device,
    );
    let loss = model.forward(x).powi_scalar(2).mean();
    let grads = GradientsParams::from_grads(loss.backward(), &model);
    optim.step(1e-2, model, grads)
}

fn fresh(device: &Device) -> (Linear, ModuleOptimizer) {
    (
        LinearConfig::new(3, 2).init(device),
        AdamConfig::new().init(),
    )
}

#[test]
fn save_kill_resume() {
    let device = Backend::Ndarray.autodiff_device();
    let root = scratch("ckpt-resume");
    let run = RunDir::create(&root, "tiny").unwrap();
    run.write_config(&serde_json::json!({"lr": 0.01})).unwrap();
    let ckpt = Checkpointer::new(run.checkpoints(), 2).unwrap();
    assert!(ckpt.latest().unwrap().is_none());

    let (mut model, mut optim) = fresh(&device);
    for s in 1..=3u64 {
        model = step(model, &mut optim, &device);
        let mut state = TrainingState::new(1, s);
        state.best_valid = Some(1.0 / s as f64);
        state.extra = serde_json::json!({"lr": 0.01, "batch": s * 32});
        ckpt.save(&model, Some(&optim), &state).unwrap();
    }
    let saved = weights(&model);
    // keep = 2: step 1 is gone
    let steps: Vec<u64> = ckpt.list().unwrap().iter().map(|c| c.step).collect();
    assert_eq!(steps, [2, 3]);

    // the uninterrupted run takes one more step
    let expected = weights(&step(model, &mut optim, &device));

    // killed while saving step 4: a temporary folder with only some files,
    // and a step-folder without its state (never produced by save, but a
    // half copy must not count either)
    let half = ckpt.dir().join(".tmp-step-000000000004-999");
    std::fs::create_dir_all(&half).unwrap();
    std::fs::write(half.join(MODEL_FILE), b"half").unwrap();
    let broken = ckpt.dir().join("step-000000000005");
    std::fs::create_dir_all(&broken).unwrap();
    std::fs::write(broken.join(MODEL_FILE), b"half").unwrap();

    // resume in a "new process"
    let run = RunDir::open(run.path(), "tiny").unwrap();
    let ckpt = Checkpointer::new(run.checkpoints(), 2).unwrap();
    assert!(!half.exists(), "leftover temporary folder removed");
    let latest = ckpt.latest().unwrap().unwrap();
    assert_eq!(latest.step, 3);
    assert!(latest.path.join(STATE_FILE).is_file());

    let (model, optim) = fresh(&device);
    assert_ne!(weights(&model), saved);
    let (model, optim, state) = ckpt.load(&latest, model, Some(optim)).unwrap();
    assert_eq!(weights(&model), saved, "weights identical after load");
    assert_eq!(state.epoch, 1);
    assert_eq!(state.step, 3);
    assert_eq!(state.best_valid, Some(1.0 / 3.0));
    assert_eq!(state.extra["batch"], 96);

    // the optimizer state came back too: the next step matches the
    // uninterrupted run
    let mut optim = optim.unwrap();
    let resumed = weights(&step(model, &mut optim, &device));
    assert_eq!(resumed, expected);
}

#[test]
fn model_only_and_errors() {
    let device = Backend::Ndarray.device();
    let dir = scratch("ckpt-model-only");
    let ckpt = Checkpointer::new(dir.join("checkpoints"), 1).unwrap();
    let model: Linear = LinearConfig::new(4, 3).init(&device);
    let saved = ckpt.save(&model, None, &TrainingState::new(0, 7)).unwrap();
    // saving the same step again replaces it
    let again = ckpt.save(&model, None, &TrainingState::new(0, 7)).unwrap();
    assert_eq!(saved, again);
    let (loaded, optim, state) = ckpt
        .load(&saved, LinearConfig::new(4, 3).init(&device), None)
        .unwrap();
    assert_eq!(weights(&loaded), weights(&model));
    assert!(optim.is_none());
    assert_eq!(state, TrainingState::new(0, 7));

    // an optimizer asked for but never saved
    let err = message(ckpt.load(&saved, model.clone(), Some(AdamConfig::new().init())));
    assert!(
        err.contains("step-000000000007") && err.contains("missing optimizer.bpk"),
        "{err}"
    );

    // a corrupt model file names the file
    std::fs::write(saved.model_file(), b"not a burnpack").unwrap();
    let err = message(ckpt.load(&saved, model.clone(), None));
    assert!(err.contains("model.bpk"), "{err}");

    // a corrupt state file names the file
    std::fs::write(saved.state_file(), b"{").unwrap();
    let err = message(ckpt.load(&saved, model, None));
    assert!(err.contains("state.json"), "{err}");
}
