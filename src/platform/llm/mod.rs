pub mod embeddings;
