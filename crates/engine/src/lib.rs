//! The daemon's core: containers, images and their lifecycles, persistent state, and the shims that run containers.
