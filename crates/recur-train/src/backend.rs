//! The one place a burn device is chosen from a name (`--backend`).

use burn::tensor::Device;

/// A burn backend Recur is built with; the value of every `--backend` flag.
/// `--backend wgpu` exists only in builds with recur-train's `wgpu` feature
/// (`cargo xtask` turns it on when a command asks for wgpu).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    /// burn-ndarray on the CPU (the default for tests).
    Ndarray,
    /// burn-flex, burn's pure-Rust CPU backend.
    Flex,
    /// burn-wgpu: the GPU through wgpu (on a machine without one, Mesa's
    /// software Vulkan driver runs it on the CPU).
    Wgpu,
}

impl Backend {
    /// Every backend this build has, in the order tests run them.
    #[cfg(feature = "wgpu")]
    pub const ALL: &[Backend] = &[Backend::Ndarray, Backend::Flex, Backend::Wgpu];
    /// Every backend this build has, in the order tests run them.
    #[cfg(not(feature = "wgpu"))]
    pub const ALL: &[Backend] = &[Backend::Ndarray, Backend::Flex];

    /// The backend's name as `--backend` spells it.
    pub fn name(self) -> &'static str {
        match self {
            Backend::Ndarray => "ndarray",
            Backend::Flex => "flex",
            Backend::Wgpu => "wgpu",
        }
    }

    /// The device for inference (no autodiff).
    pub fn device(self) -> Device {
        match self {
            #[allow(deprecated)]
            // burn-ndarray is deprecated upstream but still the reference CPU backend
            Backend::Ndarray => Device::ndarray(),
            Backend::Flex => Device::flex(),
            Backend::Wgpu => wgpu_device(),
        }
    }

    /// Makes this backend the one burn's `Device::default()` gives for the
    /// rest of the process (`BURN_DEVICE`). burn itself builds some tensors
    /// there, e.g. an optimizer's state when it loads it, and its default
    /// prefers wgpu: a CPU run would otherwise start the GPU stack (on a
    /// machine without a display it prints Vulkan loader errors) and move
    /// the state back.
    ///
    /// Call it while the process has one thread (at the start of `main`, as
    /// [`run_cli`](crate::run_cli) does): the environment is not
    /// synchronised with other threads' reads.
    #[allow(unsafe_code)]
    pub fn make_default(self) {
        // SAFETY: the caller runs this before any other thread exists, so
        // nothing reads the environment concurrently.
        unsafe { std::env::set_var("BURN_DEVICE", self.name()) }
    }

    /// The backends tests run on: the comma-separated names in the
    /// environment variable `RECUR_TEST_BACKENDS`, by default `ndarray,wgpu`
    /// (`ndarray` alone in a build without wgpu).
    ///
    /// # Panics
    ///
    /// On a name that is not a backend, so a typo cannot skip tests silently.
    pub fn for_tests() -> Vec<Backend> {
        let default = if cfg!(feature = "wgpu") {
            "ndarray,wgpu"
        } else {
            "ndarray"
        };
        let names = std::env::var("RECUR_TEST_BACKENDS").unwrap_or_else(|_| default.into());
        names
            .split(',')
            .map(|name| {
                name.trim()
                    .parse()
                    .unwrap_or_else(|e| panic!("RECUR_TEST_BACKENDS: {e}"))
            })
            .collect()
    }

    /// The device for training: [`Backend::device`] with autodiff.
    pub fn autodiff_device(self) -> Device {
        self.device().autodiff()
    }
}

impl std::fmt::Display for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Backend {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s == "wgpu" && !Backend::ALL.contains(&Backend::Wgpu) {
            return Err(NO_WGPU.into());
        }
        Backend::ALL
            .iter()
            .copied()
            .find(|b| b.name() == s)
            .ok_or_else(|| format!("unknown backend `{s}` (expected ndarray, flex or wgpu)"))
    }
}

/// Why `--backend wgpu` is refused by a build without it.
const NO_WGPU: &str = "this build has no wgpu: build the app with `--features wgpu` \
                       (`cargo xtask` does for `--backend wgpu`)";

#[cfg(feature = "wgpu")]
fn wgpu_device() -> Device {
    Device::wgpu(burn::tensor::DeviceKind::DefaultDevice)
}

#[cfg(not(feature = "wgpu"))]
fn wgpu_device() -> Device {
    unreachable!("{NO_WGPU}: `Backend::Wgpu` is never parsed in such a build")
}

/// `--backend`'s values: the backends this build has ([`Backend::ALL`]).
impl clap::ValueEnum for Backend {
    fn value_variants<'a>() -> &'a [Self] {
        Backend::ALL
    }

    fn to_possible_value(&self) -> Option<clap::builder::PossibleValue> {
        let help = match self {
            Backend::Ndarray => "burn-ndarray on the CPU",
            Backend::Flex => "burn-flex, burn's pure-Rust CPU backend",
            Backend::Wgpu => "the GPU through wgpu",
        };
        Some(clap::builder::PossibleValue::new(self.name()).help(help))
    }
}
