//! Capability sets: applying the five sets of a spec, and the defaults Docker grants.
