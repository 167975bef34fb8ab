//! Gives the binary a RUNPATH to libtorch's lib folder, so that it runs without LD_LIBRARY_PATH.
//! torch-sys prints `cargo:libtorch_lib=<dir>`; as a direct dependent we receive it as
//! DEP_TCH_LIBTORCH_LIB.

fn main() {
    println!("cargo:rerun-if-env-changed=DEP_TCH_LIBTORCH_LIB");
    if let Ok(lib) = std::env::var("DEP_TCH_LIBTORCH_LIB") {
        println!("cargo:rustc-link-arg=-Wl,-rpath,{lib}");
        println!("cargo:rustc-env=ALEXNET_LIBTORCH_LIB={lib}");
    }
}
