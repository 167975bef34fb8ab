//! Gives the binary a RUNPATH to libtorch's lib folder, so that it runs without LD_LIBRARY_PATH.
//! torch-sys prints `cargo:libtorch_lib=<dir>`; as a direct dependent we receive it as
//! DEP_TCH_LIBTORCH_LIB.

fn main() {
    println!("cargo:rerun-if-env-changed=DEP_TCH_LIBTORCH_LIB");
    // The torch environment's Python (.cargo/config.toml points at the link scripts/setup.sh
    // makes): the benchmark runs the PyTorch reference with it, also when the binary is started
    // outside cargo.
    println!("cargo:rerun-if-env-changed=ALEXNET_TORCH_PYTHON");
    if let Ok(python) = std::env::var("ALEXNET_TORCH_PYTHON") {
        println!("cargo:rustc-env=ALEXNET_BUILD_TORCH_PYTHON={python}");
    }
    if let Ok(lib) = std::env::var("DEP_TCH_LIBTORCH_LIB") {
        // The link in .torch/ resolved: the binary keeps working if the clone moves.
        let lib = std::fs::canonicalize(&lib).map_or(lib, |p| p.display().to_string());
        println!("cargo:rustc-link-arg=-Wl,-rpath,{lib}");
        println!("cargo:rustc-env=ALEXNET_LIBTORCH_LIB={lib}");
    }
}
