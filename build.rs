//! The web app in `static/` is embedded by `rust-embed`, which reads each file it finds when the crate compiles.
//! Cargo tracks those files but not the folder's listing: this makes a new, renamed or removed file rebuild the
//! crate too.
fn main() {
    println!("cargo:rerun-if-changed=static");
}
