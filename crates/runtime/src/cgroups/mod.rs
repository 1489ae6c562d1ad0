//! Control groups v1 and v2: creating a container's cgroup, applying limits, freezing, stats, OOM events, removal.
