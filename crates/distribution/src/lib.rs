//! OCI distribution: the registry client and server.
