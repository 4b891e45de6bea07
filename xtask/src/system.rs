//! The system libraries Recur needs beside Rust: installed when we can (root
//! on Debian/Ubuntu), otherwise named with the command that installs them.

use std::path::Path;
use std::process::Command;

use crate::util::exec;

/// A library from the system's package manager.
pub struct Package {
    /// The Debian package that provides it.
    debian: &'static str,
    /// What needs it, for the error when it is missing.
    needed_for: &'static str,
    /// Whether it is installed.
    present: fn() -> bool,
}

/// OpenBLAS, linked by every build (recur-cells' default `openblas` feature).
pub const OPENBLAS: Package = Package {
    debian: "libopenblas-dev",
    needed_for: "building Recur (matrix products on the CPU)",
    present: || {
        let dirs = [
            "/usr/lib/x86_64-linux-gnu",
            "/usr/lib/aarch64-linux-gnu",
            "/usr/lib64",
            "/usr/lib",
            "/usr/local/lib",
        ];
        dirs.iter()
            .any(|dir| Path::new(dir).join("libopenblas.so").exists())
    },
};

/// OpenMPI, linked by the apps (recur-train's `mpi` feature: data-parallel
/// training with `--workers N`), with its `mpirun`.
pub const OPENMPI: Package = Package {
    debian: "libopenmpi-dev openmpi-bin",
    needed_for: "building the apps (MPI for --workers)",
    present: || {
        Path::new("/usr/bin/mpirun").exists()
            && [
                "/usr/lib/x86_64-linux-gnu",
                "/usr/lib/aarch64-linux-gnu",
                "/usr/lib64",
                "/usr/lib",
            ]
            .iter()
            .any(|dir| Path::new(dir).join("libmpi.so").exists())
    },
};

/// libclang, with which the `mpi` crate's build generates its bindings.
pub const LIBCLANG: Package = Package {
    debian: "libclang-dev",
    needed_for: "building the MPI bindings (bindgen)",
    present: || {
        // libclang-dev's unversioned library, beside LLVM's own headers.
        std::fs::read_dir("/usr/lib").is_ok_and(|entries| {
            entries.filter_map(Result::ok).any(|entry| {
                entry.file_name().to_string_lossy().starts_with("llvm-")
                    && entry.path().join("lib/libclang.so").exists()
            })
        })
    },
};

/// Everything a build of the apps links or runs at build time.
pub const FOR_APPS: [Package; 3] = [OPENBLAS, OPENMPI, LIBCLANG];

/// A Vulkan driver for the wgpu tests; on a machine without a GPU, Mesa's
/// software rasteriser (lavapipe).
pub const VULKAN_DRIVER: Package = Package {
    debian: "mesa-vulkan-drivers",
    needed_for: "the wgpu tests (a Vulkan driver)",
    present: || {
        ["/usr/share/vulkan/icd.d", "/etc/vulkan/icd.d"]
            .iter()
            .any(|dir| std::fs::read_dir(dir).is_ok_and(|mut entries| entries.next().is_some()))
    },
};

/// Installs whichever of `packages` are missing, or says how to.
pub fn ensure(packages: &[Package]) -> Result<(), String> {
    let missing: Vec<&Package> = packages.iter().filter(|p| !(p.present)()).collect();
    if missing.is_empty() {
        return Ok(());
    }
    let names: Vec<&str> = missing
        .iter()
        .flat_map(|p| p.debian.split_whitespace())
        .collect();
    let is_root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout == b"0\n");
    if !(is_root && Path::new("/usr/bin/apt-get").exists()) {
        let needs: Vec<&str> = missing.iter().map(|p| p.needed_for).collect();
        return Err(format!(
            "missing system libraries for {}: install them (Debian/Ubuntu: \
             `apt-get install {}`) and run again",
            needs.join(" and "),
            names.join(" ")
        ));
    }
    exec(Command::new("apt-get").args(["update", "-qq"]))?;
    exec(
        Command::new("apt-get")
            .args(["install", "-y", "-qq"])
            .args(&names)
            .env("DEBIAN_FRONTEND", "noninteractive"),
    )
}
