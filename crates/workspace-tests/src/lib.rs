//! Holds workspace-wide tests only (see tests/): nothing to link against.
