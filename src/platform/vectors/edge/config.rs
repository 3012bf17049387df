//! How a shard is configured: our options and the engine configuration made from them.

use qdrant_edge::{
    Distance, EdgeConfig, EdgeOptimizersConfig, EdgeSparseVectorParams, EdgeVectorParams, HnswIndexConfig, Modifier,
    WalOptions,
};

use super::super::{DENSE, SPARSE};

#[derive(Debug, Clone)]
pub struct EdgeOptions {
    /// Flush after every upsert/delete. Without it, writes since the last flush are lost on a
    /// crash (the engine does not replay its WAL).
    pub flush_on_write: bool,
    /// Segment size (KB of vectors) above which `optimize()` builds HNSW; `None` keeps the
    /// engine default (10 000 KB, about 3 300 768-d vectors).
    pub indexing_threshold_kb: Option<usize>,
    /// Bytes per WAL file; `None` keeps the engine default (32 MiB). Tests use small ones.
    pub wal_segment_bytes: Option<usize>,
    /// Points written before the index is built in the background (see `indexer.rs`); `None`: only on
    /// `optimize()`.
    pub background_index_points: Option<usize>,
}

impl Default for EdgeOptions {
    fn default() -> Self {
        Self {
            flush_on_write: true,
            indexing_threshold_kb: None,
            wal_segment_bytes: None,
            background_index_points: Some(20_000),
        }
    }
}

pub(super) fn shard_config(dense_dim: usize, opts: &EdgeOptions) -> EdgeConfig {
    let builder = EdgeConfig::builder()
        .vector(DENSE, EdgeVectorParams::builder(dense_dim, Distance::Cosine).build())
        .sparse_vector(SPARSE, EdgeSparseVectorParams::builder().modifier(Modifier::Idf).build())
        .on_disk_payload(true)
        .hnsw_config(HnswIndexConfig {
            m: super::super::HNSW_M,
            payload_m: Some(super::super::HNSW_PAYLOAD_M),
            ..HnswIndexConfig::default()
        })
        .optimizers(EdgeOptimizersConfig {
            indexing_threshold: opts.indexing_threshold_kb,
            ..EdgeOptimizersConfig::default()
        });
    match opts.wal_segment_bytes {
        Some(segment_capacity) => builder.wal_options(WalOptions { segment_capacity, ..WalOptions::default() }),
        None => builder,
    }
    .build()
}
