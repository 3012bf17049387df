pub mod chat;
pub mod embeddings;
pub mod transcription;
