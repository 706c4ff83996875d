//! Links the static musl builds with hot-text.ld (at the repository root, a
//! build input that scripts/make-hot-text.sh writes), which packs the code the
//! small applets run at the start of .text. Other targets link as usual.

fn main() {
    println!("cargo:rerun-if-changed=hot-text.ld");
    println!("cargo:rerun-if-changed=build.rs");
    let target_env = std::env::var("CARGO_CFG_TARGET_ENV").unwrap_or_default();
    let target_os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    if target_os == "linux" && target_env == "musl" {
        let dir = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
        println!("cargo:rustc-link-arg-bins=-T{dir}/hot-text.ld");
    }
}
