//! Seccomp: compiling an OCI seccomp profile to BPF once (cached by hash), loading it, and Docker's default profile.
