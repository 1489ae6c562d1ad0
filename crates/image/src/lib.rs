//! berth's image store: content-addressed blobs, layered overlay snapshots, layer apply/diff, metadata, import/export.
//!
//! Everything goes through [`Store`]: open it on a data root, `load`/`save`/`import` images,
//! `apply_layer_stream` + `create_image` for pulls, `prepare_rootfs` for containers (it returns
//! a mount description; [`RootfsMount::mount`] performs it), `changes`/`commit` for their diffs.
//! The store is synchronous and `Send + Sync`: async callers use `spawn_blocking`.

#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod apply;
pub mod compression;
pub mod content;
mod db;
pub mod diff;
pub mod mount;
pub mod store;

pub use content::{BlobInfo, ContentError, ContentStore};
pub use diff::{Change, ChangeKind};
pub use mount::{OverlayMount, RootfsMount, unmount};
pub use store::{BlobSpec, DEFAULT_ROOT, LayerInfo, Lease, Store, StoreError, chain_id, chain_ids};
pub mod images;
pub use images::{
    DeleteItem, DeleteOptions, HistoryItem, Image, ImageSummary, ImageUser, ListFilter, PruneFilter,
};
pub mod rootfs;
pub use rootfs::CommitOptions;

/// The media type of the uncompressed layers berth writes (commit, import, save).
pub(crate) fn media_type_tar() -> &'static str {
    berth_oci::media_type::OCI_LAYER_TAR
}
pub mod archive;
mod layer_blobs;
mod load_stream;
mod tarsplit;
pub use archive::{ArchiveWriter, LoadedImage, SaveImage};
pub use layer_blobs::BlobReader;
#[cfg(feature = "testing")]
pub mod testing;
