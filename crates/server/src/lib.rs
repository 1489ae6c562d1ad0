//! The Engine API over HTTP: axum routes that parse requests, call the backend traits and encode Docker's replies.
