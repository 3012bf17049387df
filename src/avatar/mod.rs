//! Avatars. Today only the seam chat uses to name the clip of each avatar cue ([`AvatarService::mapping`]); upload,
//! validation, signed assets and the mapping's editor arrive with the avatar issue and fill it in.

pub mod service;

pub use service::{AvatarService, CueMapping};

pub fn init() -> AvatarService {
    AvatarService
}
