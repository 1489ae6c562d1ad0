//! Docker Engine API models, version negotiation, error bodies and the backend traits the daemon core implements.
