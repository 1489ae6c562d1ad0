//! berth's image store: content-addressed blobs, layered overlay snapshots, layer apply/diff, metadata, import/export.
