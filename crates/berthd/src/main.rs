//! berthd: the berth daemon serving the Docker Engine API on a unix socket.

fn main() {}
