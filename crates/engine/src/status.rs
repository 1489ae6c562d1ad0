//! The container state machine: the states Docker shows and which operations each allows,
//! so every operation checks one place and reports a Conflict naming the state.

use serde::{Deserialize, Serialize};

/// A container's lifecycle state (Docker's `State.Status` words).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Created, never started (or start failed).
    #[default]
    Created,
    /// Its init runs under a shim.
    Running,
    /// Frozen.
    Paused,
    /// Waiting for its restart policy's back-off.
    Restarting,
    /// Being removed.
    Removing,
    /// Its init ended.
    Exited,
    /// Removal failed half-way.
    Dead,
}

impl Status {
    /// Docker's word for the state.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Created => "created",
            Status::Running => "running",
            Status::Paused => "paused",
            Status::Restarting => "restarting",
            Status::Removing => "removing",
            Status::Exited => "exited",
            Status::Dead => "dead",
        }
    }

    /// Whether a shim holds a live process (running or paused).
    pub fn is_live(self) -> bool {
        matches!(self, Status::Running | Status::Paused)
    }

    /// Whether `start` may run from this state.
    pub fn can_start(self) -> bool {
        matches!(self, Status::Created | Status::Exited | Status::Restarting)
    }

    /// Whether `exec`, `kill`, `top` and friends may run.
    pub fn can_signal(self) -> bool {
        self == Status::Running
    }

    /// Whether `pause` may run.
    pub fn can_pause(self) -> bool {
        self == Status::Running
    }

    /// Whether a non-forced `rm` may run.
    pub fn can_remove(self) -> bool {
        matches!(self, Status::Created | Status::Exited | Status::Dead)
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transitions_allowed_by_state() {
        assert!(Status::Created.can_start());
        assert!(Status::Exited.can_start());
        assert!(!Status::Running.can_start());
        assert!(!Status::Paused.can_start());
        assert!(Status::Running.can_pause());
        assert!(!Status::Paused.can_pause());
        assert!(!Status::Running.can_remove());
        assert!(!Status::Paused.can_remove());
        assert!(Status::Exited.can_remove());
        assert!(Status::Paused.is_live());
        assert_eq!(
            serde_json::to_string(&Status::Exited).unwrap_or_default(),
            "\"exited\""
        );
    }
}
