//! A Docker Engine API client over the unix socket, used by the berth CLI.
