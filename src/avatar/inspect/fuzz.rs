//! Mutation fuzzing of the model validator: a damaged GLB is accepted or refused with a reason, never a panic.
#![allow(clippy::unwrap_used)]

use super::{Limits, inspect};
use crate::platform::mutate;

/// Found by `fuzz_glb`: valid to the gltf crate's validation, yet reading it panicked (a 500 on upload).
#[test]
fn a_model_the_reader_panics_on_is_refused() {
    let found = include_bytes!("../../../tests/fuzz/corpus/regressions/gltf-unchecked-invalid-item.glb");
    assert!(matches!(inspect(found, &Limits::none()), Err(super::Rejection::Invalid(_))));
}

#[test]
fn fuzz_glb() {
    let sample = include_bytes!("../../../assets/avatars/sample.glb").to_vec();
    let (mut accepted, mut refused) = (0, 0);
    for case in mutate::cases(11, &[sample]) {
        let outcome = std::panic::catch_unwind(|| inspect(&case, &Limits::none()));
        match outcome {
            Ok(Ok(_)) => accepted += 1,
            Ok(Err(_)) => refused += 1,
            Err(_) => {
                let saved = std::env::temp_dir().join("bwenge-fuzz-glb.bin");
                std::fs::write(&saved, &case).unwrap();
                panic!("the validator panicked on {}", saved.display());
            }
        }
    }
    assert!(refused > 0, "damaged models are refused");
    println!("glb: {accepted} accepted, {refused} refused");
}
