//! Gives the binary a RUNPATH to libtorch's lib folder, so that it runs without LD_LIBRARY_PATH.
//! torch-sys prints `cargo:libtorch_lib=<dir>`; as a direct dependent we receive it as
//! DEP_TCH_LIBTORCH_LIB.

fn main() {
    println!("cargo:rerun-if-env-changed=DEP_TCH_LIBTORCH_LIB");
    // The torch environment's Python that scripts/setup.sh exported: the benchmark runs the PyTorch
    // reference with it, also when the binary is started outside `make`.
    println!("cargo:rerun-if-env-changed=ALEXNET_TORCH_PYTHON");
    if let Ok(python) = std::env::var("ALEXNET_TORCH_PYTHON") {
        println!("cargo:rustc-env=ALEXNET_BUILD_TORCH_PYTHON={python}");
    }
    if let Ok(lib) = std::env::var("DEP_TCH_LIBTORCH_LIB") {
        println!("cargo:rustc-link-arg=-Wl,-rpath,{lib}");
        println!("cargo:rustc-env=ALEXNET_LIBTORCH_LIB={lib}");
    }
}
